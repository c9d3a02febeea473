"""slap-edge: SLAP speaker-description models for edge devices."""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("slap-edge")
except PackageNotFoundError:  # running from a source tree that was not installed
    __version__ = "0.1.0"

__all__ = ["__version__"]
