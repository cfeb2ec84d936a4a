"""The service layer: HTTP API, storage, background analysis, live fan-out, the ``fusiongait`` command line.

Imports run one way (DESIGN.md §1): ``server`` may use ``firmware_bridge``, ``hardware`` and ``gait``; nothing
imports ``server``. The command line is :mod:`server.cli` (console script ``fusiongait``).
"""

from __future__ import annotations

__all__: list[str] = []
