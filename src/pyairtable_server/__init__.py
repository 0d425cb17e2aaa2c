"""The PyAirtable reference backend: implements shared/CONTRACT.md over SQLite or PostgreSQL."""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("pyairtable-integration")
except PackageNotFoundError:  # running from a source tree that was never installed
    __version__ = "0.0.0+unknown"

__all__ = ["__version__"]
