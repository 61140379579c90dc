"""Find the template's newest release and whether this repository is behind it.

The template-update workflow runs it, read-only, before anything is installed:

    python3 scripts/template_release.py >> "$GITHUB_OUTPUT"

It reads ``_src_path`` and ``_commit`` from .copier-answers.yml, lists the template's tags
with ``git ls-remote``, takes the newest release tag vX.Y.Z (pre-releases are skipped) and
resolves it to its commit (the peeled commit of an annotated tag), so the next step runs
goldpath from that immutable commit. It prints ``key=value`` lines:

    source=https://github.com/acme/goldpath.git
    tag=v1.4.0
    commit=<40 hex digits>
    current=v1.3.0
    behind=true

Standard library only, so it runs on any runner's Python.
"""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

ANSWERS_FILE = ".copier-answers.yml"
_RELEASE = re.compile(r"^v?(\d+)\.(\d+)\.(\d+)$")
# Describe output of a commit after a tag: v1.3.0-4-gabc1234.
_VERSION = re.compile(r"^v?(\d+)\.(\d+)\.(\d+)(?P<rest>\S*)$")
# copier's shortcuts for hosted repositories, as copier expands them.
_SHORTCUTS = {"gh:": "https://github.com/", "gl:": "https://gitlab.com/"}
_SCP_LIKE = re.compile(r"^(?P<user>[\w.-]+)@(?P<host>[\w.-]+):(?P<path>(?!/).+)$")


def read_answer(text: str, key: str) -> str:
    """Return a top-level scalar of the answers file (copier writes them one per line)."""
    match = re.search(rf"^{re.escape(key)}:[ \t]*(.*?)[ \t]*$", text, re.MULTILINE)
    if match is None or not match.group(1):
        raise ValueError(f"{ANSWERS_FILE} has no {key}")
    return match.group(1).strip("'\"")


def git_url(source: str) -> str:
    """Return a URL that git and ``uvx --from git+URL`` both accept for a copier source."""
    source = source.removeprefix("git+")
    for shortcut, prefix in _SHORTCUTS.items():
        if source.startswith(shortcut):
            source = prefix + source.removeprefix(shortcut)
            return source if source.endswith(".git") else source + ".git"
    scp = _SCP_LIKE.match(source)
    if scp and "://" not in source:
        return f"ssh://{scp['user']}@{scp['host']}/{scp['path']}"
    return source


def newest_release(ls_remote: str) -> tuple[str, str] | None:
    """Return (tag, commit) of the newest vX.Y.Z tag in ``git ls-remote --tags`` output."""
    commits: dict[str, str] = {}
    peeled: dict[str, str] = {}
    for line in ls_remote.splitlines():
        sha, _, ref = line.partition("\t")
        name = ref.removeprefix("refs/tags/")
        if name.endswith("^{}"):
            peeled[name.removesuffix("^{}")] = sha
        else:
            commits[name] = sha
    releases = [(_key(name), name) for name in commits if _RELEASE.match(name)]
    if not releases:
        return None
    _, tag = max(releases)
    return tag, peeled.get(tag, commits[tag])


def _key(tag: str) -> tuple[int, ...]:
    return tuple(int(part) for part in tag.removeprefix("v").split("."))


def is_behind(current: str, newest: str) -> bool:
    """Return whether ``current`` (a tag, describe output or commit) is older than ``newest``.

    A commit hash has no version: it is behind any release. A pre-release (v1.4.0rc1) is
    behind its release; describe output past a tag (v1.3.0-4-gabc1234) is not behind it.
    """
    match = _VERSION.match(current)
    if match is None:
        return True
    version = tuple(int(part) for part in match.groups()[:3])
    rest = match["rest"]
    prerelease = bool(rest) and not re.fullmatch(r"-\d+-g[0-9a-f]+", rest)
    newest_version = _key(newest)
    return version < newest_version or (version == newest_version and prerelease)


def main(argv: list[str]) -> int:
    """Print the outputs for $GITHUB_OUTPUT; exit 1 with one line when that is impossible."""
    root = Path(argv[0]) if argv else Path()
    try:
        text = (root / ANSWERS_FILE).read_text(encoding="utf-8")
        source = git_url(read_answer(text, "_src_path"))
        current = read_answer(text, "_commit")
    except (OSError, ValueError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    # git from PATH, the source from the answers file: what the repository already trusts.
    result = subprocess.run(  # noqa: S603
        ["git", "ls-remote", "--tags", source],  # noqa: S607
        capture_output=True,
        text=True,
        check=False,
    )
    if result.returncode != 0:
        lines = result.stderr.strip().splitlines()
        print(f"error: git ls-remote {source}: {lines[-1] if lines else ''}", file=sys.stderr)
        return 1
    newest = newest_release(result.stdout)
    tag, commit = newest if newest else ("", "")
    behind = bool(newest) and is_behind(current, tag)
    print(f"source={source}")
    print(f"tag={tag}")
    print(f"commit={commit}")
    print(f"current={current}")
    print(f"behind={'true' if behind else 'false'}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
