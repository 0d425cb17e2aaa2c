"""PyAirtable Integration: the typed, async-first client layer for the PyAirtable platform.

The client services, caching, realtime and offline subsystems arrive in later releases; for now the
package carries its version and the reference backend ships beside it as ``pyairtable_server``.
"""

from ._version import __version__

__all__ = ["__version__"]
