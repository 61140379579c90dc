"""Budget and rate-limit rules on top of a limit store: caps, 429s, Retry-After, headers.

A request reserves its prompt plus the completion tokens it may use before the provider
is called; its completion is capped to ``min(requested, MAX_RESERVATION_TOKENS, what is
left)``, so one caller asking for a billion tokens holds at most the cap. The
reservation is settled with the real usage; a call the provider never answered is
released, a stream that ended early is charged its prompt and what was streamed.
Settled spend exceeds a budget only by what the prompt estimates of the requests in
flight got wrong; ``STRICT_BUDGETS`` reserves the prompt's UTF-8 byte count instead, an
upper bound of any byte-level BPE token count, so for text it never does.
"""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Callable
from dataclasses import dataclass

from .config import Settings
from .errors import APIError
from .limits import (
    DAY_SECONDS,
    Grant,
    Limits,
    LimitStore,
    RateState,
    Refused,
    Reservation,
    StoreUnavailableError,
)

__all__ = [
    "Admission",
    "Budgets",
    "format_reset",
]

logger = logging.getLogger(__name__)


def format_reset(seconds: float) -> str:
    """Return a duration as OpenAI's ``x-ratelimit-reset-*`` headers write it (``20ms``,
    ``1s``, ``6m0s``)."""
    if seconds < 1:
        return f"{max(0, math.ceil(seconds * 1000))}ms"
    minutes, rest = divmod(seconds, 60)
    text = f"{rest:.3f}".rstrip("0").rstrip(".") + "s"
    return f"{int(minutes)}m{text}" if minutes else text


@dataclass
class Admission:
    """What the limits granted one request: its completion allowance and response headers.

    ``headers`` are the ``x-ratelimit-*`` headers OpenAI's API sends, for the response.
    ``reservation`` is None when the store was unreachable and ``LIMITS_FAIL_OPEN`` let
    the request through unaccounted.
    """

    key_id: str
    max_completion_tokens: int
    headers: dict[str, str]
    reservation: Reservation | None


class Budgets:
    """The limits every API call goes through: admit before the call, settle or release after.

    ``admit`` raises an ``APIError``: 429 with ``Retry-After`` when a limit leaves no
    room, 503 when the limit store cannot answer (unless ``fail_open``). Embeddings are
    admitted with ``max_completion_tokens=0``.
    """

    def __init__(
        self,
        store: LimitStore,
        settings: Settings,
        *,
        fail_open: bool = False,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.store = store
        self._settings = settings
        self._fail_open = fail_open
        self._clock = clock
        self._strict = settings.strict_budgets

    def limits_for(self, key_id: str) -> Limits:
        """Return the limits of a key: the defaults, with the key's overrides from KEY_LIMITS."""
        settings = self._settings
        override = settings.key_limits.get(key_id)
        rpm, tpm = settings.requests_per_minute, settings.tokens_per_minute
        key_daily = settings.daily_token_budget_per_key
        if override is not None:
            rpm = override.requests_per_minute if override.requests_per_minute is not None else rpm
            tpm = override.tokens_per_minute if override.tokens_per_minute is not None else tpm
            if override.daily_token_budget is not None:
                key_daily = override.daily_token_budget
        return Limits(
            service_daily_tokens=settings.daily_token_budget,
            key_daily_tokens=key_daily,
            requests_per_minute=rpm,
            tokens_per_minute=tpm,
            max_reservation_tokens=settings.max_reservation_tokens,
            lease_seconds=settings.reservation_lease_seconds,
        )

    async def remaining(self, key_id: str) -> tuple[int, int]:
        """Return the tokens left today (neither settled nor held) for the service and the key."""
        limits = self.limits_for(key_id)
        service, service_held, key, key_held = await self.store.spent(key_id, now=self._clock())
        return (
            limits.service_daily_tokens - service - service_held,
            limits.key_daily_tokens - key - key_held,
        )

    async def service_remaining(self) -> int | None:
        """Return the service-wide tokens left today, or None when the store cannot answer."""
        try:
            # The key's half of the answer is not needed: any key id will do.
            service, service_held, _, _ = await self.store.spent("", now=self._clock())
        except StoreUnavailableError as error:
            logger.warning("limit store unreachable: budget not read", extra=_fields(error))
            return None
        return max(0, self._settings.daily_token_budget - service - service_held)

    async def admit(
        self,
        key_id: str,
        *,
        prompt_tokens: int,
        max_completion_tokens: int,
        prompt_upper_bound: int | None = None,
    ) -> Admission:
        """Check the key's rate limits and reserve tokens for a request, or refuse it.

        ``prompt_upper_bound`` (``translate.prompt_tokens(..., upper_bound=True)``) is
        what STRICT_BUDGETS reserves for the prompt instead of the estimate.
        """
        if self._strict and prompt_upper_bound is not None:
            prompt_tokens = max(prompt_tokens, prompt_upper_bound)
        limits = self.limits_for(key_id)
        now = self._clock()
        try:
            grant = await self.store.reserve(
                key_id,
                prompt_tokens=prompt_tokens,
                max_completion_tokens=max_completion_tokens,
                limits=limits,
                now=now,
            )
        except Refused as refused:
            raise _refusal(refused, limits, now) from None
        except StoreUnavailableError as error:
            if not self._fail_open:
                logger.error("limit store unreachable: request refused", extra=_fields(error))
                raise APIError(
                    503,
                    "the service cannot check its rate limits and budgets now; retry later",
                    type="api_error",
                    code="limits_unavailable",
                ) from error
            logger.warning("limit store unreachable: request let through", extra=_fields(error))
            allowance = max_completion_tokens
            if limits.max_reservation_tokens:
                allowance = min(allowance, limits.max_reservation_tokens)
            return Admission(key_id, allowance, {}, None)
        return Admission(
            key_id, grant.reservation.max_completion_tokens, _headers(grant), grant.reservation
        )

    async def settle(self, admission: Admission, used_tokens: int) -> None:
        """Replace the reservation by the tokens the call really used."""
        await self._settle(admission, used_tokens)

    async def release(self, admission: Admission) -> None:
        """Give a failed call's reservation back."""
        await self._settle(admission, 0)

    async def _settle(self, admission: Admission, used_tokens: int) -> None:
        reservation = admission.reservation
        if reservation is None:
            return
        admission.reservation = None  # settled once, whatever calls it again
        try:
            await self.store.settle(reservation, used_tokens, now=self._clock())
        except StoreUnavailableError as error:
            # The response is already on its way; the lease gives the tokens back later.
            logger.warning("limit store unreachable: usage not recorded", extra=_fields(error))

    async def aclose(self) -> None:
        """Release connections to the limit store."""
        await self.store.aclose()


def _fields(error: Exception) -> dict[str, dict[str, str]]:
    return {"fields": {"error": str(error)}}


def _headers(grant: Grant) -> dict[str, str]:
    headers: dict[str, str] = {}
    for name, state in (("requests", grant.requests), ("tokens", grant.tokens)):
        if state is not None:
            headers.update(_rate_headers(name, state))
    return headers


def _rate_headers(name: str, state: RateState) -> dict[str, str]:
    return {
        f"x-ratelimit-limit-{name}": str(state.limit),
        f"x-ratelimit-remaining-{name}": str(state.remaining),
        f"x-ratelimit-reset-{name}": format_reset(state.reset_seconds),
    }


def _refusal(refused: Refused, limits: Limits, now: float) -> APIError:
    """Return the 429 of a refusal, in OpenAI's shape, with an honest ``Retry-After``."""
    wait = max(refused.retry_after, 0.0)
    if refused.limit not in ("requests", "tokens"):  # per-minute windows outlive midnight
        wait = min(wait, DAY_SECONDS - now % DAY_SECONDS)  # daily budgets reset at it
    retry_after = str(max(1, math.ceil(wait)))
    headers = {"Retry-After": retry_after}
    if refused.limit in ("requests", "tokens"):
        if refused.limit == "requests":
            limit, unit = limits.requests_per_minute, "requests per min (RPM)"
        else:
            limit, unit = limits.tokens_per_minute, "tokens per min (TPM)"
        headers[f"x-ratelimit-limit-{refused.limit}"] = str(limit)
        headers[f"x-ratelimit-remaining-{refused.limit}"] = "0"
        headers[f"x-ratelimit-reset-{refused.limit}"] = format_reset(wait)
        if refused.needed > limit:
            message = (
                f"Request too large on {unit}: Limit {limit}, Requested {refused.needed}. "
                "Send a shorter prompt."
            )
        else:
            message = (
                f"Rate limit reached on {unit}: Limit {limit}. Please try again in {retry_after}s."
            )
        return APIError(
            429, message, type=refused.limit, code="rate_limit_exceeded", headers=headers
        )
    scope = "service" if refused.limit == "service_budget" else "key"
    if refused.held:
        message = (
            f"the daily token budget of the {scope} is held by requests in flight; "
            f"retry in {retry_after}s at the latest"
        )
    else:
        message = f"daily token budget of the {scope} is spent; it resets at midnight UTC"
    return APIError(
        429, message, type="rate_limit_error", code="token_budget_exceeded", headers=headers
    )
