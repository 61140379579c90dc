"""Time ``goldpath new --defaults --no-lock`` against plain ``copier copy`` of the same template.

Both run as subprocesses, alternating, several rounds; medians and their ratio are
printed as a table (target: ratio <= 1.15). Also times ``goldpath --help`` against
``python -c pass`` to show start-up cost. Usage::

    uv run python benchmarks/bench_new.py [--rounds 7]
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
from collections.abc import Callable
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent


def _timed(args: list[str], *, cwd: Path) -> float:
    start = time.perf_counter()
    subprocess.run(args, cwd=cwd, check=True, capture_output=True)
    return time.perf_counter() - start


def main() -> None:
    """Run the benchmark and print the table."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=7)
    rounds = parser.parse_args().rounds
    template = str(REPO_ROOT)
    commands: dict[str, Callable[[Path], list[str]]] = {
        "goldpath new --defaults --no-lock": lambda dst: [
            str(BIN / "goldpath"), "new", str(dst), "--defaults", "--no-lock",
            "--template", template, "--vcs-ref", "HEAD", "--unreleased",
        ],
        "copier copy --defaults": lambda dst: [
            str(BIN / "copier"), "copy", "--quiet", "--defaults",
            "--vcs-ref", "HEAD", template, str(dst),
        ],
        "goldpath --help": lambda _: [str(BIN / "goldpath"), "--help"],
        "python -c pass": lambda _: [sys.executable, "-c", "pass"],
    }  # fmt: skip
    times: dict[str, list[float]] = {name: [] for name in commands}
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        for round_ in range(rounds + 1):
            for name, build in commands.items():
                dst = work / f"out-{round_}-{len(times[name])}-{name.split()[0]}"
                elapsed = _timed(build(dst), cwd=work)
                if round_ > 0:  # the first round warms caches and is discarded
                    times[name].append(elapsed)
                shutil.rmtree(dst, ignore_errors=True)
    medians = {name: statistics.median(values) for name, values in times.items()}
    print(f"rounds: {rounds}, cores: {os.cpu_count()}, python: {sys.version.split()[0]}")
    print(f"| {'command':<36} | median (ms) |")
    print(f"| {'-' * 36} | {'-' * 11} |")
    for name, median in medians.items():
        print(f"| {name:<36} | {median * 1000:11.0f} |")
    ratio = medians["goldpath new --defaults --no-lock"] / medians["copier copy --defaults"]
    startup = medians["goldpath --help"] - medians["python -c pass"]
    print(f"\nratio goldpath new / copier copy: {ratio:.2f} (target <= 1.15)")
    print(f"goldpath --help start-up over bare python: {startup * 1000:.0f} ms")


if __name__ == "__main__":
    main()
