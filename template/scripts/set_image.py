"""Pin the service's image by digest in a kustomize overlay, a Helm values file or a manifest.

The deploy workflow runs it before it opens the GitOps pull request:

    python3 scripts/set_image.py FILE NAME REGISTRY/NAME@sha256:DIGEST

Standard library only, so it runs on any runner's Python; it edits only the lines it must,
so comments and layout survive, and it fails loudly when the file does not look as expected.
"""

from __future__ import annotations

import re
import sys
from pathlib import Path

_REFERENCE = re.compile(r"^(?P<name>[a-z0-9][a-z0-9._/:-]*)@(?P<digest>sha256:[0-9a-f]{64})$")


def set_kustomize_image(text: str, name: str, repository: str, digest: str) -> str:
    """Point the ``images`` entry for ``name`` at ``repository@digest`` (newTag dropped)."""
    lines = text.splitlines(keepends=True)
    start = next(
        (
            i
            for i, line in enumerate(lines)
            if re.fullmatch(rf"\s*- name: {re.escape(name)}\s*", line)
        ),
        None,
    )
    if start is None:
        raise ValueError(f"no images entry named {name}")
    indent = " " * (len(lines[start]) - len(lines[start].lstrip()) + 2)
    end = start + 1
    while end < len(lines) and (
        lines[end].startswith(indent) or lines[end].strip().startswith("#")
    ):
        end += 1
    kept = [
        line
        for line in lines[start + 1 : end]
        if not re.match(r"\s*(newName|newTag|digest):", line)
    ]
    entry = [lines[start], *kept, f"{indent}newName: {repository}\n", f"{indent}digest: {digest}\n"]
    return "".join([*lines[:start], *entry, *lines[end:]])


def set_values_image(text: str, repository: str, digest: str) -> str:
    """Set ``repository`` and ``digest`` under the top-level ``image:`` of a Helm values file."""
    lines = text.splitlines(keepends=True)
    start = next((i for i, line in enumerate(lines) if line.rstrip() == "image:"), None)
    if start is None:
        raise ValueError("no top-level image: block")
    end = start + 1
    while end < len(lines) and (lines[end].startswith(" ") or not lines[end].strip()):
        end += 1
    block = lines[start + 1 : end]
    keys = [i for i, line in enumerate(block) if re.match(r"  (repository|digest):", line)]
    if len(keys) != 2:
        raise ValueError("expected repository: and digest: under image:")
    for i in keys:
        key = block[i].split(":", 1)[0]
        block[i] = f"{key}: {repository if key.strip() == 'repository' else digest}\n"
    return "".join([*lines[: start + 1], *block, *lines[end:]])


def set_manifest_image(text: str, reference: str) -> str:
    """Replace the one ``image:`` of a Deployment manifest with ``reference``."""
    pattern = re.compile(r"^(?P<indent>\s*)image: .*$", re.MULTILINE)
    if len(pattern.findall(text)) != 1:
        raise ValueError("expected exactly one image: line")
    return pattern.sub(lambda m: f"{m.group('indent')}image: {reference}", text)


def main(argv: list[str]) -> int:
    """Edit FILE in place; exit 1 with one line on stderr when it cannot."""
    if len(argv) != 3:
        print(__doc__, file=sys.stderr)
        return 2
    path, name, reference = Path(argv[0]), argv[1], argv[2]
    match = _REFERENCE.match(reference)
    if match is None:
        print(f"not an image reference by digest: {reference}", file=sys.stderr)
        return 1
    text = path.read_text(encoding="utf-8")
    try:
        if path.name == "kustomization.yaml":
            text = set_kustomize_image(text, name, match["name"], match["digest"])
        elif re.fullmatch(r"values-[a-z]+\.yaml", path.name):
            text = set_values_image(text, match["name"], match["digest"])
        else:
            text = set_manifest_image(text, reference)
    except ValueError as error:
        print(f"{path}: {error}", file=sys.stderr)
        return 1
    path.write_text(text, encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
