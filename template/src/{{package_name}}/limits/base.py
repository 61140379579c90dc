"""The limit store: one atomic step that checks rate limits and reserves budget tokens.

Both stores implement the same rules (``memory.py`` in the process, ``redis.py`` as Lua
scripts shared by every replica), so the service behaves the same with either:

* Daily budgets (service and key) count tokens *settled* today plus tokens *held* by
  requests in flight. A request gets ``min(requested, cap, what is left)`` completion
  tokens and is refused only when nothing is left after its prompt.
* A reservation is a lease: if its replica dies before settling, the lease expires and
  the tokens are free again.
* Requests and tokens per minute use GCRA (a token bucket kept as one timestamp): a full
  minute's allowance may be spent at once, then it refills continuously.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal, Protocol

__all__ = [
    "DAY_SECONDS",
    "WINDOW_SECONDS",
    "Grant",
    "LimitStore",
    "Limits",
    "RateState",
    "Refused",
    "RefusedLimit",
    "Reservation",
    "StoreUnavailableError",
    "day_of",
]

DAY_SECONDS = 86_400
WINDOW_SECONDS = 60
"""Rate limits are per minute: a bucket holds one minute's allowance."""

RefusedLimit = Literal["requests", "tokens", "service_budget", "key_budget"]


def day_of(now: float) -> int:
    """Return the UTC day number (days since the epoch) of a Unix time."""
    return int(now // DAY_SECONDS)


@dataclass(frozen=True)
class Limits:
    """The limits that apply to one request; 0 turns a per-minute limit off."""

    service_daily_tokens: int
    key_daily_tokens: int
    requests_per_minute: int = 0
    tokens_per_minute: int = 0
    max_reservation_tokens: int = 0
    """Most completion tokens one request may hold (0: no cap beyond the budgets)."""
    lease_seconds: float = 600.0
    """How long a reservation holds its tokens if it is never settled."""


@dataclass(frozen=True)
class Reservation:
    """Tokens held for one request until it is settled or released."""

    id: str
    key_id: str
    day: int
    tokens: int
    max_completion_tokens: int
    tokens_per_minute: int


@dataclass(frozen=True)
class RateState:
    """Where a key stands against one per-minute limit, after this request."""

    limit: int
    remaining: int
    reset_seconds: float
    """Seconds until the bucket is full again (OpenAI's ``x-ratelimit-reset-*``)."""


@dataclass(frozen=True)
class Grant:
    """A reservation and where the key's per-minute limits stand (None: limit off)."""

    reservation: Reservation
    requests: RateState | None
    tokens: RateState | None


class Refused(Exception):
    """A limit leaves no room for the request.

    ``held`` says the room is held by requests in flight (it comes back when they end,
    at the latest when their leases expire), not spent for the day.
    """

    def __init__(
        self, limit: RefusedLimit, *, retry_after: float, held: bool = False, needed: int = 0
    ) -> None:
        super().__init__(limit)
        self.limit = limit
        self.retry_after = retry_after
        self.held = held
        self.needed = needed


class StoreUnavailableError(Exception):
    """The limit store cannot be reached (Redis down, timed out, refused the script)."""


class LimitStore(Protocol):
    """Where budgets and rate limits live: this process, or Redis shared by replicas."""

    async def reserve(
        self,
        key_id: str,
        *,
        prompt_tokens: int,
        max_completion_tokens: int,
        limits: Limits,
        now: float,
    ) -> Grant:
        """Check the key's rate limits and hold budget tokens, atomically.

        Raises ``Refused`` when a limit leaves no room, ``StoreUnavailableError`` when
        the store cannot answer.
        """
        ...

    async def settle(self, reservation: Reservation, used_tokens: int, *, now: float) -> None:
        """Replace a reservation by the tokens really used (0 releases it)."""
        ...

    async def spent(self, key_id: str, *, now: float) -> tuple[int, int, int, int]:
        """Return today's settled and held tokens: (service settled, service held, key
        settled, key held)."""
        ...

    async def aclose(self) -> None:
        """Release connections."""
        ...
