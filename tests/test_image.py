"""The generated image builds without a Docker daemon, holds only the service, and runs.

For the default answers and for each other ``python_version`` choice: render, lock, build
with buildah (chroot isolation), then check the image as a platform engineer would before
the first deploy, and run the image's own CMD as its own user on a loopback port. Where no
registry is reachable the build uses the stand-in base images of ``tests/imagebuild.py``.

One test per combination, with a subtest per check: under pytest-xdist a module-scoped
image fixture would be built again by every worker that got one of its tests.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import tarfile
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx2 as httpx
import pytest
from packaging.markers import default_environment
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

from tests.conftest import Renderer
from tests.helpers import (
    BackgroundStream,
    free_port,
    question_choices,
    questions,
    require_tool,
    run,
    wait_until_ready,
)
from tests.imagebuild import BaseImages, build_image, buildah, image_config, pinned_images

pytestmark = pytest.mark.slow

_DEFAULT_PYTHON = str(questions()["python_version"]["default"])
# The defaults, then every other python_version (the default one is the defaults' image).
COMBINATIONS: list[dict[str, Any]] = [
    {},
    *({"python_version": v} for v in question_choices("python_version") if v != _DEFAULT_PYTHON),
]
UV_ENV = {"UV_PYTHON_DOWNLOADS": "never", "VIRTUAL_ENV": ""}
APP_UID = 10001
API_KEY = "image-test-key"
# Target from the issue: what the project adds on top of its base image.
MAX_ADDED_MB = 120
# What a developer's checkout holds besides the template's files; none may reach the image.
SENTINEL = "goldpath-image-test-must-not-ship"


def _ids(answers: dict[str, Any]) -> str:
    return "-".join(f"{k}={v}" for k, v in answers.items()) or f"defaults-py{_DEFAULT_PYTHON}"


@dataclass
class BuiltImage:
    """An image built from a rendered project, and where its build context was."""

    tag: str
    context: Path
    package: str
    python_version: str


@pytest.fixture(scope="session")
def base_images(rendered: Renderer) -> BaseImages:
    """The pinned base images where a registry answers, else this session's stand-ins."""
    require_tool("buildah")
    dockerfile = (rendered({}) / "Dockerfile").read_text(encoding="utf-8")
    probe = next(p.reference for p in pinned_images(dockerfile) if p.name.endswith("/uv"))
    images = BaseImages.detect(probe)
    if images.mode == "standin":
        require_tool("debootstrap")
    return images


def _add_developer_files(project: Path, package: str) -> None:
    """Give the copy what a developer's working tree has: git, a venv, .env files."""
    (project / ".env").write_text(f"API_KEYS={SENTINEL}\n", encoding="utf-8")
    (project / "src" / package / ".env").write_text(f"API_KEYS={SENTINEL}\n", encoding="utf-8")
    (project / ".venv").mkdir()
    (project / ".venv" / "pyvenv.cfg").write_text(f"home = /{SENTINEL}\n", encoding="utf-8")
    (project / "tests" / "conftest.py").touch()
    run(["git", "init", "-q"], cwd=project)
    run(["git", "add", "-A"], cwd=project)
    run(["git", "-c", "user.name=t", "-c", "user.email=t@t.invalid", "commit", "-qm", SENTINEL],
        cwd=project)  # fmt: skip


@pytest.fixture
def image(
    request: pytest.FixtureRequest,
    rendered: Renderer,
    base_images: BaseImages,
    tmp_path: Path,
) -> Iterator[BuiltImage]:
    """The image of one combination, built from a locked copy of its rendered project."""
    answers: dict[str, Any] = request.param
    context = tmp_path / "service"
    shutil.copytree(rendered(answers), context)
    package = next(p.name for p in (context / "src").iterdir() if p.is_dir())
    run([require_tool("uv"), "lock"], cwd=context, env=UV_ENV)
    _add_developer_files(context, package)
    dockerfile = context / "Dockerfile"
    dockerfile.write_text(
        base_images.dockerfile_for_build(dockerfile.read_text(encoding="utf-8")),
        encoding="utf-8",
    )
    python_version = str(answers.get("python_version", _DEFAULT_PYTHON))
    name = f"{package.replace('_', '-')}-py{python_version}"
    tag = f"localhost/goldpath-test/{name}:{uuid.uuid4().hex[:12]}"
    try:
        build_image(context, tag)
        yield BuiltImage(tag, context, package, python_version)
    finally:
        subprocess.run(["buildah", "rmi", "--force", tag], capture_output=True, check=False)


@pytest.fixture
def container(image: BuiltImage) -> Iterator[tuple[str, Path]]:
    """A working container of the image and its root filesystem, mounted on the host."""
    name = buildah("from", "--pull-never", "--name", f"goldpath-test-{uuid.uuid4().hex[:12]}",
                   image.tag)  # fmt: skip
    try:
        yield name, Path(buildah("mount", name))
    finally:
        subprocess.run(["buildah", "rm", name], capture_output=True, check=False)


def _docker_config(image: str) -> dict[str, Any]:
    config: dict[str, Any] = image_config(image)["Docker"]["config"]  # type: ignore[index]
    return config


def _layers(image: str) -> dict[str, int]:
    """The image's layers (digest -> uncompressed size) from its stored manifest."""
    manifest = json.loads(str(image_config(image)["Manifest"]))
    return {layer["digest"]: int(layer["size"]) for layer in manifest["layers"]}


def _in_image(
    container: str, user: str, *command: str, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    args = ["buildah", "run", "--isolation", "chroot", "--user", user]
    for key, value in (env or {}).items():
        args += ["--env", f"{key}={value}"]
    return subprocess.run([*args, container, "--", *command],
                          capture_output=True, text=True, timeout=120, check=False)  # fmt: skip


# --- the checks ------------------------------------------------------------------------


def _check_config(image: BuiltImage, config: dict[str, Any]) -> None:
    uid, _, gid = config["User"].partition(":")
    assert uid.isdigit(), f"user {config['User']!r} is not numeric"
    assert gid.isdigit(), f"group of {config['User']!r} is not numeric"
    assert int(uid) == APP_UID
    assert int(gid) == APP_UID
    test = config["Healthcheck"]["Test"]
    assert test[0] == "CMD", test
    assert "/healthz" in " ".join(test), test
    assert config["Cmd"] == ["python", "-m", image.package]
    assert not config.get("Entrypoint")
    env = dict(item.partition("=")[::2] for item in config["Env"])
    assert env["HOST"] == "0.0.0.0"
    assert env["PORT"] == "8000"
    assert env["PATH"].startswith("/app/.venv/bin:")
    assert "8000/tcp" in config["ExposedPorts"]


def _check_contents(image: BuiltImage, root: Path) -> None:
    app = root / "app"
    assert sorted(p.name for p in app.iterdir()) == [".venv"], "only the venv is in /app"
    leaked = [str(p.relative_to(root)) for p in app.rglob("*") if p.name in {".env", ".git"}]
    assert not leaked, f"files from the build context in the image: {leaked}"
    grep = subprocess.run(["grep", "-rlF", SENTINEL, str(app)], capture_output=True, text=True)
    assert grep.stdout == "", f"local files reached the image: {grep.stdout}"
    assert not (root / "usr" / "local" / "bin" / "uv").exists(), "uv stays in the builder"

    site = next((app / ".venv" / "lib").glob("python*/site-packages"))
    assert site.parent.name == f"python{image.python_version}"
    assert not (site / "tests").exists(), "the project's tests are not installed"
    installed = {
        canonicalize_name(p.name.split("-")[0]): p.name.split("-")[1].removesuffix(".dist")
        for p in site.glob("*.dist-info")
    }
    dev_tools = {"pytest", "ruff", "mypy"} & installed.keys()
    assert not dev_tools, f"dev tools in the image: {sorted(dev_tools)}"
    expected = _locked_runtime_packages(image)
    expected[canonicalize_name(image.package)] = installed.get(canonicalize_name(image.package), "")
    assert installed == expected, "the venv holds exactly the lock's runtime packages"
    assert canonicalize_name(image.package) in installed
    assert (site / image.package / "__init__.py").exists(), "installed as a wheel, not editable"
    pth = [p.name for p in site.glob("*.pth") if "/app/src" in p.read_text(encoding="utf-8")]
    assert not pth, f"the project is installed editable: {pth}"


def _locked_runtime_packages(image: BuiltImage) -> dict[str, str]:
    """The lock's non-dev packages for Linux and the image's Python: name -> version."""
    exported = run([require_tool("uv"), "export", "--frozen", "--no-dev", "--no-hashes",
                    "--no-emit-project", "--no-header", "--no-annotate"],
                   cwd=image.context, env=UV_ENV).stdout  # fmt: skip
    environment = {
        **default_environment(),
        "python_version": image.python_version,
        "python_full_version": f"{image.python_version}.0",
    }
    packages: dict[str, str] = {}
    for line in exported.splitlines():
        requirement = Requirement(line)
        if requirement.marker is None or requirement.marker.evaluate(environment):
            packages[canonicalize_name(requirement.name)] = str(requirement.specifier)[2:]
    return packages


def _check_runs_as_user(image: BuiltImage, container: str, user: str) -> None:
    code = (
        f"import os, sys, {image.package}.main as m; "
        "print(os.getuid(), os.getgid(), sys.version_info[:2], m.__file__)"
    )
    result = _in_image(container, user, "python", "-c", code)
    assert result.returncode == 0, result.stderr
    uid, gid, *rest = result.stdout.split()
    assert (int(uid), int(gid)) == (APP_UID, APP_UID)
    assert "".join(rest).startswith(f"({image.python_version.replace('.', ',')})")
    assert "/app/.venv/" in result.stdout


def _check_secret_scan(image: BuiltImage, scratch: Path) -> None:
    trivy = require_tool("trivy")
    archive = scratch / "image.tar"
    buildah("push", "--quiet", image.tag, f"docker-archive:{archive}:{image.tag}")
    assert tarfile.is_tarfile(archive)
    result = run([trivy, "image", "--input", archive, "--scanners", "secret", "--format", "json",
                  "--quiet", "--cache-dir", scratch / "trivy-cache", "--exit-code", "1"],
                 cwd=scratch, timeout=600)  # fmt: skip
    report = json.loads(result.stdout)
    secrets = [s for r in report.get("Results") or [] for s in r.get("Secrets") or []]
    assert not secrets, secrets
    archive.unlink()


def _descendants(pid: int) -> list[int]:
    """Every process below ``pid``, read from /proc."""
    children: dict[int, list[int]] = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        children.setdefault(int(fields[1]), []).append(int(stat.parent.name))
    found, todo = [], [pid]
    while todo:
        for child in children.get(todo.pop(), []):
            found.append(child)
            todo.append(child)
    return found


class RunningImage:
    """The image's CMD under ``buildah run`` as its user, on the host's loopback."""

    def __init__(self, container: str, config: dict[str, Any], log: Path, **env: str) -> None:
        self.port = free_port()
        self.base_url = f"http://127.0.0.1:{self.port}"
        self.log = log
        settings = {"LLM_PROVIDER": "fake", "API_KEYS": API_KEY, "HOST": "127.0.0.1",
                    "PORT": str(self.port), **env}  # fmt: skip
        args = ["buildah", "run", "--isolation", "chroot", "--user", config["User"]]
        for key, value in settings.items():
            args += ["--env", f"{key}={value}"]
        with log.open("w") as out:
            self.process = subprocess.Popen([*args, container, "--", *config["Cmd"]],
                                            stdout=out, stderr=subprocess.STDOUT)  # fmt: skip
        wait_until_ready(self.process, self.base_url, what="the image's CMD", seconds=60,
                         output=self.output, give_up=self.kill)  # fmt: skip

    def output(self) -> str:
        return self.log.read_text(encoding="utf-8", errors="replace")

    def service_pid(self) -> int:
        """The service's own process: buildah kills, rather than forwards, on SIGTERM."""
        pids = [
            pid for pid in _descendants(self.process.pid)
            if Path(f"/proc/{pid}/comm").read_text().strip().startswith("python")
        ]  # fmt: skip
        assert len(pids) == 1, f"expected one python process under buildah run, got {pids}"
        return pids[0]

    def kill(self) -> None:
        if self.process.poll() is None:
            self.process.kill()
            self.process.wait(timeout=30)


def _check_service(container: str, config: dict[str, Any], scratch: Path) -> None:
    import openai

    env = dict(item.partition("=")[::2] for item in config["Env"])
    bound = float(env["SHUTDOWN_TIMEOUT_SECONDS"])
    service = RunningImage(container, config, scratch / "service.log",
                           FAKE_CHUNK_DELAY_SECONDS="0.05", SERVED_MODELS="fake-model")  # fmt: skip
    try:
        client = openai.OpenAI(base_url=f"{service.base_url}/v1", api_key=API_KEY, max_retries=0)
        reply = client.chat.completions.create(
            model="fake-model", messages=[{"role": "user", "content": "hello from the image"}]
        )
        content = reply.choices[0].message.content
        assert content is not None
        assert content.endswith("hello from the image")
        stream = client.chat.completions.create(
            model="fake-model",
            messages=[{"role": "user", "content": "hello from the image"}],
            stream=True,
        )
        assert "".join(c.choices[0].delta.content or "" for c in stream if c.choices) == content
        metrics = httpx.get(f"{service.base_url}/metrics", timeout=5).text
        assert 'llm_tokens_total{model="fake-model",type="completion"}' in metrics
        assert "http_requests_in_flight" in metrics

        # The image's HEALTHCHECK command, run in the image, against this run's port.
        test = config["Healthcheck"]["Test"][1:]
        probe = [part.replace(":8000/", f":{service.port}/") for part in test]
        health = _in_image(container, config["User"], *probe)
        assert health.returncode == 0, health.stderr

        # SIGTERM while a stream is open: the stream finishes, then the process exits 0.
        open_stream = BackgroundStream(client, "a b c d e f")
        open_stream.start()
        begin = time.monotonic()
        os.kill(service.service_pid(), signal.SIGTERM)
        text = open_stream.join(timeout=bound + 5)
        code = service.process.wait(timeout=bound + 10)
        elapsed = time.monotonic() - begin
    finally:
        service.kill()
    output = service.output()
    assert code == 0, f"exit {code}:\n{output}"
    assert elapsed < bound, f"stopped after {elapsed:.1f} s, bound {bound} s"
    assert text.endswith("a b c d e f"), "the open stream finished"
    assert "draining" in output


@pytest.mark.parametrize("image", COMBINATIONS, ids=_ids, indirect=True)
def test_image_builds_holds_only_the_service_and_runs(
    image: BuiltImage,
    container: tuple[str, Path],
    subtests: pytest.Subtests,
    tmp_path: Path,
) -> None:
    """Build, inspect and run one generated image; each check is its own subtest."""
    name, root = container
    config = _docker_config(image.tag)
    with subtests.test("config: numeric non-root user, HEALTHCHECK, exec-form CMD"):
        _check_config(image, config)
    with subtests.test("contents: only the runtime venv, no context files or dev deps"):
        _check_contents(image, root)
    with subtests.test("the app imports as the image's user"):
        _check_runs_as_user(image, name, config["User"])
    with subtests.test(f"size added on top of the base: <= {MAX_ADDED_MB} MB"):
        dockerfile = (image.context / "Dockerfile").read_text(encoding="utf-8")
        froms = [ln.split()[1] for ln in dockerfile.splitlines() if ln.startswith("FROM")]
        base_layers = _layers(froms[-1])
        added = sum(v for k, v in _layers(image.tag).items() if k not in base_layers) / 1e6
        assert added <= MAX_ADDED_MB, f"{added:.0f} MB added"
    with subtests.test("secret scan: no findings"):
        _check_secret_scan(image, tmp_path)
    with subtests.test("runs its CMD: ready, completions, stream, metrics, SIGTERM exit 0"):
        _check_service(name, config, tmp_path)
