"""The generated project passes its own checks, and its service talks to the openai client."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx2 as httpx
import pytest

from tests.conftest import Renderer
from tests.helpers import (
    PROJECT_CHECKS,
    REPO_ROOT,
    BackgroundStream,
    free_port,
    require_tool,
    run,
    wait_until_ready,
)

pytestmark = pytest.mark.slow

# The default answers, then one combination per provider; together they cover every
# Python version and both values of otel. Rendering alone is covered for every
# combination in test_template.py.
PROJECT_COMBOS: list[dict[str, Any]] = [
    {},
    {"llm_provider": "anthropic", "python_version": "3.11", "otel": True},
    {"llm_provider": "bedrock", "python_version": "3.13", "otel": True},
    {"llm_provider": "openai", "python_version": "3.13", "project_name": "A" + "b" * 45},
    # Budgets and rate limits in Redis: its tests start a real redis-server.
    {"state_backend": "redis", "python_version": "3.11"},
]
UV_ENV = {"UV_PYTHON_DOWNLOADS": "never", "VIRTUAL_ENV": ""}
API_KEY = "e2e-key"


def _combo_id(combo: dict[str, Any]) -> str:
    return "-".join(str(v)[:12] for v in combo.values()) or "defaults"


def _synced(source: Path, dst: Path) -> Path:
    """Copy a rendered project, lock it and install it as a user would."""
    shutil.copytree(source, dst)
    uv = require_tool("uv")
    if not (dst / "uv.lock").exists():
        run([uv, "lock"], cwd=dst, env=UV_ENV)
    run([uv, "sync", "--locked"], cwd=dst, env=UV_ENV)
    return dst


@pytest.fixture(scope="module", params=PROJECT_COMBOS, ids=_combo_id)
def project(
    request: pytest.FixtureRequest, rendered: Renderer, tmp_path_factory: pytest.TempPathFactory
) -> Path:
    """A rendered, locked and synced project, once per combination."""
    source = rendered(request.param)
    return _synced(source, tmp_path_factory.mktemp("synced") / source.name)


@pytest.mark.parametrize(
    "command", PROJECT_CHECKS, ids=lambda c: c[0] + ("-format" if "format" in c else "")
)
def test_generated_project_passes_its_own_checks(project: Path, command: list[str]) -> None:
    """The checks ci.yml runs (test_workflows.py holds it to the same list) pass."""
    uv = require_tool("uv")
    quiet = ["-q", "-p", "no:cacheprovider"] if command[0] == "pytest" else []
    result = run([uv, "run", "--locked", *command, *quiet], cwd=project, env=UV_ENV)
    if command[0] == "pytest":
        assert " passed" in result.stdout
        assert " failed" not in result.stdout


def test_uv_lock_is_committed_and_current(project: Path) -> None:
    run([require_tool("uv"), "lock", "--check"], cwd=project, env=UV_ENV)


def test_plain_copier_renders_a_working_project(tmp_path: Path) -> None:
    """`copier copy --trust --defaults` works without goldpath."""
    copier = require_tool("copier")
    dst = tmp_path / "plain"
    run(
        [copier, "copy", "--trust", "--defaults", "--vcs-ref", "HEAD", str(REPO_ROOT), str(dst)],
        cwd=tmp_path,
    )
    uv = require_tool("uv")
    run([uv, "sync"], cwd=dst, env=UV_ENV)
    result = run([uv, "run", "pytest", "-q", "-p", "no:cacheprovider"], cwd=dst, env=UV_ENV)
    assert " passed" in result.stdout


class Service:
    """The generated service started as its container starts it, on a loopback port."""

    def __init__(self, project: Path, **env: str) -> None:
        self.port = free_port()
        self.base_url = f"http://127.0.0.1:{self.port}"
        package = next(p.name for p in (project / "src").iterdir() if p.is_dir())
        settings = {
            "API_KEYS": API_KEY,
            "LLM_PROVIDER": "fake",
            "HOST": "127.0.0.1",
            "PORT": str(self.port),
            "SHUTDOWN_TIMEOUT_SECONDS": "5",
            "SERVED_MODELS": "fake-model",
        }
        self.process = subprocess.Popen(
            [str(project / ".venv" / "bin" / "python"), "-m", package],
            cwd=project,
            env={**os.environ, **settings, **env},
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        wait_until_ready(
            self.process,
            self.base_url,
            what="the service",
            seconds=30,
            output=lambda: self.process.stdout.read() if self.process.stdout else "",
            give_up=self.stop,
        )

    def stop(self) -> int:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
        return self.process.wait(timeout=15)


@pytest.fixture
def default_project(rendered: Renderer, tmp_path_factory: pytest.TempPathFactory) -> Path:
    return _synced(rendered({}), tmp_path_factory.mktemp("e2e") / "service")


@pytest.fixture
def service(default_project: Path) -> Iterator[Service]:
    running = Service(default_project)
    yield running
    running.stop()


def test_openai_client_gets_completions_and_streams(service: Service) -> None:
    import openai

    client = openai.OpenAI(base_url=f"{service.base_url}/v1", api_key=API_KEY, max_retries=0)
    reply = client.chat.completions.create(
        model="fake-model", messages=[{"role": "user", "content": "hello from the e2e test"}]
    )
    content = reply.choices[0].message.content
    assert content is not None
    assert content.endswith("hello from the e2e test")
    assert reply.usage is not None
    assert reply.usage.prompt_tokens == 5

    stream = client.chat.completions.create(
        model="fake-model",
        messages=[{"role": "user", "content": "hello from the e2e test"}],
        stream=True,
        stream_options={"include_usage": True},
    )
    pieces, usage = [], None
    for chunk in stream:
        if chunk.choices:
            pieces.append(chunk.choices[0].delta.content or "")
        usage = chunk.usage or usage
    assert "".join(pieces) == content
    assert usage is not None
    assert usage.total_tokens == reply.usage.total_tokens

    assert [m.id for m in client.models.list()] == [
        "gpt-4o-mini",
        "fake-model",
        "text-embedding-3-small",
    ]
    with pytest.raises(openai.AuthenticationError):
        openai.OpenAI(
            base_url=f"{service.base_url}/v1", api_key="wrong", max_retries=0
        ).models.list()

    metrics = httpx.get(f"{service.base_url}/metrics").text
    assert 'llm_tokens_total{model="fake-model",type="completion"}' in metrics
    assert "http_requests_in_flight 0.0" in metrics


def test_openai_client_gets_responses_over_a_real_connection(service: Service) -> None:
    """``/v1/responses`` streamed over TCP by uvicorn, as the official client reads it."""
    import openai

    client = openai.OpenAI(base_url=f"{service.base_url}/v1", api_key=API_KEY, max_retries=0)
    whole = client.responses.create(model="fake-model", input="hello responses")
    assert whole.output_text.endswith("hello responses")
    with client.responses.stream(model="fake-model", input="hello responses") as stream:
        kinds = [event.type for event in stream]
        final = stream.get_final_response()
    assert kinds[:2] == ["response.created", "response.in_progress"]
    assert kinds[-1] == "response.completed"
    assert final.output_text == whole.output_text
    assert client.models.retrieve("gpt-4o-mini").id == "gpt-4o-mini"
    with pytest.raises(openai.NotFoundError):
        client.models.retrieve("no-such-model")


def test_sigterm_lets_open_streams_finish_then_exits_cleanly(default_project: Path) -> None:
    import openai

    service = Service(default_project, FAKE_CHUNK_DELAY_SECONDS="0.1")
    client = openai.OpenAI(base_url=f"{service.base_url}/v1", api_key=API_KEY, max_retries=0)
    stream = BackgroundStream(client, "a b c d")
    stream.start()
    begin = time.monotonic()
    service.process.send_signal(signal.SIGTERM)
    text = stream.join(timeout=15)
    code = service.process.wait(timeout=15)
    assert code == 0
    assert time.monotonic() - begin < 8, "shutdown stays within the graceful timeout"
    assert text.endswith("a b c d"), "the open stream finished"
    output = service.process.stdout.read() if service.process.stdout else ""
    assert '"message":"draining: readiness is now 503"' in output
