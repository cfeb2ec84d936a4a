"""Replay one sensor of a recorded capture as if it were live: ``replay://<path>?placement=pelvis&speed=1``.

Packets come out in file order, spaced as they arrived when recorded (``speed`` times faster; ``speed=0`` as fast as
possible). Commands written to a replay are counted and otherwise ignored, so sync pings go unanswered and a
capture re-recorded from a replay is timed by packet arrival alone. ``placement`` picks the sensor by the capture
header's placement (default: the only sensor, or ``pelvis``); ``sensor_id`` picks it by id.
"""

from __future__ import annotations

import asyncio
import time
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

import numpy as np

from firmware_bridge.transports import StreamEnded, TransportError
from hardware.capture import Capture, Source, parse_capture
from hardware.errors import HardwareError

__all__ = ["ReplayTransport"]


class ReplayTransport:
    """One sensor of a capture file, replayed.

    Parameters
    ----------
    url : str
        ``replay://relative/path.imucap`` or ``replay:///absolute/path.imucap``, with optional query
        ``placement=``, ``sensor_id=``, ``speed=`` (default 1; 0 = no waiting).
    """

    source = Source.SERIAL

    def __init__(self, url: str, **_: Any) -> None:
        self.url = url
        parts = urlsplit(url)
        self.path = Path(unquote(parts.netloc + parts.path))
        query = {k: v[-1] for k, v in parse_qs(parts.query).items()}
        try:
            self.speed = float(query.get("speed", "1"))
        except ValueError:
            raise TransportError(f"{url}: speed: expected a number, got {query['speed']!r}") from None
        if self.speed < 0:
            raise TransportError(f"{url}: speed: expected 0 (as fast as possible) or more, got {self.speed}")
        self._placement = query.get("placement")
        self._sensor_id = query.get("sensor_id")
        self.commands_ignored = 0
        self._capture: Capture | None = None
        self._records = np.zeros(0, dtype=np.int64)
        self._next = 0
        self._t0_wall = 0.0

    async def connect(self) -> None:
        try:
            capture = parse_capture(await asyncio.to_thread(self.path.read_bytes))
        except OSError as exc:
            raise TransportError(f"{self.url}: cannot read {self.path} ({exc.strerror or exc})") from None
        except HardwareError as exc:
            raise TransportError(f"{self.url}: {exc}") from None
        sensors = capture.header.sensors
        if self._sensor_id is not None:
            chosen = [s for s in sensors if str(s.sensor_id) == self._sensor_id]
        elif self._placement is not None:
            chosen = [s for s in sensors if s.placement == self._placement]
        else:
            chosen = list(sensors) if len(sensors) == 1 else [s for s in sensors if s.placement == "pelvis"]
        if len(chosen) != 1:
            have = ", ".join(f"{s.placement} (id {s.sensor_id})" for s in sensors)
            raise TransportError(f"{self.url}: expected one matching sensor in the capture, it has {have}")
        sid = chosen[0].sensor_id
        self._capture = capture
        self._records = np.flatnonzero((capture.sensor_id == sid) & (capture.source != Source.HOST_COMMAND))
        if self._next == 0:
            self._t0_wall = time.monotonic()

    async def recv(self) -> bytes:
        capture = self._capture
        if capture is None:
            raise TransportError(f"{self.url}: not connected")
        if self._next >= self._records.size:
            raise StreamEnded(f"{self.url}: end of the capture")
        i = int(self._records[self._next])
        if self.speed > 0:
            due_s = (capture.t_host_ns[i] - capture.t_host_ns[self._records[0]]) / 1e9 / self.speed
            wait_s = self._t0_wall + due_s - time.monotonic()
            if wait_s > 0:
                await asyncio.sleep(wait_s)
        elif self._next % 256 == 0:
            await asyncio.sleep(0)  # let the others run
        self._next += 1
        return capture.packet(i)

    async def send(self, command: bytes) -> None:
        self.commands_ignored += 1

    async def close(self) -> None:
        self._capture = None
