"""Time building the generated image with buildah, and measure what it adds to its base.

Renders the default answers, locks them, then times (medians over ``--rounds``):

- **cold**: empty uv cache mount, no layer cache; what a fresh CI runner pays;
- **uv cache warm**: no layer cache, uv's cache mount filled; what tests/test_image.py pays;
- **warm, source edit**: layer cache on, one line of ``src/`` changed; the dependency layer
  is reused, as on a developer's machine or a CI runner with a build cache.

The base images (pinned, or the stand-ins of tests/imagebuild.py where no registry
answers) are made before the clock starts. Sizes are uncompressed layer sizes from the
image manifest. Usage::

    uv run python benchmarks/bench_image.py [--rounds 3]
"""

from __future__ import annotations

import argparse
import functools
import json
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
sys.path.insert(0, str(REPO_ROOT))

from tests.helpers import render  # noqa: E402
from tests.imagebuild import (  # noqa: E402
    BaseImages,
    build_image,
    buildah,
    image_config,
    pinned_images,
)

TAG = "localhost/goldpath-bench/service"


def _layers(image: str) -> dict[str, int]:
    manifest = json.loads(str(image_config(image)["Manifest"]))
    return {layer["digest"]: int(layer["size"]) for layer in manifest["layers"]}


def _image_ids() -> set[str]:
    rows = json.loads(buildah("images", "--all", "--json") or "null") or []
    return {str(row["id"]) for row in rows}


def _timed(action: Callable[[], object]) -> float:
    start = time.perf_counter()
    action()
    return time.perf_counter() - start


def _largest_packages(image: str, count: int) -> list[tuple[str, float]]:
    container = buildah("from", "--pull-never", image)
    try:
        root = Path(buildah("mount", container))
        site = next((root / "app" / ".venv" / "lib").glob("python*/site-packages"))
        sizes = {
            entry.name: sum(f.stat().st_size for f in entry.rglob("*") if f.is_file()) / 1e6
            for entry in site.iterdir()
            if entry.is_dir() and not entry.name.endswith(".dist-info")
        }
    finally:
        buildah("rm", container)
    return sorted(sizes.items(), key=lambda item: -item[1])[:count]


def main() -> None:
    """Run the benchmark and print the tables."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=3)
    rounds = parser.parse_args().rounds
    uv = str(Path(sys.executable).parent / "uv")
    before = _image_ids()
    with tempfile.TemporaryDirectory(prefix="goldpath-bench-image-") as tmp:
        work = Path(tmp)
        project = render(work / "service", {})
        env = {k: v for k, v in os.environ.items() if k != "PYENV_VERSION"}
        subprocess.run([uv, "lock", "--quiet"], cwd=project, check=True,
                       env={**env, "UV_PYTHON_DOWNLOADS": "never"})  # fmt: skip
        dockerfile = project / "Dockerfile"
        probe = next(
            p.reference for p in pinned_images(dockerfile.read_text()) if p.name.endswith("/uv")
        )
        bases = BaseImages.detect(probe)
        dockerfile.write_text(bases.dockerfile_for_build(dockerfile.read_text()))
        runtime_base = [ln.split()[1] for ln in dockerfile.read_text().splitlines()
                        if ln.startswith("FROM")][-1]  # fmt: skip
        main_py = next((project / "src").glob("*/main.py"))

        def cold(round_: int) -> None:
            # buildah keeps RUN --mount=type=cache under $TMPDIR/buildah-cache.
            cache_home = work / f"tmp-cold-{round_}"
            cache_home.mkdir()
            build_image(project, f"{TAG}:cold", env={"TMPDIR": str(cache_home)})
            shutil.rmtree(cache_home)

        times: dict[str, list[float]] = {"cold": [], "uv cache warm": [], "warm, source edit": []}
        build_image(project, f"{TAG}:warm", layers=True)  # fills the layer and uv caches
        for round_ in range(rounds):
            times["cold"].append(_timed(functools.partial(cold, round_)))
            times["uv cache warm"].append(_timed(lambda: build_image(project, f"{TAG}:uv")))
            with main_py.open("a") as source:
                source.write(f"# benchmark edit {round_}\n")
            times["warm, source edit"].append(
                _timed(lambda: build_image(project, f"{TAG}:warm", layers=True))
            )

        base_layers = _layers(runtime_base)
        image_layers = _layers(f"{TAG}:uv")
        added = sum(size for digest, size in image_layers.items() if digest not in base_layers)
        largest = _largest_packages(f"{TAG}:uv", 8)

    for tag in ("cold", "uv", "warm"):
        subprocess.run(["buildah", "rmi", f"{TAG}:{tag}"], capture_output=True, check=False)
    for leftover in _image_ids() - before:  # intermediate images of the --layers builds
        subprocess.run(["buildah", "rmi", leftover], capture_output=True, check=False)

    print(f"rounds: {rounds}, cores: {os.cpu_count()}, base images: {bases.mode}")
    print(f"| {'build':<20} | median (s) | min (s) |")
    print(f"| {'-' * 20} | {'-' * 10} | {'-' * 7} |")
    for name, values in times.items():
        print(f"| {name:<20} | {statistics.median(values):10.1f} | {min(values):7.1f} |")
    print(f"\nbase image ({runtime_base}): {sum(base_layers.values()) / 1e6:.1f} MB")
    print(f"image: {sum(image_layers.values()) / 1e6:.1f} MB")
    print(f"added by the project: {added / 1e6:.1f} MB (target <= 120 MB)")
    print("\nlargest packages in the venv (MB):")
    for name, size in largest:
        print(f"  {name:<24} {size:6.1f}")


if __name__ == "__main__":
    main()
