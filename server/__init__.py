"""The service layer: HTTP API, storage, background analysis, live fan-out, the ``fusiongait`` command line.

Imports run one way (DESIGN.md §1): ``server`` may use ``firmware_bridge``, ``hardware`` and ``gait``; nothing
imports ``server``. The command line is :mod:`server.cli` (console script ``fusiongait``); the HTTP service is
:func:`server.app.create_app`.
"""

from __future__ import annotations

from importlib.metadata import PackageNotFoundError, version

__all__ = ["__version__"]

try:
    __version__ = version("fusiongait")
except PackageNotFoundError:  # running from a source tree that is not installed
    __version__ = "0+unknown"
