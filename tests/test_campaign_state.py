"""The campaign state file: written atomically, read back exactly, refused when broken."""

from __future__ import annotations

from pathlib import Path

import pytest

from goldpath.campaign import GREEN, STATUSES, Campaign, RepoState
from goldpath.errors import UserError


def _campaign() -> Campaign:
    repos = [
        RepoState(name="team-a/one", path="/srv/one", wave=0, status="pr-open", gate=GREEN,
                  from_version="v1.0.0", branch="goldpath/update-v1.1.0",
                  pull_request="https://github.example/o/one/pull/7", checks="passed"),
        RepoState(name="team-b/two", path="/srv/two", status="failed", reason="git push failed"),
    ]  # fmt: skip
    return Campaign(to="v1.1.0", host="gitlab", auto_merge=True, repositories=repos)


def test_the_state_file_round_trips_and_reads_as_yaml(tmp_path: Path) -> None:
    path = tmp_path / "state" / "campaign.yml"
    campaign = _campaign()
    campaign.save(path)
    text = path.read_text()
    assert text.startswith("# goldpath fleet campaign")
    assert "reason: git push failed" in text
    assert "checks: null" not in text, "empty fields are left out for a human reader"
    assert Campaign.load(path) == campaign
    assert [p.name for p in path.parent.iterdir()] == ["campaign.yml"], "no temporary left"


def test_counts_list_every_status() -> None:
    counts = _campaign().counts()
    assert list(counts) == list(STATUSES)
    assert counts["pr-open"] == 1
    assert counts["failed"] == 1
    assert sum(counts.values()) == 2


def test_mark_sets_status_reason_and_time() -> None:
    repo = RepoState(name="x", path="/x")
    repo.mark("skipped", "uncommitted changes")
    assert (repo.status, repo.reason) == ("skipped", "uncommitted changes")
    assert repo.updated_at is not None
    assert repo.updated_at.endswith("Z")


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("repositories: []\n", "is not a goldpath campaign"),
        ("to: v1.0.0\nrepositories:\n  - name: x\n", "needs a name and a path"),
        ("to: v1.0.0\nrepositories:\n  - {name: x, path: /x, status: done}\n", "unknown status"),
        ("to: [\n", "is not valid YAML"),
    ],
)
def test_a_broken_state_file_is_one_clear_error(tmp_path: Path, text: str, message: str) -> None:
    path = tmp_path / "campaign.yml"
    path.write_text(text)
    with pytest.raises(UserError, match=message):
        Campaign.load(path)


def test_a_missing_state_file_says_so(tmp_path: Path) -> None:
    with pytest.raises(UserError, match="cannot read campaign"):
        Campaign.load(tmp_path / "nope.yml")


def test_run_and_status_find_the_one_state_file_here(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from goldpath.commands.campaign import find_state

    monkeypatch.chdir(tmp_path)
    with pytest.raises(UserError, match=r"name the campaign with --state FILE \(here: none\)"):
        find_state(None)
    _campaign().save(tmp_path / "goldpath-campaign-v1.1.0.yml")
    assert find_state(None) == tmp_path / "goldpath-campaign-v1.1.0.yml"
    _campaign().save(tmp_path / "goldpath-campaign-v1.2.0.yml")
    with pytest.raises(UserError, match=r"v1\.1\.0\.yml, goldpath-campaign-v1\.2"):
        find_state(None)
    assert find_state(tmp_path / "x.yml") == tmp_path / "x.yml"
