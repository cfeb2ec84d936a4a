"""Serial framing (``hardware/PROTOCOL.md`` §2): ``COBS(packet) || 0x00``, pure and I/O-free.

COBS (consistent overhead byte stuffing) removes every zero byte from a packet at a cost of one byte per 254, so a
single 0x00 can end each frame and a receiver can find the next frame boundary after any garbage. The encoding and
decoding are done by the ``cobs`` package (a small, C-accelerated, long-maintained implementation); this module adds
the stream side: a :class:`Deframer` that accepts bytes in chunks of any size, one byte at a time included, caps
the frame length, drops what cannot be decoded up to the next delimiter, and counts every error.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

from cobs import cobs

from hardware.errors import FramingError

__all__ = ["MAX_FRAME_BYTES", "Deframer", "DeframerStats", "frame", "unframe"]

#: The longest encoded frame (without its 0x00 delimiter) a receiver accepts, in bytes.
MAX_FRAME_BYTES: Final = 512


def frame(packet: bytes | bytearray | memoryview) -> bytes:
    """One serial frame: the COBS encoding of ``packet`` followed by the 0x00 delimiter.

    Raises
    ------
    FramingError
        If the packet is empty or its encoding is longer than :data:`MAX_FRAME_BYTES`.
    """
    if len(packet) == 0:
        raise FramingError("packet: expected at least 1 byte, got an empty packet")
    encoded: bytes = cobs.encode(bytes(packet))
    if len(encoded) > MAX_FRAME_BYTES:
        raise FramingError(f"packet: encodes to {len(encoded)} bytes, more than the {MAX_FRAME_BYTES}-byte frame cap")
    return encoded + b"\x00"


def unframe(encoded: bytes | bytearray | memoryview) -> bytes:
    """Decode one frame's COBS bytes (without the delimiter); raise :class:`FramingError` if they are not COBS."""
    try:
        decoded: bytes = cobs.decode(bytes(encoded))
    except cobs.DecodeError as exc:
        raise FramingError(f"frame: not valid COBS ({exc})") from None
    return decoded


@dataclass(slots=True)
class DeframerStats:
    """Running counters of a :class:`Deframer`.

    Attributes
    ----------
    frames : int
        Frames decoded and returned.
    cobs_errors : int
        Frames dropped because their bytes were not valid COBS (garbage, a corrupted or partial frame).
    oversize : int
        Frames dropped because they ran past :data:`MAX_FRAME_BYTES` before a delimiter came.
    bytes_dropped : int
        Bytes discarded by either kind of error.
    """

    frames: int = 0
    cobs_errors: int = 0
    oversize: int = 0
    bytes_dropped: int = 0

    @property
    def errors(self) -> int:
        """All dropped frames."""
        return self.cobs_errors + self.oversize


class Deframer:
    """Split a serial byte stream into packets; resynchronise at the next 0x00 after any error.

    Pure and I/O-free: the caller feeds bytes as they arrive and gets the decoded packets (still to be checked by
    the packet CRC, :mod:`hardware.protocol`). The result does not depend on how the stream is chunked.

    Parameters
    ----------
    max_frame_bytes : int
        Frame cap; a frame longer than this is dropped without being buffered further.
    """

    def __init__(self, *, max_frame_bytes: int = MAX_FRAME_BYTES) -> None:
        if max_frame_bytes < 2:
            raise FramingError(f"max_frame_bytes: expected at least 2, got {max_frame_bytes!r}")
        self._max = max_frame_bytes
        self._pending = bytearray()
        self._overflowing = False  # dropping bytes of an oversize frame until the next delimiter
        self.stats = DeframerStats()

    @property
    def buffered_bytes(self) -> int:
        """Bytes of an incomplete frame held until its delimiter arrives."""
        return len(self._pending)

    def feed(self, data: bytes | bytearray | memoryview) -> list[bytes]:
        """Add received bytes; return the packets of every frame they complete, in order."""
        out: list[bytes] = []
        parts = bytes(data).split(b"\x00")
        stats = self.stats
        for i, part in enumerate(parts):
            last = i == len(parts) - 1  # bytes after the last delimiter: an unfinished frame
            if self._overflowing:
                stats.bytes_dropped += len(part)
                if not last:
                    self._overflowing = False
                continue
            if len(self._pending) + len(part) > self._max:
                stats.oversize += 1
                stats.bytes_dropped += len(self._pending) + len(part)
                self._pending.clear()
                self._overflowing = last
                continue
            if last:
                self._pending += part
                break
            encoded = bytes(self._pending) + part if self._pending else part
            self._pending.clear()
            if not encoded:
                continue  # back-to-back delimiters: idle line or a resync
            try:
                out.append(cobs.decode(encoded))
            except cobs.DecodeError:
                stats.cobs_errors += 1
                stats.bytes_dropped += len(encoded) + 1
                continue
            stats.frames += 1
        return out
