"""Write a capture file (hardware/PROTOCOL.md §5) as packets arrive, so that a crash loses at most the last second.

Every record is handed to the operating system at once (a killed process loses nothing it wrote) and the file is
fsynced at least every ``fsync_period_s`` (a power cut loses at most that much). The header is written and synced
first, so a capture being written can be read at any moment: a reader sees every whole record and reports a torn
tail.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from pathlib import Path

from firmware_bridge.errors import BridgeError
from hardware.capture import CaptureHeader, Source, encode_header, encode_record

__all__ = ["CaptureWriter"]


class CaptureWriter:
    """Append-only writer of one capture file.

    Parameters
    ----------
    path : str or os.PathLike
        The file to create; an existing file is refused unless ``overwrite``.
    header : CaptureHeader
    fsync_period_s : float
        Longest time between fsyncs while records arrive.
    overwrite : bool
    clock : callable
        Monotonic seconds (injectable for tests).
    """

    def __init__(
        self,
        path: str | os.PathLike[str],
        header: CaptureHeader,
        *,
        fsync_period_s: float = 1.0,
        overwrite: bool = False,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.path = Path(path)
        flags = os.O_WRONLY | os.O_CREAT | (os.O_TRUNC if overwrite else os.O_EXCL)
        try:
            self._fd: int | None = os.open(self.path, flags, 0o644)
        except FileExistsError:
            raise BridgeError(f"{self.path}: the file exists; choose another name") from None
        except OSError as exc:
            raise BridgeError(f"{self.path}: cannot create the capture ({exc.strerror or exc})") from None
        self.fsync_period_s = float(fsync_period_s)
        self._clock = clock
        self.records = 0
        self.bytes = 0
        self._write(encode_header(header))
        os.fsync(self._fd)
        self._last_sync = clock()

    def _write(self, data: bytes) -> None:
        if self._fd is None:
            raise BridgeError(f"{self.path}: the capture is closed")
        view = memoryview(data)
        while view:
            written = os.write(self._fd, view)
            view = view[written:]
        self.bytes += len(data)

    def write(self, t_host_ns: int, source: Source, sensor_id: int, packet: bytes) -> None:
        """Append one record (a packet as received, or a command as sent)."""
        self._write(encode_record(t_host_ns, source, sensor_id, packet))
        self.records += 1
        if self._clock() - self._last_sync >= self.fsync_period_s:
            self.sync()

    def sync(self) -> None:
        """Flush to the disk now."""
        if self._fd is not None:
            os.fsync(self._fd)
            self._last_sync = self._clock()

    def close(self) -> None:
        """Sync and close (idempotent)."""
        if self._fd is not None:
            self.sync()
            os.close(self._fd)
            self._fd = None

    def __enter__(self) -> CaptureWriter:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
