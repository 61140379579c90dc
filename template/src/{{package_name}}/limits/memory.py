"""Limits in this process: for local runs and a single replica.

Each replica has its own counters and a restart starts the day at zero; with more than
one replica, answer ``state_backend: redis``.
"""

from __future__ import annotations

import itertools
import math
from collections import defaultdict
from dataclasses import dataclass, field

from .base import (
    DAY_SECONDS,
    WINDOW_SECONDS,
    Grant,
    Limits,
    RateState,
    Refused,
    RefusedLimit,
    Reservation,
    day_of,
)

__all__ = ["MemoryStore"]

_SERVICE = ""  # the service's counters sit beside the keys', under a name no key id has
_EPSILON = 1e-6


@dataclass
class _Lease:
    expires: float
    key_id: str
    tokens: int


@dataclass
class _Day:
    settled: defaultdict[str, int] = field(default_factory=lambda: defaultdict(int))
    held: defaultdict[str, int] = field(default_factory=lambda: defaultdict(int))
    leases: dict[str, _Lease] = field(default_factory=dict)
    earliest_expiry: float = math.inf  # no lease can expire before: most calls skip the scan


class MemoryStore:
    """The rules of ``limits.base`` on dictionaries; every step runs without awaiting,
    so each is atomic on the event loop."""

    def __init__(self) -> None:
        self._days: dict[int, _Day] = {}
        self._tat: dict[tuple[str, str], float] = {}  # (limit, key id) -> GCRA timestamp
        self._ids = itertools.count()

    def _day(self, number: int) -> _Day:
        if number not in self._days:
            # Only today and yesterday (whose requests may still settle) are kept.
            for old in [d for d in self._days if d < number - 1]:
                del self._days[old]
            self._days[number] = _Day()
        return self._days[number]

    @staticmethod
    def _expire(day: _Day, now: float) -> None:
        if now < day.earliest_expiry:
            return
        for lease_id in [i for i, lease in day.leases.items() if lease.expires <= now]:
            lease = day.leases.pop(lease_id)
            day.held[_SERVICE] -= lease.tokens
            day.held[lease.key_id] -= lease.tokens
        expiries = (lease.expires for lease in day.leases.values())
        day.earliest_expiry = min(expiries, default=math.inf)

    async def reserve(
        self,
        key_id: str,
        *,
        prompt_tokens: int,
        max_completion_tokens: int,
        limits: Limits,
        now: float,
    ) -> Grant:
        """Check the key's rate limits and hold budget tokens (see ``LimitStore``)."""
        number = day_of(now)
        day = self._day(number)
        self._expire(day, now)
        least = 1 if max_completion_tokens > 0 else 0
        need = prompt_tokens + least

        request_tat = None
        if limits.requests_per_minute:
            interval = WINDOW_SECONDS / limits.requests_per_minute
            request_tat = max(self._tat.get(("requests", key_id), now), now) + interval
            if request_tat - now > WINDOW_SECONDS + _EPSILON:
                raise Refused("requests", retry_after=request_tat - now - WINDOW_SECONDS)

        allowance = max_completion_tokens
        if limits.max_reservation_tokens:
            allowance = min(allowance, limits.max_reservation_tokens)
        scopes: tuple[tuple[RefusedLimit, str, int], ...] = (
            ("service_budget", _SERVICE, limits.service_daily_tokens),
            ("key_budget", key_id, limits.key_daily_tokens),
        )
        for limit, scope, budget in scopes:
            left = budget - day.settled[scope] - day.held[scope]
            if left < need:
                raise self._budget_refusal(
                    limit, day, scope, budget, left, need, now, (number + 1) * DAY_SECONDS
                )
            allowance = min(allowance, left - prompt_tokens)

        tokens_tat = None
        if limits.tokens_per_minute:
            interval = WINDOW_SECONDS / limits.tokens_per_minute
            tat = max(self._tat.get(("tokens", key_id), now), now)
            room = math.floor((WINDOW_SECONDS - (tat - now)) / interval + _EPSILON)
            if room < need:
                wait = tat - now - WINDOW_SECONDS + need * interval
                raise Refused("tokens", retry_after=wait, needed=need)
            allowance = min(allowance, room - prompt_tokens)
            tokens_tat = tat + (prompt_tokens + allowance) * interval

        tokens = prompt_tokens + allowance
        reservation = Reservation(
            id=str(next(self._ids)),
            key_id=key_id,
            day=number,
            tokens=tokens,
            max_completion_tokens=allowance,
            tokens_per_minute=limits.tokens_per_minute,
        )
        day.held[_SERVICE] += tokens
        day.held[key_id] += tokens
        expires = now + limits.lease_seconds
        day.leases[reservation.id] = _Lease(expires, key_id, tokens)
        day.earliest_expiry = min(day.earliest_expiry, expires)
        requests = tokens_state = None
        if request_tat is not None:
            self._tat[("requests", key_id)] = request_tat
            requests = _state(limits.requests_per_minute, request_tat, now)
        if tokens_tat is not None:
            self._tat[("tokens", key_id)] = tokens_tat
            tokens_state = _state(limits.tokens_per_minute, tokens_tat, now)
        return Grant(reservation, requests, tokens_state)

    @staticmethod
    def _budget_refusal(
        limit: RefusedLimit,
        day: _Day,
        scope: str,
        budget: int,
        left: int,
        need: int,
        now: float,
        midnight: float,
    ) -> Refused:
        """Say when room comes back: as leases end (held), or at midnight UTC (spent)."""
        if budget - day.settled[scope] >= need:
            free = left
            for lease in sorted(day.leases.values(), key=lambda lease: lease.expires):
                if scope in (_SERVICE, lease.key_id):
                    free += lease.tokens
                    if free >= need:
                        return Refused(
                            limit, retry_after=lease.expires - now, held=True, needed=need
                        )
        return Refused(limit, retry_after=midnight - now, needed=need)

    async def settle(self, reservation: Reservation, used_tokens: int, *, now: float) -> None:
        """Replace a reservation by the tokens really used (0 releases it)."""
        day = self._days.get(reservation.day)
        if day is None:
            return  # a day that is over: its counters are gone
        lease = day.leases.pop(reservation.id, None)
        if lease is not None:
            day.held[_SERVICE] -= lease.tokens
            day.held[reservation.key_id] -= lease.tokens
        day.settled[_SERVICE] += used_tokens
        day.settled[reservation.key_id] += used_tokens
        if reservation.tokens_per_minute:
            # The bucket was charged the reservation; correct it to the real usage.
            key = ("tokens", reservation.key_id)
            if key in self._tat:
                interval = WINDOW_SECONDS / reservation.tokens_per_minute
                correction = (used_tokens - reservation.tokens) * interval
                self._tat[key] = max(now, self._tat[key] + correction)

    async def spent(self, key_id: str, *, now: float) -> tuple[int, int, int, int]:
        """Return today's (service settled, service held, key settled, key held)."""
        day = self._day(day_of(now))
        self._expire(day, now)
        return (
            day.settled[_SERVICE],
            day.held[_SERVICE],
            day.settled[key_id],
            day.held[key_id],
        )

    async def aclose(self) -> None:
        """Nothing to release."""


def _state(limit: int, tat: float, now: float) -> RateState:
    interval = WINDOW_SECONDS / limit
    remaining = math.floor((WINDOW_SECONDS - (tat - now)) / interval + _EPSILON)
    return RateState(limit=limit, remaining=max(0, remaining), reset_seconds=max(0.0, tat - now))
