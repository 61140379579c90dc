"""goldpath: scaffold production-ready GenAI service repositories and keep them up to date."""

from __future__ import annotations

__all__ = ["__version__"]


def __getattr__(name: str) -> str:
    # Looked up lazily: importlib.metadata costs tens of milliseconds at every start.
    if name == "__version__":
        from .release import own_version

        return own_version()
    raise AttributeError(name)
