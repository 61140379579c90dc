"""goldpath: scaffold production-ready GenAI service repositories and keep them up to date."""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("goldpath")
except PackageNotFoundError:  # pragma: no cover - running from a source tree without install
    __version__ = "0.0.0"

__all__ = ["__version__"]
