"""USB serial links (and any pyserial URL: ``socket://``, ``rfc2217://``, ``loop://``) with COBS framing.

Bytes are read with pyserial-asyncio-fast (a maintained asyncio wrapper of pyserial that does not poll) and cut into
packets by the pure :class:`~hardware.framing.Deframer` (PROTOCOL.md §2): resync after garbage, frames over 512 bytes
dropped, errors counted in :attr:`SerialTransport.deframer`. ``serial:///dev/ttyACM0`` names a device path; the
other schemes are handed to ``serial.serial_for_url`` as they are.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections import deque
from typing import Any

import serial
import serial_asyncio_fast

from firmware_bridge.transports import LinkLost, TransportError
from hardware.capture import Source
from hardware.framing import Deframer, frame

__all__ = ["SerialTransport"]


class SerialTransport:
    """A serial link to one sensor.

    Parameters
    ----------
    url : str
        ``serial:///dev/ttyACM0`` or a pyserial URL (``socket://127.0.0.1:7001``).
    baudrate : int
        Ignored by USB CDC devices and sockets; 921600 by default.
    read_size : int
        Bytes asked for per read.
    """

    source = Source.SERIAL

    def __init__(self, url: str, *, baudrate: int = 921_600, read_size: int = 4096, **_: Any) -> None:
        self.url = url
        self.port = url[len("serial://") :] if url.startswith("serial://") else url
        self.baudrate = int(baudrate)
        self.read_size = int(read_size)
        self.deframer = Deframer()
        self._packets: deque[bytes] = deque()
        self._reader: asyncio.StreamReader | None = None
        self._writer: asyncio.StreamWriter | None = None

    async def connect(self) -> None:
        try:
            self._reader, self._writer = await serial_asyncio_fast.open_serial_connection(
                url=self.port, baudrate=self.baudrate
            )
        except (OSError, serial.SerialException, ValueError) as exc:
            raise TransportError(f"{self.url}: cannot open the port ({exc})") from None

    async def recv(self) -> bytes:
        while not self._packets:
            if self._reader is None:
                raise LinkLost(f"{self.url}: not connected")
            try:
                chunk = await self._reader.read(self.read_size)
            except (OSError, serial.SerialException) as exc:
                raise LinkLost(f"{self.url}: the port failed ({exc})") from None
            if not chunk:
                raise LinkLost(f"{self.url}: the port closed")
            self._packets.extend(self.deframer.feed(chunk))
        return self._packets.popleft()

    async def send(self, command: bytes) -> None:
        if self._writer is None:
            raise LinkLost(f"{self.url}: not connected")
        try:
            self._writer.write(frame(command))
            await self._writer.drain()
        except (OSError, serial.SerialException) as exc:
            raise LinkLost(f"{self.url}: cannot write ({exc})") from None

    async def close(self) -> None:
        writer, self._writer, self._reader = self._writer, None, None
        if writer is not None:
            writer.close()
            with contextlib.suppress(Exception):
                await writer.wait_closed()
