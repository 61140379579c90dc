"""The Renovate fragment that docs/updating.md gives is valid Renovate configuration."""

from __future__ import annotations

import json
import re
import subprocess
from pathlib import Path

from tests.helpers import REPO_ROOT, require_tool, run


def _fragment() -> str:
    page = (REPO_ROOT / "docs" / "updating.md").read_text(encoding="utf-8")
    section = page.split("## Renovate instead", 1)[1].split("\n## ", 1)[0]
    blocks: list[str] = re.findall(r"```json\n(.*?)```", section, re.S)
    (block,) = blocks
    return block


def test_the_documented_renovate_fragment_passes_renovates_schema(tmp_path: Path) -> None:
    config = json.loads(_fragment())
    (rule,) = config["packageRules"]
    assert rule["matchManagers"] == ["copier"]
    assert config["ignoreScripts"] is False, "migrations need copier --trust"
    assert rule["postUpgradeTasks"]["commands"] == ["uv lock"]
    path = tmp_path / "renovate.json"
    path.write_text(json.dumps(config))
    checker = require_tool("check-jsonschema")
    run([checker, "--builtin-schema", "vendor.renovate", str(path)], cwd=tmp_path)


def test_an_invalid_fragment_would_fail_the_same_check(tmp_path: Path) -> None:
    config = json.loads(_fragment())
    config["ignoreScripts"] = "no"  # a string where Renovate wants a boolean
    path = tmp_path / "renovate.json"
    path.write_text(json.dumps(config))
    checker = require_tool("check-jsonschema")
    result = subprocess.run([checker, "--builtin-schema", "vendor.renovate", str(path)],
                            capture_output=True, text=True, check=False)  # fmt: skip
    assert result.returncode == 1, result.stdout
