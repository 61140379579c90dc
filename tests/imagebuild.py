"""Build generated images with buildah, on the pinned base images or on local stand-ins.

The generated Dockerfile pins two images by digest: ``python:X.Y-slim-trixie`` (Docker
Official Image) and ``ghcr.io/astral-sh/uv:V`` (Astral's distroless uv image). Where a
registry is reachable, the test builds on exactly those. Where none is (this project's
machines and CI reach only PyPI, Debian and npm), it builds on **stand-ins that are not
those images** but are made the same way from the same parts:

- ``python:X.Y-slim-trixie`` stands in as a Debian ``--variant=minbase`` root filesystem
  made with debootstrap (trixie where the local debootstrap knows it, else bookworm, see
  ``debian_suite``), the runtime libraries CPython links against installed with apt,
  a CPython X.Y build copied from pyenv into ``/usr/local`` (standard library only:
  no ``test``, ``idlelib``, ``tkinter``, site-packages or static library), ``ldconfig``,
  and this machine's CA bundle with ``SSL_CERT_FILE`` pointing at it so that uv, inside
  the build, reaches PyPI through this machine's TLS setup. The real image compiles its
  own CPython; the patch release differs, and the stand-in sets ``SSL_CERT_FILE``, which
  the real image does not.
- ``ghcr.io/astral-sh/uv:V`` stands in as a ``scratch`` image holding ``/uv`` and
  ``/uvx`` from the ``uv`` wheel of the same version on PyPI (the real image ships the
  statically linked musl build; the wheel's build is linked against glibc).

Stand-ins are tagged under ``localhost/goldpath-standin/`` and labelled with a hash of
their recipe, so a later session on the same machine reuses them instead of running
debootstrap again. A temporary copy of the generated project gets only its pinned
``FROM`` references replaced by stand-in names; the generated Dockerfile is never changed.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

__all__ = [
    "BASE_IMAGES_ENV",
    "BaseImages",
    "PinnedImage",
    "build_image",
    "buildah",
    "debian_suite",
    "image_config",
    "pinned_images",
]

BASE_IMAGES_ENV = "GOLDPATH_BASE_IMAGES"  # "pinned", "standin" or unset: try a pull first
DEBIAN_MIRROR_ENV = "GOLDPATH_DEBIAN_MIRROR"
STANDIN_REPOSITORY = "localhost/goldpath-standin"
RECIPE_LABEL = "io.goldpath.standin.recipe"
# Bump when the recipe below changes in a way its inputs do not show.
_RECIPE_REVISION = "1"

_PINNED = re.compile(r"^(?P<name>[\w./-]+):(?P<tag>[\w.-]+)@sha256:[0-9a-f]{64}$")
_PYTHON_TAG = re.compile(r"^(?P<version>3\.\d+)-slim-(?P<suite>[a-z]+)$")
_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
_HOST_CA_BUNDLE = Path("/etc/ssl/certs/ca-certificates.crt")
_IMAGE_CA_BUNDLE = "/etc/ssl/certs/goldpath-host-ca-bundle.crt"

# What the real slim image installs (ca-certificates, netbase, tzdata) plus the libraries
# the copied CPython links against (from `ldd` over lib-dynload; Tk and X11 left out).
# trixie renamed several of them for 64-bit time_t.
_RUNTIME_PACKAGES = {
    "trixie": (
        "ca-certificates netbase tzdata libssl3t64 libsqlite3-0 libffi8 zlib1g libbz2-1.0 "
        "liblzma5 libexpat1 libncursesw6 libreadline8t64 libuuid1 libcrypt1 libnsl2 "
        "libtirpc3t64 libgdbm6t64 libbsd0"
    ),
    "bookworm": (
        "ca-certificates netbase tzdata libssl3 libsqlite3-0 libffi8 zlib1g libbz2-1.0 "
        "liblzma5 libexpat1 libncursesw6 libreadline8 libuuid1 libcrypt1 libnsl2 "
        "libtirpc3 libgdbm6 libbsd0"
    ),
}
_STDLIB_LEFT_OUT = ("test", "idlelib", "tkinter", "turtledemo", "ensurepip", "lib2to3")


class StandinError(RuntimeError):
    """A stand-in image could not be built; the message says which step failed."""


@dataclass(frozen=True)
class PinnedImage:
    """A base image reference pinned by tag and digest, as a ``FROM`` line has it."""

    reference: str
    name: str
    tag: str


def pinned_images(dockerfile_text: str) -> list[PinnedImage]:
    """Return the distinct digest-pinned images of a Dockerfile's ``FROM`` lines."""
    found: dict[str, PinnedImage] = {}
    for line in dockerfile_text.splitlines():
        words = line.split()
        if len(words) >= 2 and words[0].upper() == "FROM":
            match = _PINNED.match(words[1])
            if match:
                found[words[1]] = PinnedImage(words[1], match["name"], match["tag"])
    return list(found.values())


def buildah(*args: str, timeout: float = 900, env: dict[str, str] | None = None) -> str:
    """Run buildah; return its stdout, raise StandinError with its output on failure."""
    result = subprocess.run(
        ["buildah", *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
        env={**os.environ, **(env or {})},
    )
    if result.returncode != 0:
        raise StandinError(
            f"buildah {' '.join(args)} exited {result.returncode}:\n"
            f"{result.stdout[-4000:]}\n{result.stderr[-4000:]}"
        )
    return result.stdout.strip()


def image_config(image: str) -> dict[str, object]:
    """Return ``buildah inspect`` of an image, parsed."""
    data: dict[str, object] = json.loads(buildah("inspect", "--type", "image", image))
    return data


def _image_label(image: str, label: str) -> str | None:
    try:
        config = image_config(image)
    except StandinError:
        return None
    labels = config.get("Docker", {})
    if isinstance(labels, dict):
        value = (labels.get("config") or {}).get("Labels") or {}
        result = value.get(label)
        return str(result) if result is not None else None
    return None


def _containers() -> dict[str, str]:
    rows = json.loads(buildah("containers", "--json") or "null") or []
    return {row["id"]: row["containername"] for row in rows}


def build_image(
    context: Path, tag: str, *, layers: bool = False, env: dict[str, str] | None = None
) -> str:
    """Build ``context`` into ``tag`` as the test and benchmark do; return buildah's output.

    buildah 1.28 leaves the working container of a stage without instructions (``FROM uv
    AS uv``) behind; ``--force-rm`` would remove it but deletes that stage's base image too.
    So the build runs under the lock and removes the containers that appeared meanwhile,
    except the test's own (named ``goldpath-test-*``).
    """
    with _buildah_lock():
        before = _containers()
        try:
            return buildah("bud", "--isolation", "chroot", "--pull-never", "--format", "docker",
                           f"--layers={str(layers).lower()}", "--tag", tag, str(context),
                           timeout=900, env=env)  # fmt: skip
        finally:
            for container, name in _containers().items():
                if container not in before and not name.startswith("goldpath-test-"):
                    with contextlib.suppress(StandinError):
                        buildah("rm", container)


def debian_suite(wanted: str) -> str:
    """Return ``wanted`` if the local debootstrap has a script for it, else ``bookworm``."""
    scripts = Path("/usr/share/debootstrap/scripts")
    return wanted if (scripts / wanted).exists() and wanted in _RUNTIME_PACKAGES else "bookworm"


def _python_prefix(version: str) -> Path:
    """Where pyenv keeps the CPython ``version`` (X.Y) build of this machine."""
    result = subprocess.run(
        [f"python{version}", "-c", "import sys; print(sys.base_prefix)"],
        capture_output=True,
        text=True,
        check=False,
        env={**os.environ, "PYENV_VERSION": version},
    )
    prefix = Path(result.stdout.strip())
    if result.returncode != 0 or not (prefix / "bin" / f"python{version}").exists():
        raise StandinError(f"no CPython {version} build found via pyenv: {result.stderr}")
    return prefix


def _digest(*parts: str | bytes) -> str:
    hasher = hashlib.sha256()
    for part in parts:
        hasher.update(part if isinstance(part, bytes) else part.encode())
        hasher.update(b"\0")
    return hasher.hexdigest()[:16]


@contextlib.contextmanager
def _buildah_lock() -> Iterator[None]:
    """Serialise image builds across pytest-xdist workers and concurrent runs.

    On two cores parallel builds gain little, and serial builds let ``build_image`` tell
    the working containers its own build left behind from everyone else's.
    """
    with open(Path(tempfile.gettempdir()) / "goldpath-buildah.lock", "w") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


@contextlib.contextmanager
def _working_container(base: str) -> Iterator[tuple[str, Path]]:
    """A buildah working container from ``base``, mounted; removed on the way out."""
    container = buildah("from", "--pull-never", base)
    try:
        yield container, Path(buildah("mount", container))
    finally:
        with contextlib.suppress(StandinError):
            buildah("rm", container)


class BaseImages:
    """The base images one session builds on: the pinned ones or stand-ins, built once."""

    def __init__(self, *, mode: str) -> None:
        self.mode = mode
        self._built: dict[str, str] = {}

    @classmethod
    def detect(cls, probe: str) -> BaseImages:
        """Use the pinned images if ``probe`` can be pulled (or the env says so)."""
        mode = os.environ.get(BASE_IMAGES_ENV, "")
        if mode not in {"pinned", "standin"}:
            try:
                buildah("pull", "--quiet", probe, timeout=60)
                mode = "pinned"
            except (StandinError, subprocess.TimeoutExpired):
                mode = "standin"
        return cls(mode=mode)

    def dockerfile_for_build(self, dockerfile_text: str) -> str:
        """Return the Dockerfile text to build: pinned references swapped for stand-ins."""
        for pinned in pinned_images(dockerfile_text):
            image = self.resolve(pinned)
            if image != pinned.reference:
                dockerfile_text = dockerfile_text.replace(pinned.reference, image)
        return dockerfile_text

    def resolve(self, pinned: PinnedImage) -> str:
        """Return the image to use for ``pinned``; pull it or build its stand-in once."""
        if pinned.reference in self._built:
            return self._built[pinned.reference]
        if self.mode == "pinned":
            buildah("pull", "--quiet", pinned.reference)
            image = pinned.reference
        elif pinned.name == "python":
            image = self._python_standin(pinned.tag)
        elif pinned.name.endswith("/uv"):
            image = self._uv_standin(pinned.tag)
        else:
            raise StandinError(f"no stand-in recipe for {pinned.reference}")
        self._built[pinned.reference] = image
        return image

    # --- the recipes -------------------------------------------------------------------

    def _reuse_or_build(self, image: str, recipe: str, build: Callable[[], None]) -> str:
        with _buildah_lock():
            if _image_label(image, RECIPE_LABEL) != recipe:
                build()
        return image

    def _debian_standin(self, wanted_suite: str) -> str:
        suite = debian_suite(wanted_suite)
        packages = _RUNTIME_PACKAGES[suite]
        mirror = os.environ.get(DEBIAN_MIRROR_ENV, "http://deb.debian.org/debian")
        image = f"{STANDIN_REPOSITORY}/debian:{suite}-minbase"
        recipe = _digest(_RECIPE_REVISION, suite, packages)

        def build() -> None:
            with _working_container("scratch") as (container, root):
                result = subprocess.run(
                    ["debootstrap", "--variant=minbase", f"--include={packages.replace(' ', ',')}",
                     suite, str(root), mirror],
                    capture_output=True, text=True, timeout=900, check=False,
                )  # fmt: skip
                if result.returncode != 0:
                    raise StandinError(f"debootstrap {suite} failed:\n{result.stdout[-4000:]}")
                for cache in ("var/cache/apt/archives", "var/lib/apt/lists"):
                    for entry in (root / cache).glob("*"):
                        if entry.is_file():
                            entry.unlink()
                buildah("config", "--label", f"{RECIPE_LABEL}={recipe}",
                        "--label", f"io.goldpath.standin.debian-suite={suite}",
                        "--env", f"PATH={_PATH}",
                        "--cmd", "bash", container)  # fmt: skip
                buildah("commit", "--quiet", "--format", "docker", container, image)

        return self._reuse_or_build(image, recipe, build)

    def _python_standin(self, tag: str) -> str:
        match = _PYTHON_TAG.match(tag)
        if not match:
            raise StandinError(f"no stand-in recipe for python:{tag}")
        version = match["version"]
        base = self._debian_standin(match["suite"])
        prefix = _python_prefix(version)
        image = f"{STANDIN_REPOSITORY}/python:{tag}"
        ca_bundle = _HOST_CA_BUNDLE.read_bytes()
        recipe = _digest(_RECIPE_REVISION, _image_label(base, RECIPE_LABEL) or "", str(prefix),
                         ",".join(_STDLIB_LEFT_OUT), ca_bundle)  # fmt: skip

        def build() -> None:
            full_version = subprocess.run(
                [str(prefix / "bin" / f"python{version}"), "-c",
                 "import platform; print(platform.python_version())"],
                capture_output=True, text=True, check=True,
            ).stdout.strip()  # fmt: skip
            with _working_container(base) as (container, root):
                local = root / "usr" / "local"
                bin_dir = local / "bin"
                bin_dir.mkdir(parents=True, exist_ok=True)
                shutil.copy2(prefix / "bin" / f"python{version}", bin_dir)
                for alias in ("python3", "python"):
                    (bin_dir / alias).symlink_to(f"python{version}")
                (local / "lib").mkdir(exist_ok=True)
                for library in (prefix / "lib").glob("libpython3*.so*"):
                    shutil.copy2(library, local / "lib", follow_symlinks=False)
                stdlib = f"python{version}"
                shutil.copytree(
                    prefix / "lib" / stdlib,
                    local / "lib" / stdlib,
                    symlinks=True,
                    ignore=_stdlib_ignore(prefix / "lib" / stdlib),
                )
                (local / "lib" / stdlib / "site-packages").mkdir(exist_ok=True)
                ca_path = root / _IMAGE_CA_BUNDLE.lstrip("/")
                ca_path.write_bytes(ca_bundle)
                ca_path.chmod(0o644)
                buildah("run", "--isolation", "chroot", container, "--", "ldconfig")
                buildah("config", "--label", f"{RECIPE_LABEL}={recipe}",
                        "--label", f"io.goldpath.standin.python={full_version}",
                        "--env", "LANG=C.UTF-8",
                        "--env", f"PYTHON_VERSION={full_version}",
                        "--env", f"SSL_CERT_FILE={_IMAGE_CA_BUNDLE}",
                        "--cmd", "python3", container)  # fmt: skip
                buildah("commit", "--quiet", "--format", "docker", container, image)

        return self._reuse_or_build(image, recipe, build)

    def _uv_standin(self, tag: str) -> str:
        image = f"{STANDIN_REPOSITORY}/uv:{tag}"
        recipe = _digest(_RECIPE_REVISION, "uv", tag)

        def build() -> None:
            with tempfile.TemporaryDirectory(prefix="goldpath-uv-wheel-") as scratch:
                # The uv binary of the test environment installs the pinned uv's wheel.
                uv = shutil.which("uv", path=str(Path(sys.executable).parent)) or "uv"
                result = subprocess.run(
                    [uv, "pip", "install", "--quiet", "--no-deps", "--target", scratch,
                     "--python-platform", "x86_64-manylinux_2_17", f"uv=={tag}"],
                    capture_output=True, text=True, timeout=300, check=False,
                )  # fmt: skip
                if result.returncode != 0:
                    raise StandinError(f"uv=={tag} wheel could not be installed:\n{result.stderr}")
                with _working_container("scratch") as (container, root):
                    for tool in ("uv", "uvx"):
                        shutil.copy2(Path(scratch) / "bin" / tool, root / tool)
                    buildah("config", "--label", f"{RECIPE_LABEL}={recipe}",
                            "--entrypoint", '["/uv"]', container)  # fmt: skip
                    buildah("commit", "--quiet", "--format", "docker", container, image)

        return self._reuse_or_build(image, recipe, build)


def _stdlib_ignore(stdlib: Path) -> Callable[[str, list[str]], set[str]]:
    """A copytree ``ignore`` that leaves out what the slim image does not need."""

    def ignore(directory: str, names: list[str]) -> set[str]:
        here = Path(directory)
        if here == stdlib:
            return {n for n in names if n in _STDLIB_LEFT_OUT}
        if here == stdlib / "site-packages":
            return set(names)
        if here.name.startswith("config-") and here.parent == stdlib:
            return {n for n in names if n.endswith(".a")}
        return set()

    return ignore
