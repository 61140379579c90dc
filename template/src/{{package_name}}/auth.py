"""The bearer keys the service accepts, compared by digest (``api/security.py`` uses them)."""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Iterable


def digest(key: str) -> bytes:
    """Return the SHA-256 digest of a key (keys are compared and identified by digest)."""
    return hashlib.sha256(key.encode()).digest()


class ApiKeys:
    """The keys the service accepts, compared by their SHA-256 digests."""

    def __init__(self, keys: Iterable[str], *, required: bool = True) -> None:
        self.required = required
        self._digests = tuple(digest(key) for key in sorted(keys))
        self._accepted: dict[str, str] = {}

    @property
    def empty(self) -> bool:
        """Whether no key is configured (then every API request is refused)."""
        return not self._digests

    def key_id(self, headers: Iterable[tuple[bytes, bytes]]) -> str | None:
        """Return the caller's key id, or None when the request must be refused.

        The id is the first 12 hex digits of the key's digest: it names the key in logs
        and budgets without revealing it. A presented key is compared in constant time,
        by digest, with every configured key. A key once accepted is remembered, so its
        callers skip the digest (about 2 % of a short request): the memo holds at most
        the configured keys, which the settings hold anyway, and a lookup in it tells an
        unknown key apart from a valid one only, as the 401 does.
        Without required keys every caller is ``anonymous``.
        """
        if not self.required:
            return "anonymous"
        key = _bearer_key(headers)
        if key is None:
            return None
        known = self._accepted.get(key)
        if known is not None:
            return known
        presented = digest(key)
        matched = False
        for candidate in self._digests:
            matched |= hmac.compare_digest(candidate, presented)
        if not matched:
            return None
        self._accepted[key] = key_id = presented.hex()[:12]
        return key_id


def _bearer_key(headers: Iterable[tuple[bytes, bytes]]) -> str | None:
    """Return the key of the ``Authorization: Bearer <key>`` header, if there is one."""
    for name, value in headers:
        if name == b"authorization":
            scheme, _, key = value.decode("latin-1").partition(" ")
            key = key.strip()
            return key if scheme.lower() == "bearer" and key else None
    return None
