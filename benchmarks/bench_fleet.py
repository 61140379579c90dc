"""Time ``goldpath fleet update`` of 20 repositories with ``--jobs 1`` and ``--jobs 2``.

The repositories are copies of one project generated at v1.0.0 of the two-release test
template; each run updates a fresh set of copies to v1.1.0 (with ``uv lock``). Prints
both wall times and the speed-up. Usage::

    uv run python benchmarks/bench_fleet.py [--repos 20]
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO_ROOT))

from goldpath.commands.new import create_project  # noqa: E402
from tests.helpers import two_release_template  # noqa: E402

ENV = {k: v for k, v in os.environ.items() if k != "PYENV_VERSION"}


def main() -> None:
    """Run the benchmark and print the table."""
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--repos", type=int, default=20)
    count = parser.parse_args().repos
    goldpath = str(Path(sys.executable).parent / "goldpath")
    results: dict[int, float] = {}
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        template = two_release_template(work / "template")
        base = work / "base"
        create_project(dest=base, template=str(template), vcs_ref="v1.0.0", defaults=True)
        for jobs in (1, 2):
            root = work / f"fleet-{jobs}"
            for index in range(count):
                shutil.copytree(base, root / f"service-{index:02d}", symlinks=True)
            start = time.perf_counter()
            command = [goldpath, "fleet", "update", str(root), "--jobs", str(jobs), "--trust"]
            done = subprocess.run(command, capture_output=True, text=True, env=ENV, check=False)
            results[jobs] = time.perf_counter() - start
            summary = done.stdout.strip().splitlines()[-1] if done.stdout.strip() else ""
            if done.returncode != 0 or f"{count} updated" not in summary:
                raise SystemExit(f"fleet update --jobs {jobs} failed: {summary or done.stderr}")
    print(f"repositories: {count}, cores: {os.cpu_count()}, python: {sys.version.split()[0]}")
    print("| jobs | wall time (s) | per repository (s) |")
    print("| ---- | ------------- | ------------------ |")
    for jobs, seconds in results.items():
        print(f"| {jobs:>4} | {seconds:13.1f} | {seconds / count:18.1f} |")
    print(f"\nspeed-up with --jobs 2: {results[1] / results[2]:.2f}x")


if __name__ == "__main__":
    main()
