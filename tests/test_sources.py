"""Template sources and releases on small templates built in the test: what ``goldpath
new`` renders and records, and where ``goldpath check`` places a recorded version."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from goldpath.commands.check import standing
from goldpath.commands.new import create_project
from goldpath.errors import UserError
from goldpath.project import GeneratedRepo
from goldpath.release import (
    NotAReleaseError,
    ReleaseTags,
    canonical_template,
    is_release_tag,
    release_tag_of,
)
from goldpath.settings import CANONICAL_TEMPLATE, TEMPLATE_ENV
from tests.helpers import answers_of, commit_all, git

TEMPLATE_FILES = {
    "copier.yml": "_subdirectory: template\nname:\n  type: str\n  default: demo\n",
    "template/README.md.jinja": "# {{ name }}\n",
    "template/{{_copier_conf.answers_file}}.jinja": "{{ _copier_answers|to_nice_yaml -}}\n",
}


def build_template(root: Path, *, tags: tuple[str, ...] = (), annotated: bool = False) -> Path:
    """A two-file copier template in a git repository, its one commit tagged ``tags``."""
    for name, text in TEMPLATE_FILES.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    git(root, "init", "--quiet", "--initial-branch=main")
    commit_all(root, "template")
    for tag in tags:
        git(root, "tag", *(["-a", "-m", tag] if annotated else []), tag)
    return root


@pytest.fixture(autouse=True)
def _no_canonical_override(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(TEMPLATE_ENV, raising=False)
    monkeypatch.delenv("GOLDPATH_PRESET", raising=False)


@pytest.mark.parametrize(
    ("ref", "release"),
    [
        ("v1.2.0", True),
        ("1.2.0", True),
        ("v1.2.0rc1", True),
        ("v1.2.0-3-gabc1234", False),
        ("v1.2.0.post1", False),
        ("v1.2.0.dev4", False),
        ("abc1234", False),
        ("1234567", False),
        ("main", False),
        (None, False),
    ],
)
def test_only_release_tags_are_releases(ref: str | None, release: bool) -> None:
    assert is_release_tag(ref) is release


def test_a_build_knows_its_release_tag() -> None:
    assert release_tag_of("1.4.0") == "v1.4.0"
    assert release_tag_of("1.4.0rc1") == "v1.4.0rc1"
    assert release_tag_of("1.4.1.dev3+g41a311c") is None
    assert release_tag_of("0.0.0+g41a311c") is None


def test_tags_are_read_with_annotated_tags_peeled(tmp_path: Path) -> None:
    repo = build_template(tmp_path / "t", tags=("v1.0.0", "v1.1.0rc1"), annotated=True)
    git(repo, "tag", "v0.9.0")
    tags = ReleaseTags.read(str(repo))
    head = git(repo, "rev-parse", "HEAD").strip()
    assert tags.commits["v1.0.0"] == head, "the tag object is peeled to its commit"
    assert tags.latest() == "v1.0.0"
    assert tags.latest(include_prereleases=True) == "v1.1.0rc1"
    assert tags.tag_at(head[:9]) == "v1.1.0rc1"


def _tags(**commits: str) -> ReleaseTags:
    return ReleaseTags(source="t", commits={k.replace("_", "."): v for k, v in commits.items()})


@pytest.mark.parametrize(
    ("current", "status"),
    [
        ("v1.1.0", "current"),
        ("v1.0.0", "behind"),
        ("v1.0.0-4-gaaaa111", "behind"),  # after v1.0.0, and v1.1.0 is newer
        ("v1.1.0-2-gbbbb222", "current"),  # after the newest release
        ("cccc333", "behind"),  # a commit that v1.0.0 points at
        ("dddd444", "unknown"),  # a commit that no release names
        ("main", "unknown"),
    ],
)
def test_check_places_a_recorded_version_or_says_it_cannot(current: str, status: str) -> None:
    tags = _tags(v1_0_0="cccc333" + "0" * 33, v1_1_0="eeee555" + "0" * 33)
    assert standing(current, tags).status == status


def test_no_release_tags_is_unknown_never_current() -> None:
    found = standing("abc1234", ReleaseTags(source="t", commits={"nightly": "a" * 40}))
    assert found.status == "unknown"
    assert "has no release tags" in found.reason


def test_an_explicit_release_is_recorded_as_given(tmp_path: Path) -> None:
    template = build_template(tmp_path / "t", tags=("v1.0.0",))
    result = create_project(dest=tmp_path / "p", template=str(template), defaults=True, lock=False)
    assert answers_of(result.path)["_commit"] == "v1.0.0"
    assert answers_of(result.path)["_src_path"] == str(template)


def test_an_untagged_template_is_refused_and_nothing_is_written(tmp_path: Path) -> None:
    template = build_template(tmp_path / "t")
    with pytest.raises(NotAReleaseError, match="has no release tags; pass --unreleased"):
        create_project(dest=tmp_path / "p", template=str(template), defaults=True, lock=False)
    assert not (tmp_path / "p").exists()


def test_a_ref_that_is_not_a_release_is_refused(tmp_path: Path) -> None:
    template = build_template(tmp_path / "t", tags=("v1.0.0",))
    (template / "NOTES.md").write_text("later\n")
    commit_all(template, "after the release")
    with pytest.raises(NotAReleaseError, match=r"main of template .* is not a release tag"):
        create_project(dest=tmp_path / "p", template=str(template), vcs_ref="main",
                       defaults=True, lock=False)  # fmt: skip
    tagged = git(template, "rev-parse", "v1.0.0").strip()
    result = create_project(dest=tmp_path / "p", template=str(template), vcs_ref=tagged,
                            defaults=True, lock=False)  # fmt: skip
    assert answers_of(result.path)["_commit"] == "v1.0.0", "a tagged commit is that release"


def test_unreleased_renders_with_a_warning_that_says_what_breaks(tmp_path: Path) -> None:
    template = build_template(tmp_path / "t")
    with pytest.warns(UserWarning, match="'goldpath check' cannot place the new repository"):
        result = create_project(dest=tmp_path / "p", template=str(template), defaults=True,
                                lock=False, unreleased=True)  # fmt: skip
    assert (result.path / "README.md").read_text() == "# demo\n"


def test_a_template_without_git_history_is_not_a_release(tmp_path: Path) -> None:
    template = tmp_path / "plain"
    for name, text in TEMPLATE_FILES.items():
        (template / name).parent.mkdir(parents=True, exist_ok=True)
        (template / name).write_text(text)
    with pytest.raises(NotAReleaseError, match="is not a git repository, so it has no releases"):
        create_project(dest=tmp_path / "p", template=str(template), defaults=True, lock=False)


def test_the_preset_names_the_canonical_source_and_the_environment_wins(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    ours = build_template(tmp_path / "org", tags=("v2.0.0",))
    preset = tmp_path / "preset.yml"
    preset.write_text(yaml.safe_dump({"template": str(ours)}))
    result = create_project(dest=tmp_path / "p", preset=preset, defaults=True, lock=False)
    assert answers_of(result.path)["_src_path"] == str(ours)
    assert answers_of(result.path)["_commit"] == "v2.0.0"

    assert canonical_template(preset_template=str(ours)) == str(ours)
    monkeypatch.setenv(TEMPLATE_ENV, "https://git.example.com/platform/goldpath.git")
    assert canonical_template(preset_template=str(ours)) == (
        "https://git.example.com/platform/goldpath.git"
    )
    monkeypatch.delenv(TEMPLATE_ENV)
    assert canonical_template() == CANONICAL_TEMPLATE


def test_the_checkout_is_rendered_and_the_canonical_source_recorded(tmp_path: Path) -> None:
    with pytest.warns(UserWarning, match="is not a release"):
        result = create_project(dest=tmp_path / "p", defaults=True, lock=False, unreleased=True)
    answers = answers_of(result.path)
    assert answers["_src_path"] == CANONICAL_TEMPLATE
    from tests.helpers import REPO_ROOT

    assert answers["_commit"] == git(REPO_ROOT, "rev-parse", "HEAD").strip()
    assert answers["project_slug"] == "my-genai-service"


def test_answers_from_an_installed_copy_without_a_release_say_how_to_fix_them(
    tmp_path: Path,
) -> None:
    project = tmp_path / "p"
    project.mkdir()
    (project / ".git").mkdir()
    answers = {"_src_path": "/venv/lib/python3.12/site-packages/goldpath/_template"}
    (project / ".copier-answers.yml").write_text(yaml.safe_dump(answers))
    with pytest.raises(UserError, match=f"set _src_path to {CANONICAL_TEMPLATE} and _commit"):
        GeneratedRepo.open(project)


def test_update_treats_the_presets_template_as_canonical_as_new_does(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A fork named only in the organization's preset gets its updates from its own release."""
    from goldpath.commands.update import _is_canonical

    fork = "https://git.example.com/platform/goldpath.git"
    assert not _is_canonical(fork)
    preset = tmp_path / "preset.yml"
    preset.write_text(yaml.safe_dump({"template": fork}))
    monkeypatch.setenv("GOLDPATH_PRESET", str(preset))
    assert _is_canonical(fork)
    assert _is_canonical(CANONICAL_TEMPLATE)
    assert not _is_canonical("https://git.example.com/other/template.git")
