"""Time a ``goldpath fleet campaign`` of 20 repositories with ``--jobs 1`` and ``--jobs 2``.

The repositories are copies of one project generated at v1.0.0 of the two-release test
template, each with its own bare origin; stand-in ``gh`` and ``glab`` (the test suite's
``FakeHosts``) answer the pull request calls. One wave, no canaries, ``--no-lock``: the
time is goldpath's (update, push, pull request, refresh), not uv's resolver. Usage::

    uv run python benchmarks/bench_campaign.py [--repos 20]
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO_ROOT))

from goldpath.campaign import Campaign  # noqa: E402
from goldpath.commands.new import create_project  # noqa: E402
from tests.helpers import FakeHosts, copies_with_origins, two_release_template  # noqa: E402


def _git(cwd: Path, *args: str) -> None:
    subprocess.run(["git", *args], cwd=cwd, check=True, capture_output=True)


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
        create_project(dest=base, template=str(template), vcs_ref="v1.0.0", defaults=True,
                       lock=False)  # fmt: skip
        _git(base, "config", "user.email", "bench@goldpath.invalid")
        _git(base, "config", "user.name", "goldpath bench")
        for jobs in (1, 2):
            root = work / f"campaign-{jobs}"
            hosts = FakeHosts(root / "hosts")
            env = {k: v for k, v in os.environ.items() if k != "PYENV_VERSION"}
            env["PATH"] = f"{hosts.bin}{os.pathsep}{env['PATH']}"
            repos = copies_with_origins(base, root, count, prefix="service")
            state = root / "campaign.yml"
            command = [goldpath, "fleet", "campaign", "start", "--to", "v1.1.0", str(repos)]
            command += ["--state", str(state), "--jobs", str(jobs), "--no-lock", "--trust"]
            start = time.perf_counter()
            done = subprocess.run(command, capture_output=True, text=True, env=env, check=False)
            results[jobs] = time.perf_counter() - start
            counts = Campaign.load(state).counts() if state.exists() else {}
            if done.returncode != 0 or counts.get("pr-open") != count:
                raise SystemExit(f"campaign --jobs {jobs} failed: {counts} {done.stderr[-500:]}")
    print(f"repositories: {count}, cores: {os.cpu_count()}, python: {sys.version.split()[0]}")
    print("| jobs | wall time (s) | per repository (s) |")
    print("| ---- | ------------- | ------------------ |")
    for jobs, seconds in results.items():
        print(f"| {jobs:>4} | {seconds:13.1f} | {seconds / count:18.1f} |")
    print(f"\nspeed-up with --jobs 2: {results[1] / results[2]:.2f}x")


if __name__ == "__main__":
    main()
