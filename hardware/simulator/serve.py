"""Serve virtual sensors over real byte links: a pseudo-terminal pair (a real serial port) and TCP.

Each sensor speaks the serial framing of PROTOCOL.md §2 (``COBS(packet) || 0x00``) in both directions: packets out,
commands (START, STOP, SYNC) in. A pty slave path can be opened by pyserial or any terminal program exactly like
``/dev/ttyACM0``; a TCP port can be opened with pyserial's ``socket://host:port`` URL handler.

Time runs at ``speed`` × real time (1 for a live demo; more to make tests quick). A disconnect in a sensor's
:class:`~hardware.simulator.device.FaultPlan` closes its TCP connections (on a pty the line just goes quiet, as a
USB device's would when it resets its stream); the host reconnects and sends START again.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import time
import tty
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Final, Literal

from hardware.errors import HardwareError, PacketError
from hardware.framing import Deframer, frame
from hardware.simulator.device import VirtualSensor

__all__ = ["Endpoint", "SimulatorServer"]

#: Bytes a link may hold for a reader that does not keep up before the oldest frames are dropped (a USB device's
#: transmit buffer does the same). Dropped frames are counted in :attr:`SimulatorServer.overflow_frames`.
_MAX_BACKLOG_BYTES: Final = 256 * 1024


@dataclass(frozen=True, slots=True)
class Endpoint:
    """Where to connect to one virtual sensor.

    Attributes
    ----------
    placement : str
    sensor_id : int
    kind : {"pty", "tcp"}
    url : str
        ``serial:///dev/pts/N`` or ``socket://127.0.0.1:PORT`` (pyserial's URL handler form).
    """

    placement: str
    sensor_id: int
    kind: Literal["pty", "tcp"]
    url: str

    @property
    def address(self) -> str:
        """The device path or ``host:port`` without the scheme."""
        return self.url.split("://", 1)[1]


class _Link:
    """One byte link to one sensor: frames out, commands in, with a bounded backlog."""

    def __init__(self, server: SimulatorServer, sensor: VirtualSensor) -> None:
        self.server = server
        self.sensor = sensor
        self.deframer = Deframer()
        self.backlog: list[bytes] = []
        self.backlog_bytes = 0

    def received(self, data: bytes) -> None:
        now = self.server.now_s()
        for packet in self.deframer.feed(data):
            try:
                self.sensor.command(packet, now)
            except PacketError:
                self.server.bad_commands += 1

    def queue(self, data: bytes) -> None:
        self.backlog.append(data)
        self.backlog_bytes += len(data)
        while self.backlog_bytes > _MAX_BACKLOG_BYTES:
            self.backlog_bytes -= len(self.backlog.pop(0))
            self.server.overflow_frames += 1

    def take(self) -> bytes:
        data = b"".join(self.backlog)
        self.backlog.clear()
        self.backlog_bytes = 0
        return data


class SimulatorServer:
    """Run virtual sensors in real time (× ``speed``) and serve them over ptys and/or TCP.

    Use as an async context manager::

        async with SimulatorServer(sensors) as sim:
            endpoints = await sim.open_pty() + await sim.open_tcp()
            ...

    Parameters
    ----------
    sensors : mapping of placement to VirtualSensor
    speed : float
        Host-time seconds per wall-clock second.
    tick_s : float
        How often (wall clock) the sensors are polled and their packets written.
    """

    def __init__(self, sensors: Mapping[str, VirtualSensor], *, speed: float = 1.0, tick_s: float = 0.01) -> None:
        if not speed > 0:
            raise HardwareError(f"speed: expected a positive factor, got {speed!r}")
        self.sensors = dict(sensors)
        self.speed = float(speed)
        self.tick_s = float(tick_s)
        self.bad_commands = 0
        self.overflow_frames = 0
        self._t0 = time.monotonic()
        self._links: dict[str, list[_Link]] = {p: [] for p in self.sensors}
        self._writers: list[tuple[_Link, asyncio.StreamWriter]] = []
        self._ptys: list[tuple[_Link, int, int]] = []
        self._servers: list[asyncio.Server] = []
        self._task: asyncio.Task[None] | None = None

    def now_s(self) -> float:
        """Host time of the simulation, in s (0 when the server was made)."""
        return (time.monotonic() - self._t0) * self.speed

    async def __aenter__(self) -> SimulatorServer:
        self._task = asyncio.create_task(self._pump())
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    async def close(self) -> None:
        """Stop the pump, close every link and listening socket."""
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None
        loop = asyncio.get_running_loop()
        for _link, master, slave in self._ptys:
            loop.remove_reader(master)
            os.close(master)
            os.close(slave)
        self._ptys.clear()
        for _link, writer in self._writers:
            writer.close()
        self._writers.clear()
        for server in self._servers:
            server.close()
            await server.wait_closed()
        self._servers.clear()

    # ------------------------------------------------------------------------------------------------- links
    async def open_pty(self) -> list[Endpoint]:
        """One pseudo-terminal per sensor; returns the slave paths to open as serial ports."""
        loop = asyncio.get_running_loop()
        out = []
        for placement, sensor in self.sensors.items():
            master, slave = os.openpty()
            tty.setraw(slave)  # bytes pass untouched: no echo, no newline translation
            os.set_blocking(master, False)
            link = _Link(self, sensor)
            self._links[placement].append(link)
            self._ptys.append((link, master, slave))
            loop.add_reader(master, self._read_pty, link, master)
            out.append(Endpoint(placement, sensor.sensor_id, "pty", f"serial://{os.ttyname(slave)}"))
        return out

    def _read_pty(self, link: _Link, master: int) -> None:
        try:
            data = os.read(master, 4096)
        except (BlockingIOError, OSError):
            return
        link.received(data)

    async def open_tcp(self, host: str = "127.0.0.1", port: int = 0) -> list[Endpoint]:
        """One listening TCP socket per sensor (consecutive ports from ``port``, or free ports when 0)."""
        out = []
        for i, (placement, sensor) in enumerate(self.sensors.items()):

            async def handle(
                reader: asyncio.StreamReader, writer: asyncio.StreamWriter, sensor: VirtualSensor = sensor
            ) -> None:
                await self._serve_stream(sensor, reader, writer)

            server = await asyncio.start_server(handle, host, port + i if port else 0)
            self._servers.append(server)
            bound = server.sockets[0].getsockname()
            out.append(Endpoint(placement, sensor.sensor_id, "tcp", f"socket://{bound[0]}:{bound[1]}"))
        return out

    async def _serve_stream(
        self, sensor: VirtualSensor, reader: asyncio.StreamReader, writer: asyncio.StreamWriter
    ) -> None:
        if not sensor.link_up:
            writer.close()
            return
        placement = next(p for p, s in self.sensors.items() if s is sensor)
        link = _Link(self, sensor)
        self._links[placement].append(link)
        self._writers.append((link, writer))
        try:
            while data := await reader.read(4096):
                link.received(data)
        except ConnectionError:
            pass
        finally:
            self._links[placement].remove(link)
            self._writers = [(lk, w) for lk, w in self._writers if lk is not link]
            writer.close()

    # -------------------------------------------------------------------------------------------------- pump
    async def _pump(self) -> None:
        while True:
            now = self.now_s()
            for placement, sensor in self.sensors.items():
                was_up = sensor.link_up
                emissions = sensor.poll(now)
                frames = b"".join(frame(e.packet) for e in emissions)
                for link in self._links[placement]:
                    if frames:
                        link.queue(frames)
                if was_up and not sensor.link_up:
                    for link, writer in list(self._writers):
                        if link.sensor is sensor:
                            writer.close()
            self._flush()
            await asyncio.sleep(self.tick_s)

    def _flush(self) -> None:
        for link, master, _slave in self._ptys:
            if not link.backlog:
                continue
            data = link.take()
            try:
                written = os.write(master, data)
            except BlockingIOError:
                written = 0
            except OSError:
                continue
            if written < len(data):
                link.queue(data[written:])
        for link, writer in self._writers:
            if link.backlog and not writer.is_closing():
                writer.write(link.take())
