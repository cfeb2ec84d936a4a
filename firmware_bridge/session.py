"""A live recording session: several sensor links, one capture file, live reassembly and clock sync.

:class:`BridgeSession` runs one :class:`~firmware_bridge.supervisor.LinkSupervisor` per sensor. Every packet and
command goes first to the capture file (:class:`~firmware_bridge.capture_writer.CaptureWriter`), then, every
``process_period_s``, the packets of each link are decoded together and fed to that link's
:class:`~firmware_bridge.stream.SensorStream` (a ring of the newest samples, with its clock fit), the same code that
reads a capture offline. :meth:`BridgeSession.health` gives counters and link state per sensor;
:meth:`BridgeSession.recording` the newest samples of all sensors on one time base (gaps marked), for the live
analysis.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import time
import uuid
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import numpy as np

from firmware_bridge.capture_writer import CaptureWriter
from firmware_bridge.errors import BridgeError
from firmware_bridge.stream import SensorHealth, SensorStream
from firmware_bridge.supervisor import Backoff, LinkSupervisor
from firmware_bridge.timeline import LiveGrid, to_recording
from firmware_bridge.transports import Transport, open_transport
from gait.recording import LEFT_THIGH, PELVIS, RIGHT_THIGH, Recording
from hardware.capture import CaptureHeader, CaptureSensor, Source
from hardware.errors import PacketError
from hardware.protocol import Command, decode_command, decode_packets

__all__ = ["PLACEMENT_IDS", "BridgeSession"]

#: Sensor ids of PROTOCOL.md §1 by placement.
PLACEMENT_IDS = {PELVIS: 0, LEFT_THIGH: 1, RIGHT_THIGH: 2}
#: The highest output rate of the protocol (PROTOCOL.md cfg rate codes): sizes the rings and the live reads.
_MAX_RATE_HZ = 800.0


@dataclasses.dataclass(slots=True)
class _Link:
    placement: str
    sensor_id: int
    url: str
    stream: SensorStream
    supervisor: LinkSupervisor
    pending: list[tuple[int, int, bytes]] = dataclasses.field(default_factory=list)  # (position, t_ns, packet)
    position: int = 0


class BridgeSession:
    """Record and follow several sensors at once.

    Parameters
    ----------
    sensors : mapping of placement to URL
        ``{"pelvis": "ble://FG-pelvis", "left_thigh": "serial:///dev/ttyACM1", ...}``.
    out : path, optional
        The capture file to write (refused if it exists); None to keep nothing on disk.
    subject_id, session_id : str
    ring_s : float
        Seconds of samples each live stream keeps (the live analysis reads from them).
    process_period_s : float
        How often arrived packets are decoded and placed.
    sync_period_s, watchdog_s : float
        Passed to each supervisor.
    backoff : Backoff, optional
    transport_options : mapping of placement to dict, optional
        Keyword arguments for each link's transport (e.g. bleak backends in tests).
    clock_ns : callable
        Host monotonic clock (ns).
    on_record : callable, optional
        ``on_record(t_host_ns, source, sensor_id, packet)`` for every packet received and command sent, in arrival
        order, right after the capture has it (the relay's batcher listens here).
    recorded_by : str
        The capture header's ``recorded_by``.
    """

    def __init__(
        self,
        sensors: Mapping[str, str],
        *,
        out: str | Path | None = None,
        subject_id: str = "",
        session_id: str = "",
        ring_s: float = 120.0,
        process_period_s: float = 0.1,
        sync_period_s: float = 1.0,
        watchdog_s: float = 3.0,
        backoff: Backoff | None = None,
        transport_options: Mapping[str, Mapping[str, Any]] | None = None,
        clock_ns: Callable[[], int] = time.monotonic_ns,
        on_record: Callable[[int, Source, int, bytes], None] | None = None,
        recorded_by: str = "fusiongait record",
    ) -> None:
        if not sensors:
            raise BridgeError("sensors: expected at least one placement=URL")
        unknown = sorted(set(sensors) - set(PLACEMENT_IDS))
        if unknown:
            raise BridgeError(f"sensors: unknown placement(s) {unknown}; expected {', '.join(PLACEMENT_IDS)}")
        self.clock_ns = clock_ns
        self.on_record = on_record
        self.process_period_s = float(process_period_s)
        self.session_id = session_id or uuid.uuid4().hex[:12]
        self.header = CaptureHeader(
            sensors=tuple(CaptureSensor(PLACEMENT_IDS[p], p, address=url) for p, url in sensors.items()),
            subject_id=subject_id,
            session_id=self.session_id,
            clock_pairs=((time.time_ns(), clock_ns()),),
            extra={"recorded_by": recorded_by},
        )
        self.writer = CaptureWriter(out, self.header) if out is not None else None
        lock = asyncio.Lock()
        options = transport_options or {}
        self.links: dict[str, _Link] = {}
        for placement, url in sensors.items():
            sid = PLACEMENT_IDS[placement]
            opts = dict(options.get(placement, {}))

            def make(url: str = url, opts: dict[str, Any] = opts) -> Transport:
                return open_transport(url, **opts)

            def forward(t_ns: int, source: Source, packet: bytes, placement: str = placement) -> None:
                self._on_record(placement, t_ns, source, packet)

            supervisor = LinkSupervisor(
                make,
                forward,
                connect_lock=lock,
                sync_period_s=sync_period_s,
                watchdog_s=watchdog_s,
                backoff=backoff,
                clock_ns=clock_ns,
            )
            rate_guess_hz = _MAX_RATE_HZ  # the ring holds ring_s at up to the highest rate
            stream = SensorStream(sid, placement, max_samples=int(ring_s * rate_guess_hz))
            self.links[placement] = _Link(placement, sid, url, stream, supervisor)
        self._stopping = asyncio.Event()
        self.started_ns = clock_ns()

    # ------------------------------------------------------------------------------------------------ ingest
    def _on_record(self, placement: str, t_ns: int, source: Source, packet: bytes) -> None:
        link = self.links[placement]
        if self.writer is not None:
            self.writer.write(t_ns, source, link.sensor_id, packet)
        if self.on_record is not None:
            self.on_record(t_ns, source, link.sensor_id, packet)
        if source == Source.HOST_COMMAND:
            with contextlib.suppress(PacketError):
                command = decode_command(packet)
                if command.command is Command.SYNC:
                    self._process(link)  # replies must find their ping after the packets before it
                    link.stream.add_ping_sent(command.token, t_ns / 1e3)
            return
        link.pending.append((link.position, t_ns, packet))
        link.position += 1

    def _process(self, link: _Link) -> None:
        """Decode the link's pending packets together and feed its stream."""
        if not link.pending:
            return
        pending, link.pending = link.pending, []
        base = pending[0][0]
        decoded = decode_packets([p for _, _, p in pending])
        imu = decoded.imu
        imu = dataclasses.replace(imu, position=imu.position + base)
        own = imu.sensor_id == link.sensor_id
        t_arr = np.array([pending[int(i) - base][1] / 1e3 for i in imu.position], dtype=np.float64)
        link.stream.add_imu(imu.take(own), t_arr[own])
        for claimed in imu.sensor_id[~own]:
            link.stream.add_rejected(f"packet says sensor {int(claimed)} on the link of sensor {link.sensor_id}")
        for rejection in decoded.rejected:
            link.stream.add_rejected(rejection.reason)
        for pos, packet in decoded.others:
            link.stream.add_other(packet, pending[pos][1] / 1e3, position=base + pos)

    def process(self) -> None:
        """Place everything that arrived so far (also done every ``process_period_s`` while running)."""
        for link in self.links.values():
            self._process(link)

    # ------------------------------------------------------------------------------------------------ running
    async def run(self, duration_s: float | None = None) -> None:
        """Run every link until :meth:`stop`, ``duration_s``, or every link's source has ended."""
        tasks = [asyncio.ensure_future(link.supervisor.run()) for link in self.links.values()]
        stopper = asyncio.ensure_future(self._stopping.wait())
        deadline = None if duration_s is None else time.monotonic() + duration_s
        try:
            while not self._stopping.is_set() and not all(t.done() for t in tasks):
                timeout = self.process_period_s
                if deadline is not None:
                    timeout = min(timeout, max(0.0, deadline - time.monotonic()))
                await asyncio.wait({stopper, *tasks}, timeout=timeout, return_when=asyncio.FIRST_COMPLETED)
                self.process()
                if deadline is not None and time.monotonic() >= deadline:
                    break
        finally:
            for link in self.links.values():
                link.supervisor.stop()
            await asyncio.gather(*tasks, return_exceptions=True)
            stopper.cancel()
            self.process()
            if self.writer is not None:
                self.writer.close()

    def stop(self) -> None:
        """Stop every link (STOP is sent) and close the capture; :meth:`run` returns."""
        self._stopping.set()

    # ------------------------------------------------------------------------------------------------ output
    def health(self) -> dict[str, dict[str, Any]]:
        """Per placement: the stream's counters, the link's state and supervisor counters."""
        out: dict[str, dict[str, Any]] = {}
        now_us = self.clock_ns() / 1e3
        for placement, link in self.links.items():
            h: SensorHealth = link.stream.health()
            sup = link.supervisor
            out[placement] = {
                **h.to_json(),
                "url": link.url,
                "state": sup.state,
                "connects": sup.counters.connects,
                "reconnects": max(0, sup.counters.connects - 1),
                "failed_connects": sup.counters.failed_connects,
                "watchdog_trips": sup.counters.watchdog_trips,
                "last_error": sup.counters.last_error,
                "silent_s": None if h.last_arrival_us is None else (now_us - h.last_arrival_us) / 1e6,
            }
        return out

    def read_chunk(self, grid: LiveGrid) -> Recording | None:
        """The next live chunk of all sensors on ``grid`` (see :class:`~firmware_bridge.timeline.LiveGrid`).

        Only the samples the grid can still need are built (from its next instant to now, and half a second more),
        not the whole ring, so a live reader costs the same after an hour as after a minute.
        """
        self.process()
        if grid.start_us is None:
            return grid.read([link.stream.samples() for link in self.links.values()])
        behind_s = max(0.0, (self.clock_ns() / 1e3 - (grid.start_us + grid.next_idx * grid.period_us)) / 1e6)
        samples = []
        for link in self.links.values():
            rate_hz = link.stream.nominal_rate_hz or _MAX_RATE_HZ
            samples.append(link.stream.samples(int((behind_s + 0.5) * rate_hz) + 2))  # + the pair around the edge
        return grid.read(samples)

    def recording(self) -> Recording | None:
        """The newest samples of every sensor (the ring) on one time base, or None before any sensor has two."""
        samples = [link.stream.samples() for link in self.links.values()]
        if not any(s.host_us.size >= 2 for s in samples):
            return None
        return to_recording(samples, source=f"live session {self.session_id}")
