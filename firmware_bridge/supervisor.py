"""Keep one sensor link streaming: connect, START, sync pings, watchdog, reconnect with backoff.

One :class:`LinkSupervisor` per sensor. Connecting (for BLE: scan + connect + subscribe) happens under a lock shared
by all supervisors of a session, because BLE adapters and BlueZ misbehave when several connections are set up at
once. After the link is up the supervisor writes START (after subscribing, PROTOCOL.md §1) and a sync ping at once,
then a ping every ``sync_period_s`` at a random phase (pings at a fixed phase can lock to the BLE connection
interval, §4). A link that delivers nothing for ``watchdog_s`` is closed and reopened. Failed attempts back off
exponentially with jitter. Time and sleep are injectable, so the reconnect behaviour is tested in seconds.

Everything that crosses the link is reported to ``on_record(t_host_ns, source, packet)``: packets as they arrive and
commands as they are sent (``Source.HOST_COMMAND``), with the host's monotonic clock, which is what the capture
keeps.
"""

from __future__ import annotations

import asyncio
import contextlib
import random
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Literal

from firmware_bridge.errors import BridgeError
from firmware_bridge.transports import LinkLost, StreamEnded, Transport, TransportError
from hardware.capture import Source
from hardware.protocol import Command, encode_command

__all__ = ["Backoff", "LinkState", "LinkSupervisor"]

LinkState = Literal["idle", "connecting", "streaming", "waiting", "ended", "stopped"]


@dataclass(frozen=True, slots=True)
class Backoff:
    """Delay before reconnect attempt ``k`` (0-based): ``min(max_s, initial_s · factor^k)`` × U(1 − jitter, 1)."""

    initial_s: float = 0.5
    factor: float = 2.0
    max_s: float = 30.0
    jitter: float = 0.5

    def delay_s(self, attempt: int, rng: random.Random) -> float:
        base = min(self.max_s, self.initial_s * self.factor ** max(0, attempt))
        return base * (1.0 - self.jitter * rng.random())


@dataclass(slots=True)
class LinkCounters:
    """What the supervisor did (for the health API)."""

    connects: int = 0
    failed_connects: int = 0
    disconnects: int = 0
    watchdog_trips: int = 0
    pings: int = 0
    last_error: str = ""
    history: list[tuple[float, str]] = field(default_factory=list)  # (monotonic s, event), the last 50


class LinkSupervisor:
    """Runs one sensor link until :meth:`stop`.

    Parameters
    ----------
    make_transport : callable
        Returns a new, unconnected :class:`Transport` for each attempt.
    on_record : callable
        ``on_record(t_host_ns, source, packet)`` for every packet received and command sent.
    connect_lock : asyncio.Lock
        Shared by the session's supervisors: one scan/connect at a time.
    sync_period_s : float
        Mean time between sync pings (0: only the one at connect).
    watchdog_s : float
        Reconnect when nothing arrived for this long.
    backoff : Backoff
    clock_ns : callable
        Host monotonic clock in ns (default :func:`time.monotonic_ns`).
    sleep : callable
        ``await sleep(seconds)`` (default :func:`asyncio.sleep`).
    seed : int, optional
        Seed of the jitter.
    """

    def __init__(
        self,
        make_transport: Callable[[], Transport],
        on_record: Callable[[int, Source, bytes], None],
        *,
        connect_lock: asyncio.Lock | None = None,
        sync_period_s: float = 1.0,
        watchdog_s: float = 3.0,
        backoff: Backoff | None = None,
        clock_ns: Callable[[], int] = time.monotonic_ns,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
        seed: int | None = None,
    ) -> None:
        if not watchdog_s > 0:
            raise BridgeError(f"watchdog_s: expected a positive time, got {watchdog_s!r}")
        self.make_transport = make_transport
        self.on_record = on_record
        self.connect_lock = connect_lock or asyncio.Lock()
        self.sync_period_s = float(sync_period_s)
        self.watchdog_s = float(watchdog_s)
        self.backoff = backoff or Backoff()
        self.clock_ns = clock_ns
        self.sleep = sleep
        self.state: LinkState = "idle"
        self.counters = LinkCounters()
        self.url = ""
        self._rng = random.Random(seed)
        self._stopping = asyncio.Event()
        self._transport: Transport | None = None

    def _event(self, text: str) -> None:
        self.counters.history.append((self.clock_ns() / 1e9, text))
        del self.counters.history[:-50]

    def stop(self) -> None:
        """Ask the supervisor to send STOP, close the link and return from :meth:`run`."""
        self._stopping.set()

    async def run(self) -> None:
        """Connect, stream, reconnect, until :meth:`stop` or the end of a finite source."""
        attempt = 0
        while not self._stopping.is_set():
            transport = self.make_transport()
            self.url = transport.url
            self._transport = transport
            self.state = "connecting"
            try:
                async with self.connect_lock:
                    if self._stopping.is_set():
                        break
                    await transport.connect()
                self.counters.connects += 1
                self._event("connected")
                attempt = 0
                self.state = "streaming"
                await self._stream(transport)
            except StreamEnded:
                self.state = "ended"
                self._event("end of stream")
                await transport.close()
                return
            except LinkLost as exc:
                self.counters.disconnects += 1
                self.counters.last_error = str(exc)
                self._event(f"lost: {exc}")
            except TransportError as exc:
                self.counters.failed_connects += 1
                self.counters.last_error = str(exc)
                self._event(f"failed: {exc}")
            finally:
                self._transport = None
                if self.state != "ended":
                    await self._close(transport)
            if self._stopping.is_set():
                break
            self.state = "waiting"
            delay = self.backoff.delay_s(attempt, self._rng)
            attempt += 1
            self._event(f"retry in {delay:.2f} s")
            await self._sleep_unless_stopped(delay)
        self.state = "stopped"

    async def _close(self, transport: Transport) -> None:
        if self._stopping.is_set() and self.state == "streaming":
            with contextlib.suppress(TransportError):
                await self._send(transport, encode_command(Command.STOP))
        await transport.close()

    async def _sleep_unless_stopped(self, seconds: float) -> None:
        sleeper = asyncio.ensure_future(self.sleep(seconds))
        stopper = asyncio.ensure_future(self._stopping.wait())
        await asyncio.wait({sleeper, stopper}, return_when=asyncio.FIRST_COMPLETED)
        for task in (sleeper, stopper):
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task

    async def _send(self, transport: Transport, command: bytes) -> None:
        self.on_record(self.clock_ns(), Source.HOST_COMMAND, command)
        await transport.send(command)

    async def _ping(self, transport: Transport) -> None:
        token = self._rng.getrandbits(32)
        self.counters.pings += 1
        await self._send(transport, encode_command(Command.SYNC, token))

    async def _pinger(self, transport: Transport) -> None:
        while True:
            await self.sleep(self.sync_period_s * (0.5 + self._rng.random()))
            await self._ping(transport)

    async def _stream(self, transport: Transport) -> None:
        await self._send(transport, encode_command(Command.START))
        await self._ping(transport)
        pinger = asyncio.ensure_future(self._pinger(transport)) if self.sync_period_s > 0 else None
        stopper = asyncio.ensure_future(self._stopping.wait())
        try:
            while not self._stopping.is_set():
                receive = asyncio.ensure_future(transport.recv())
                done, _ = await asyncio.wait(
                    {receive, stopper, *([pinger] if pinger else [])},
                    timeout=self.watchdog_s,
                    return_when=asyncio.FIRST_COMPLETED,
                )
                if pinger is not None and pinger in done:
                    receive.cancel()
                    pinger.result()  # raises the link error that stopped it
                if receive not in done:
                    receive.cancel()
                    with contextlib.suppress(asyncio.CancelledError, TransportError):
                        await receive
                    if stopper in done:
                        return
                    self.counters.watchdog_trips += 1
                    raise LinkLost(f"{transport.url}: no data for {self.watchdog_s:g} s")
                self.on_record(self.clock_ns(), transport.source, receive.result())
        finally:
            stopper.cancel()
            if pinger is not None:
                pinger.cancel()
                with contextlib.suppress(asyncio.CancelledError, TransportError):
                    await pinger
