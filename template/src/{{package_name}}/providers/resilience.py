"""Retries, a fallback chain and a circuit breaker around the configured provider.

This is the one retry layer of the service: adapters set their SDK's retries to 0 and
report each failure as a ``ProviderError`` saying whether it is ``retryable``. A call is
retried only before its first byte reaches the client: a completion until it returns,
a stream until its first chunk arrives. Once a chunk was handed on, the stream is
committed and a later failure ends it (the route sends the error event).
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
import random
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import TypeVar

from .base import (
    Chunk,
    Completion,
    CompletionRequest,
    EmbeddingRequest,
    Embeddings,
    Provider,
    ProviderError,
    close_stream,
)

T = TypeVar("T")

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class RetryPolicy:
    """How often and how long to wait before calling a failing provider again.

    ``max_attempts`` counts the first call. The wait before attempt ``n + 1`` is a
    random time up to ``base_delay_seconds * 2**(n - 1)`` ("full jitter"), or the
    upstream's ``Retry-After`` when it sent one. A wait longer than
    ``max_delay_seconds`` is not made: the error goes on (to the next model of the
    fallback chain, or to the client with its ``Retry-After``).
    """

    max_attempts: int = 3
    base_delay_seconds: float = 0.25
    max_delay_seconds: float = 5.0

    def delay(self, attempt: int, error: ProviderError, draw: float) -> float | None:
        """Return the wait before retrying after failed ``attempt`` (1-based), or None."""
        if attempt >= self.max_attempts or not error.retryable:
            return None
        if error.retry_after is not None:
            wait = error.retry_after
        else:
            wait = draw * self.base_delay_seconds * 2 ** (attempt - 1)
        return wait if wait <= self.max_delay_seconds else None


class CircuitBreaker:
    """Closed, open after ``failures`` failures in a row, half-open after ``cooldown_seconds``.

    Half-open lets one call through as a probe: its success closes the circuit, its
    failure opens it again. ``failures=0`` turns the breaker off.
    """

    def __init__(
        self,
        *,
        failures: int,
        cooldown_seconds: float,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.threshold = failures
        self.cooldown_seconds = cooldown_seconds
        self._clock = clock
        self._failures = 0
        self._open_until: float | None = None
        self._probing = False

    @property
    def state(self) -> str:
        """Return ``closed``, ``open`` or ``half-open``."""
        if self._open_until is None:
            return "closed"
        return "open" if self._clock() < self._open_until else "half-open"

    def retry_in(self) -> float:
        """Return the seconds until the circuit lets a probe through."""
        if self._open_until is None:
            return 0.0
        return max(0.0, self._open_until - self._clock())

    def allow(self) -> bool:
        """Return whether a call may go out now; in half-open, only the first one may."""
        state = self.state
        if state == "closed":
            return True
        if state == "open" or self._probing:
            return False
        self._probing = True
        return True

    def succeeded(self) -> None:
        """Close the circuit."""
        self._failures = 0
        self._open_until = None
        self._probing = False

    def abandoned(self) -> None:
        """Free the probe of a call that ended without a verdict (cancelled, or a bug)."""
        self._probing = False

    def failed(self) -> bool:
        """Count a failure; return True when this failure opened the circuit."""
        self._failures += 1
        was_probe = self._probing
        self._probing = False
        if self.threshold and (was_probe or self._failures >= self.threshold):
            self._open_until = self._clock() + self.cooldown_seconds
            return True
        return False


@dataclass(frozen=True)
class Target:
    """A provider and the model to ask it for."""

    provider: Provider
    model: str

    @property
    def label(self) -> str:
        """Return ``provider:model`` as settings and logs write it."""
        return f"{self.provider.name}:{self.model}"


def parse_target(entry: str, providers: Mapping[str, Provider], default: Provider) -> Target:
    """Turn a fallback entry into a target: ``model`` or ``provider:model``.

    Only a known provider name counts as a prefix, so model ids that contain colons
    (Bedrock's ``...-v1:0``) stay whole.
    """
    name, sep, model = entry.partition(":")
    if sep and name in providers:
        return Target(providers[name], model)
    return Target(default, entry)


class ResilientProvider:
    """A ``Provider`` that retries, falls back and breaks circuits around another one."""

    def __init__(
        self,
        primary: Provider,
        *,
        policy: RetryPolicy,
        fallbacks: Mapping[str, Sequence[Target]] | None = None,
        breaker_failures: int = 5,
        breaker_cooldown_seconds: float = 30.0,
        deadline_seconds: float | None = None,
        others: Sequence[Provider] = (),
        models: Sequence[str] = (),
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
        draw: Callable[[], float] = random.random,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.primary = primary
        self.name = primary.name
        self.policy = policy
        self.fallbacks = dict(fallbacks or {})
        self.deadline_seconds = deadline_seconds
        self._others = others
        self._breaker_failures = breaker_failures
        self._breaker_cooldown = breaker_cooldown_seconds
        self._breakers: dict[tuple[str, str], CircuitBreaker] = {}
        self._sleep = sleep
        self._draw = draw
        self._clock = clock
        # Every target the settings name has its breaker (and its metric series) from
        # the start; only served models reach the chain, so no caller adds one.
        for model in (*models, *self.fallbacks):
            for target in self._chain(model):
                self.breaker(target)

    def open_circuits(self) -> dict[str, bool]:
        """Return whether each target's circuit is open or half-open, by ``provider:model``.

        Read by the metrics' scrape in a worker thread: the breakers are copied first.
        """
        return {
            f"{provider}:{model}": breaker.state != "closed"
            for (provider, model), breaker in list(self._breakers.items())
        }

    def breaker(self, target: Target) -> CircuitBreaker:
        """Return the circuit breaker of a provider and model."""
        key = (target.provider.name, target.model)
        breaker = self._breakers.get(key)
        if breaker is None:
            breaker = self._breakers[key] = CircuitBreaker(
                failures=self._breaker_failures,
                cooldown_seconds=self._breaker_cooldown,
                clock=self._clock,
            )
        return breaker

    def _chain(self, model: str) -> list[Target]:
        return [Target(self.primary, model), *self.fallbacks.get(model, ())]

    async def _call(
        self,
        model: str,
        call: Callable[[Target], Awaitable[T]],
        *,
        chain: bool = True,
    ) -> T:
        """Run ``call`` on the chain's targets with retries until one succeeds."""
        started = time.monotonic()
        targets = self._chain(model) if chain else [Target(self.primary, model)]
        last: ProviderError | None = None
        for index, target in enumerate(targets):
            if index:
                _warn("falling back", target=target, cause=last, previous=targets[index - 1])
            breaker = self.breaker(target)
            attempt = 0
            while True:
                if not breaker.allow():
                    last = _CircuitOpen(target, breaker.retry_in())
                    _warn("circuit open: call skipped", target=target, cause=last)
                    break
                attempt += 1
                try:
                    result = await call(target)
                except ProviderError as error:
                    last = error
                    if not error.retryable:
                        breaker.succeeded()  # the upstream answered; the request was refused
                        raise
                    if breaker.failed():
                        _warn("circuit opened", target=target, cause=error, attempt=attempt)
                    wait = self.policy.delay(attempt, error, self._draw())
                    if wait is None or not self._in_time(started, wait):
                        break
                    _warn("retrying", target=target, cause=error, attempt=attempt, wait=wait)
                    await self._sleep(wait)
                    continue
                except BaseException:
                    breaker.abandoned()
                    raise
                breaker.succeeded()
                return result
        assert last is not None
        raise last

    def _in_time(self, started: float, wait: float) -> bool:
        """Return whether a retry after ``wait`` still starts before the route's deadline."""
        if self.deadline_seconds is None:
            return True
        return time.monotonic() - started + wait < self.deadline_seconds

    async def complete(self, request: CompletionRequest) -> Completion:
        """Return the whole completion of the first target that answers."""

        async def call(target: Target) -> Completion:
            return await target.provider.complete(_for(request, target))

        return await self._call(request.model, call)

    async def stream(self, request: CompletionRequest) -> AsyncIterator[Chunk]:
        """Yield the stream of the first target whose first chunk arrives, then commit."""

        async def open_stream(target: Target) -> tuple[AsyncIterator[Chunk], Chunk | None]:
            chunks = aiter(target.provider.stream(_for(request, target)))
            try:
                return chunks, await anext(chunks, None)
            except BaseException:
                await close_stream(chunks)
                raise

        chunks, first = await self._call(request.model, open_stream)
        try:
            if first is None:
                return
            yield first
            async for chunk in chunks:
                yield chunk
        finally:
            await close_stream(chunks)

    async def embed(self, request: EmbeddingRequest) -> Embeddings:
        """Return embeddings, with retries; never from another model (other vector space)."""

        async def call(target: Target) -> Embeddings:
            return await target.provider.embed(request)

        return await self._call(request.model, call, chain=False)

    async def aclose(self) -> None:
        """Close the primary provider and the fallbacks' providers."""
        await self.primary.aclose()
        for other in self._others:
            await other.aclose()


class _CircuitOpen(ProviderError):
    """The target's circuit is open: the call was not made."""

    def __init__(self, target: Target, retry_in: float) -> None:
        super().__init__(
            f"{target.label} is failing; calls resume in {retry_in:.0f} s",
            status=503,
            code="circuit_open",
            retry_after=max(1.0, retry_in),
        )


def _for(request: CompletionRequest, target: Target) -> CompletionRequest:
    if request.model == target.model:
        return request
    return dataclasses.replace(request, model=target.model)


def _warn(
    step: str,
    *,
    target: Target,
    cause: ProviderError | None,
    attempt: int | None = None,
    wait: float | None = None,
    previous: Target | None = None,
) -> None:
    """Log one resilience step as one line with its cause (no traceback)."""
    fields: dict[str, object] = {"target": target.label}
    if previous is not None:
        fields["from"] = previous.label
    if cause is not None:
        fields["cause"] = f"{type(cause).__name__}: {cause.status} {cause.message}"
    if attempt is not None:
        fields["attempt"] = attempt
    if wait is not None:
        fields["wait_s"] = round(wait, 3)
    logger.warning("upstream %s", step, extra={"fields": fields})
