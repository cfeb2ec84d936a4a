"""Exceptions of the hardware layer (device profiles, wire protocol, capture files, simulator).

Every error raised by ``hardware`` derives from :class:`HardwareError`, so the layers above can map the whole family
in one place (DESIGN.md §5 rule 6). Byte-level errors say what was expected and what came, so a counter in the
bridge can be labelled with the reason.
"""

from __future__ import annotations

__all__ = ["CaptureError", "FramingError", "HardwareError", "PacketError", "ProfileError"]


class HardwareError(Exception):
    """Root of all errors raised by the hardware layer."""


class PacketError(HardwareError, ValueError):
    """A packet's bytes are not a valid packet of PROTOCOL.md §1 (length, CRC, type or field out of range)."""


class FramingError(HardwareError, ValueError):
    """A serial frame is not valid COBS, or is longer than the frame cap of PROTOCOL.md §2."""


class CaptureError(HardwareError, ValueError):
    """A capture file (``.imucap``, PROTOCOL.md §5) is malformed: bad magic, header or record."""


class ProfileError(HardwareError, ValueError):
    """A device profile is unknown or inconsistent."""
