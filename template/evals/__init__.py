"""Evals of the running service: datasets, scorers, a baseline and its quality gate."""

from __future__ import annotations

__all__: list[str] = []
