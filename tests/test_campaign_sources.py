"""A campaign's repositories from roots, a list file, or a Backstage catalog of clones."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from goldpath.campaign_sources import (
    SOURCE_LOCATION,
    SourceRepo,
    catalog_entries,
    clone_url,
    collect,
    from_catalog,
    from_list,
    from_roots,
)
from goldpath.errors import CampaignSourceError, UserError
from goldpath.settings import ANSWERS_FILE, MANAGED_ANNOTATION
from tests.helpers import build_file_tree, commit_all, git

ANSWERS = "_commit: v1.0.0\n_src_path: https://git.example.com/platform/goldpath.git\n"


def _generated(path: Path, readme: str = "# service\n") -> Path:
    """A small git repository that looks generated: an answers file and a README."""
    build_file_tree(path, {ANSWERS_FILE: ANSWERS, "README.md": readme})
    git(path, "init", "--quiet", "--initial-branch=main")
    commit_all(path, "generated")
    return path


def _bare(work: Path, name: str) -> tuple[Path, str]:
    """A bare repository (the remote) cloned from a small generated one; and its URL."""
    _generated(work / "src" / name, f"# {name}\n")
    bare = work / "remotes" / f"{name}.git"
    git(work, "clone", "--quiet", "--bare", str(work / "src" / name), str(bare))
    return bare, bare.as_uri()


def _component(name: str, *, location: str | None, managed: Any = "true") -> dict[str, Any]:
    annotations: dict[str, Any] = {}
    if managed is not None:
        annotations[MANAGED_ANNOTATION] = managed
    if location is not None:
        annotations[SOURCE_LOCATION] = location
    return {
        "apiVersion": "backstage.io/v1alpha1",
        "kind": "Component",
        "metadata": {"name": name, "annotations": annotations},
        "spec": {"type": "service", "lifecycle": "experimental", "owner": "team"},
    }


def _write_catalog(path: Path, entities: list[dict[str, Any]]) -> Path:
    path.write_text(yaml.safe_dump_all(entities, sort_keys=False), encoding="utf-8")
    return path


def test_roots_find_generated_clones_named_from_the_common_directory(tmp_path: Path) -> None:
    services = tmp_path / "services"
    _generated(services / "team-a" / "chat")
    _generated(services / "team-b" / "search")
    (services / "team-b" / "notes").mkdir()  # not generated: not part of a campaign
    other = _generated(tmp_path / "elsewhere" / "summarize")

    one_root = from_roots([services])
    assert one_root.repositories == [
        SourceRepo("team-a/chat", services / "team-a" / "chat"),
        SourceRepo("team-b/search", services / "team-b" / "search"),
    ]
    assert one_root.failures == []

    two_roots = from_roots([services, tmp_path / "elsewhere"])
    names = [repo.name for repo in two_roots.repositories]
    assert names == ["elsewhere/summarize", "services/team-a/chat", "services/team-b/search"]
    # A root that is itself the repository is named by its directory, never ".".
    assert [r.name for r in from_roots([other]).repositories] == ["summarize"]


def test_list_file_paths_relative_to_the_file_comments_and_a_missing_entry(
    tmp_path: Path,
) -> None:
    chat = _generated(tmp_path / "clones" / "chat")
    search = _generated(tmp_path / "clones" / "search")
    listing = tmp_path / "lists" / "campaign.txt"
    listing.parent.mkdir()
    listing.write_text(
        "# the services of the first rollout\n"
        "\n"
        "../clones/chat   # canary\n"
        f"   {search}\n"
        "../clones/chat\n"  # listed twice: once in the campaign
        "../clones/gone\n",
        encoding="utf-8",
    )

    sources = from_list(listing)
    assert sources.repositories == [SourceRepo("chat", chat), SourceRepo("search", search)]
    assert [(f.name, f.path) for f in sources.failures] == [("gone", tmp_path / "clones" / "gone")]
    assert "is not a directory" in sources.failures[0].message


def test_an_unreadable_list_file_is_one_error_naming_it(tmp_path: Path) -> None:
    missing = tmp_path / "nope.txt"
    with pytest.raises(CampaignSourceError) as caught:
        from_list(missing)
    assert caught.value.path == missing
    assert str(missing) in caught.value.message
    assert "\n" not in caught.value.message


def test_catalog_clones_managed_components_and_reports_a_broken_url_alone(
    tmp_path: Path,
) -> None:
    _, chat_url = _bare(tmp_path, "chat")
    _, search_url = _bare(tmp_path, "search")
    workdir = tmp_path / "work"
    catalog = _write_catalog(
        tmp_path / "catalog.yaml",
        [
            _component("chat", location=f"url:{chat_url}/tree/main/"),
            _component("search", location=f"url:{search_url}/-/tree/main/docs"),
            _component("broken", location=f"url:{(tmp_path / 'remotes' / 'nope.git').as_uri()}"),
            _component("no-location", location=None),
            _component("hand-made", location=f"url:{chat_url}", managed=None),
            _component("unmanaged", location=f"url:{chat_url}", managed="false"),
            {**_component("the-api", location=f"url:{chat_url}"), "kind": "API"},
        ],
    )

    sources = from_catalog(catalog, workdir=workdir, jobs=2)

    assert sources.repositories == [
        SourceRepo("chat", workdir / "chat"),
        SourceRepo("search", workdir / "search"),
    ]
    assert (workdir / "chat" / "README.md").read_text() == "# chat\n"
    assert (workdir / "search" / "README.md").read_text() == "# search\n"
    failures = {f.name: f for f in sources.failures}
    assert set(failures) == {"broken", "no-location"}
    assert "git clone" in failures["broken"].message
    assert failures["broken"].path == workdir / "broken"
    assert not (workdir / "broken").exists()
    assert SOURCE_LOCATION in failures["no-location"].message
    assert sorted(p.name for p in workdir.iterdir()) == ["chat", "search"]


def test_catalog_fetches_an_existing_clone_and_leaves_a_stranger_alone(tmp_path: Path) -> None:
    bare, url = _bare(tmp_path, "chat")
    _, other_url = _bare(tmp_path, "other")
    workdir = tmp_path / "work"
    catalog = _write_catalog(tmp_path / "catalog.yaml", [_component("chat", location=f"url:{url}")])
    assert from_catalog(catalog, workdir=workdir).failures == []

    # The team pushes a commit; the next campaign start sees it without a new clone.
    pusher = tmp_path / "pusher"
    git(tmp_path, "clone", "--quiet", url, str(pusher))
    (pusher / "README.md").write_text("# chat, newer\n")
    commit_all(pusher, "newer")
    git(pusher, "push", "--quiet", "origin", "main")
    marker = workdir / "chat" / ".git" / "goldpath-test-marker"
    marker.write_text("same clone\n")

    again = from_catalog(catalog, workdir=workdir)
    assert again.repositories == [SourceRepo("chat", workdir / "chat")]
    assert again.failures == []
    assert marker.exists(), "the clone was fetched, not replaced"
    assert (workdir / "chat" / "README.md").read_text() == "# chat, newer\n"
    assert git(workdir / "chat", "rev-parse", "HEAD") == git(bare, "rev-parse", "main")

    # The same name pointing elsewhere: the clone there is not touched.
    elsewhere = _write_catalog(
        tmp_path / "elsewhere.yaml", [_component("chat", location=f"url:{other_url}")]
    )
    moved = from_catalog(elsewhere, workdir=workdir)
    assert moved.repositories == []
    assert [f.name for f in moved.failures] == ["chat"]
    assert "is a clone of" in moved.failures[0].message
    assert (workdir / "chat" / "README.md").read_text() == "# chat, newer\n"


def test_catalog_entries_take_only_managed_components_with_safe_names(tmp_path: Path) -> None:
    catalog = _write_catalog(
        tmp_path / "catalog.yaml",
        [
            _component("chat", location="url:https://github.com/org/chat/tree/main/"),
            _component("yaml-bool", location="url:https://github.com/org/b", managed=True),
            _component("../escape", location="url:https://github.com/org/escape"),
            _component("chat", location="url:https://github.com/org/chat-again"),
            {**_component("lowercase-kind", location="url:https://x.test/r"), "kind": "component"},
        ],
    )
    entries = {(e.name, e.url) for e in catalog_entries(catalog)}
    assert entries == {
        ("chat", "https://github.com/org/chat"),
        ("yaml-bool", "https://github.com/org/b"),
        ("../escape", None),
        ("chat", None),
        ("lowercase-kind", "https://x.test/r"),
    }


@pytest.mark.parametrize(
    ("location", "url"),
    [
        ("url:https://github.com/org/chat", "https://github.com/org/chat"),
        ("url:https://github.com/org/chat/", "https://github.com/org/chat"),
        ("url:https://github.com/org/chat/tree/main/", "https://github.com/org/chat"),
        ("url:https://github.com/org/chat/tree/main/svc/", "https://github.com/org/chat"),
        ("url:https://gitlab.com/g/sub/chat/-/tree/main/", "https://gitlab.com/g/sub/chat"),
        ("url:https://git.example.com/org/chat.git", "https://git.example.com/org/chat.git"),
        ("url:file:///srv/git/chat.git", "file:///srv/git/chat.git"),
        ("file:./catalog-info.yaml", None),
        ("https://github.com/org/chat", None),
        ("url:", None),
    ],
)
def test_clone_url_strips_the_tree_part(location: str, url: str | None) -> None:
    assert clone_url(location) == url


def test_a_catalog_that_is_not_yaml_is_one_error(tmp_path: Path) -> None:
    catalog = tmp_path / "catalog.yaml"
    catalog.write_text("kind: [Component\n", encoding="utf-8")
    with pytest.raises(CampaignSourceError, match="not valid YAML"):
        catalog_entries(catalog)


def test_broken_clone_messages_show_no_credentials(tmp_path: Path) -> None:
    missing = tmp_path / "remotes" / "nope.git"
    url = "file://" + "user:s3cret@" + str(missing).lstrip("/")  # file://user:s3cret@tmp/...
    catalog = _write_catalog(tmp_path / "c.yaml", [_component("svc", location=f"url:{url}")])
    sources = from_catalog(catalog, workdir=tmp_path / "work")
    assert [f.name for f in sources.failures] == ["svc"]
    assert "git clone file://" in sources.failures[0].message
    assert "s3cret" not in sources.failures[0].message


def test_collect_takes_exactly_one_source(tmp_path: Path) -> None:
    chat = _generated(tmp_path / "chat")
    listing = tmp_path / "list.txt"
    listing.write_text("chat\n", encoding="utf-8")
    assert collect(list_file=listing).repositories == [SourceRepo("chat", chat)]
    assert collect(roots=[chat]).repositories == [SourceRepo("chat", chat)]
    with pytest.raises(UserError, match="name the repositories"):
        collect()
    with pytest.raises(UserError, match="ROOT and --list"):
        collect(roots=[chat], list_file=listing)
    with pytest.raises(UserError, match="--workdir"):
        collect(catalog=tmp_path / "catalog.yaml")
