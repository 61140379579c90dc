"""Identifiers of requests and completions."""

from __future__ import annotations

import random


def new_id() -> str:
    """Return 32 random hex digits.

    The ids name requests in logs and completions in responses: they must not collide,
    and need not be secret. The ``random`` module is seeded from the OS at start and
    again in every forked child, and costs no system call per id, where ``os.urandom``
    makes one on every request.
    """
    return f"{random.getrandbits(128):032x}"
