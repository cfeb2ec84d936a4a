"""The bridge layer: everything that turns bytes and files into a :class:`~gait.recording.Recording`.

Transports (BLE, serial, relay, replay), framing and decoding, and readers for recorded files live here
(DESIGN.md §1). Imports run one way: ``firmware_bridge`` may use ``gait`` and ``hardware``, never ``server``.

Readers for recorded files are in :mod:`firmware_bridge.readers`. Every error raised here derives from
:class:`BridgeError`.
"""

from __future__ import annotations

from firmware_bridge.errors import BridgeError, InputFileError

__all__ = ["BridgeError", "InputFileError"]
