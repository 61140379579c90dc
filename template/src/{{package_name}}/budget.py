"""Daily token budgets per service and per API key, with reservations.

A request reserves its prompt estimate plus the completion tokens it may use before the
provider is called, and the completion is capped to what the budgets have left, so
concurrent requests cannot overspend. The reservation is settled with the real usage,
or released when the call fails: failed calls are not charged.
Budgets live in process memory and reset at midnight UTC; each replica has its own.
"""

from __future__ import annotations

import time
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass

from .errors import APIError

_DAY = 86_400


class BudgetExceededError(Exception):
    """The service's or the key's daily budget cannot cover the request."""

    def __init__(self, scope: str, retry_after: int) -> None:
        super().__init__(f"daily token budget of the {scope} is spent")
        self.scope = scope
        self.retry_after = retry_after


@dataclass
class Reservation:
    """Tokens held for one request until it is settled or released."""

    key_id: str
    day: int
    tokens: int
    max_completion_tokens: int
    done: bool = False


class TokenBudget:
    """Track tokens used and reserved today, for the service and for each key."""

    def __init__(
        self,
        *,
        daily_limit: int,
        per_key_limit: int,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._daily_limit = daily_limit
        self._per_key_limit = per_key_limit
        self._clock = clock
        self._day = self._today()
        self._service_used = 0
        self._key_used: defaultdict[str, int] = defaultdict(int)

    def _today(self) -> int:
        return int(self._clock() // _DAY)

    def _roll_over(self) -> None:
        today = self._today()
        if today != self._day:
            self._day = today
            self._service_used = 0
            self._key_used.clear()

    def seconds_until_reset(self) -> int:
        """Return the whole seconds until the budgets reset (at least 1)."""
        return max(1, int((self._today() + 1) * _DAY - self._clock()))

    def remaining(self, key_id: str) -> tuple[int, int]:
        """Return the tokens left today for the service and for the key."""
        self._roll_over()
        return (
            self._daily_limit - self._service_used,
            self._per_key_limit - self._key_used[key_id],
        )

    def reserve(
        self, key_id: str, *, prompt_tokens: int, max_completion_tokens: int
    ) -> Reservation:
        """Hold tokens for a request, capping its completion to what is left."""
        service_left, key_left = self.remaining(key_id)
        for scope, left in (("service", service_left), ("key", key_left)):
            if left - prompt_tokens < 1:
                raise BudgetExceededError(scope, self.seconds_until_reset())
        completion = min(
            max_completion_tokens, service_left - prompt_tokens, key_left - prompt_tokens
        )
        tokens = prompt_tokens + completion
        self._service_used += tokens
        self._key_used[key_id] += tokens
        return Reservation(
            key_id=key_id, day=self._day, tokens=tokens, max_completion_tokens=completion
        )

    def settle(self, reservation: Reservation, used_tokens: int) -> None:
        """Replace a reservation by the tokens the call really used."""
        self._adjust(reservation, used_tokens)

    def release(self, reservation: Reservation) -> None:
        """Give a failed call's reservation back."""
        self._adjust(reservation, 0)

    def _adjust(self, reservation: Reservation, used_tokens: int) -> None:
        if reservation.done:
            return
        reservation.done = True
        self._roll_over()
        if reservation.day != self._day:
            return  # Counters were reset at midnight; the old day's tokens no longer count.
        delta = used_tokens - reservation.tokens
        self._service_used = max(0, self._service_used + delta)
        self._key_used[reservation.key_id] = max(0, self._key_used[reservation.key_id] + delta)


@dataclass
class Admission:
    """What the limits granted one request: its completion allowance and response headers.

    ``headers`` are the ``x-ratelimit-*`` headers OpenAI's API sends, for the response.
    """

    key_id: str
    max_completion_tokens: int
    headers: dict[str, str]
    reservation: Reservation


class Budgets:
    """The limits every API call goes through: admit before the call, settle or release after.

    ``admit`` raises an ``APIError`` (429 with ``Retry-After``) when a limit leaves no
    room. Embeddings are admitted with ``max_completion_tokens=0``.
    """

    def __init__(self, budget: TokenBudget) -> None:
        self._budget = budget

    def remaining(self, key_id: str) -> tuple[int, int]:
        """Return the tokens left today for the service and for the key."""
        return self._budget.remaining(key_id)

    async def admit(
        self, key_id: str, *, prompt_tokens: int, max_completion_tokens: int
    ) -> Admission:
        """Reserve tokens for a request, or refuse it with a 429."""
        try:
            reservation = self._budget.reserve(
                key_id, prompt_tokens=prompt_tokens, max_completion_tokens=max_completion_tokens
            )
        except BudgetExceededError as error:
            raise APIError(
                429,
                f"{error}; it resets at midnight UTC",
                type="rate_limit_error",
                code="token_budget_exceeded",
                headers={"Retry-After": str(error.retry_after)},
            ) from error
        return Admission(key_id, reservation.max_completion_tokens, {}, reservation)

    async def settle(self, admission: Admission, used_tokens: int) -> None:
        """Replace the reservation by the tokens the call really used."""
        self._budget.settle(admission.reservation, used_tokens)

    async def release(self, admission: Admission) -> None:
        """Give a failed call's reservation back."""
        self._budget.release(admission.reservation)

    async def aclose(self) -> None:
        """Release connections to the limit store."""
