"""Time ``goldpath update`` against plain ``copier update`` on the same repository and versions.

A throwaway template with two releases (the one the update tests use) is built, a project
is generated at v1.0.0, and each round updates two fresh copies of it to v1.1.0, one with
each tool, alternating. goldpath does more work (tag lookup, conflict scan and ``uv
lock``), so the target is a ratio <= 1.2. Usage::

    uv run python benchmarks/bench_update.py [--rounds 5]
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO_ROOT))

from goldpath.commands.new import create_project  # noqa: E402
from tests.helpers import two_release_template  # noqa: E402

BIN = Path(sys.executable).parent
ENV = {k: v for k, v in os.environ.items() if k != "PYENV_VERSION"}


def _timed(args: list[str], *, cwd: Path) -> float:
    start = time.perf_counter()
    subprocess.run(args, cwd=cwd, check=True, capture_output=True, env=ENV)
    return time.perf_counter() - start


def main() -> None:
    """Run the benchmark and print the table."""
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--rounds", type=int, default=5)
    rounds = parser.parse_args().rounds
    commands = {
        "goldpath update": [str(BIN / "goldpath"), "update", "--trust", "."],
        "copier update": [
            str(BIN / "copier"), "update", "--trust", "--defaults", "--quiet",
            "--vcs-ref", "v1.1.0",
        ],
    }  # fmt: skip
    times: dict[str, list[float]] = {name: [] for name in commands}
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        template = two_release_template(work / "template")
        base = work / "base"
        create_project(dest=base, template=str(template), vcs_ref="v1.0.0", defaults=True)
        for round_ in range(rounds + 1):
            for name, command in commands.items():
                copy = work / f"copy-{round_}-{name.split()[0]}"
                shutil.copytree(base, copy, symlinks=True)
                elapsed = _timed(command, cwd=copy)
                if round_ > 0:  # the first round warms caches and is discarded
                    times[name].append(elapsed)
                shutil.rmtree(copy)
    medians = {name: statistics.median(values) for name, values in times.items()}
    print(f"rounds: {rounds}, cores: {os.cpu_count()}, python: {sys.version.split()[0]}")
    print(f"| {'command':<34} | median (ms) |")
    print(f"| {'-' * 34} | {'-' * 11} |")
    for name, median in medians.items():
        print(f"| {name:<34} | {median * 1000:11.0f} |")
    ratio = medians["goldpath update"] / medians["copier update"]
    print(f"\nratio goldpath update / copier update: {ratio:.2f} (target <= 1.2)")


if __name__ == "__main__":
    main()
