"""An accelerated relay for validation: recorded days of sensor data go through the reference relay's own parts.

``fusiongait relay`` reads live sensors in real time, so weeks of home monitoring would take weeks. This driver feeds
the records of captures (e.g. simulated days at home, each a capture stamped with its wall-clock start) at full speed
into the real :class:`~firmware_bridge.relay.Batcher`, :class:`~firmware_bridge.relay.RelayQueue` and
:class:`~firmware_bridge.relay.Uploader`, with the *simulated* clock injected: the batch headers' clock pairs, the
batch ages and the uploader's wall clock follow the records' time, and the uploader's retry delays are the real
backoff scaled by ``time_scale``. Nothing of the relay is re-implemented here; only the sensors and the clock are
replaced.

Between the uploader and the server sits a small TCP proxy (:class:`CutProxy`) that the driver controls:

- **network cuts** in simulated time (``cuts_ns``: intervals of the simulated wall clock): while one is on, the proxy
  closes every connection and accepts none, so uploads fail with network errors while the feed goes on and the queue
  grows; when it ends, the uploader's next retry gets through;
- **lost answers**: each response of the server is, with probability ``lose_answer_p``, not delivered (the
  connection is closed instead), so the relay re-sends a batch the server has already stored, with the same key.

The driver can be SIGKILLed at any moment and started again on the same queue folder. Where the feed stands is kept
in ``state_file`` (capture index and record index, written atomically after each batch is sealed), always at or
before the last record written to the queue: a restarted driver re-feeds the records since then (as a sensor that
re-sends from its flash buffer would), so those packets reach the server twice under new keys and must be
deduplicated there. The queue folder's open batch is recovered by :class:`RelayQueue` as after any crash.

Pacing: while the network is up the feed waits for the uploader to keep the queue short, so the queue grows only
during cuts (as it would in real time). At the end of each capture (a day) the simulated clock moves on to the next
capture's start (or ``tail_s`` past the last one), through the cut boundaries on the way, and the queue is drained
whenever the network is up.

Run as ``python -m firmware_bridge.relay_replay PLAN.json`` (the plan: :class:`ReplayPlan`); prints one JSON line of
counters at the end. Used by ``scripts/validate_home.py`` and ``tests/server/test_home_relay_e2e.py``.
"""

from __future__ import annotations

import asyncio
import bisect
import contextlib
import json
import random
import sys
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from firmware_bridge.atomic import write_atomic
from firmware_bridge.relay import RELAY_BACKOFF, Batcher, QueuedBatch, RelayQueue, Uploader
from hardware.capture import Capture, Source, parse_capture

__all__ = ["CutProxy", "ReplayPlan", "main", "run_replay"]

_CHUNK = 1 << 16


@dataclass(frozen=True, slots=True)
class ReplayPlan:
    """What one run of the accelerated relay does.

    Attributes
    ----------
    server_url : str
        The service (the proxy forwards to its host and port).
    session_id : str
    token_file : str
        Holds the relay token.
    queue_dir, state_file : str
        The relay's queue folder; the feed position (capture, record) kept across restarts.
    captures : list of str
        Capture files, in time order (one per simulated day).
    until : int
        Feed captures ``[0, until)`` then stop (the position carries on at the next run).
    cuts_ns : list of [start, end]
        Network cuts on the simulated wall clock (UTC ns), sorted, not overlapping.
    lose_answer_p : float
        Chance that a server response is dropped (connection closed instead).
    batch_s : float
        Seconds of simulated time per batch.
    time_scale : float
        Real seconds per second of the uploader's retry delays.
    tail_s : float
        After the last capture, how far the simulated clock moves on (through cuts) before the driver stops.
    seed : int
    """

    server_url: str
    session_id: str
    token_file: str
    queue_dir: str
    state_file: str
    captures: list[str]
    until: int
    cuts_ns: list[list[int]] = field(default_factory=list)
    lose_answer_p: float = 0.0
    batch_s: float = 60.0
    time_scale: float = 0.005
    tail_s: float = 6 * 3600.0
    seed: int = 0

    def to_json(self) -> str:
        return json.dumps(asdict(self), indent=1)

    @classmethod
    def from_json(cls, text: str) -> ReplayPlan:
        return cls(**json.loads(text))


# ------------------------------------------------------------------------------------------------------ the proxy
class CutProxy:
    """A TCP proxy on 127.0.0.1 to ``target`` that can cut the network and lose the server's answers."""

    def __init__(self, target_host: str, target_port: int, *, lose_answer_p: float = 0.0, seed: int = 0) -> None:
        self.target = (target_host, target_port)
        self.lose_answer_p = float(lose_answer_p)
        self.down = False
        self.counters = {"connections": 0, "refused": 0, "cut_connections": 0, "lost_answers": 0}
        self._rng = random.Random(seed)
        self._server: asyncio.Server | None = None
        self._open: set[asyncio.StreamWriter] = set()

    @property
    def url(self) -> str:
        assert self._server is not None
        host, port = self._server.sockets[0].getsockname()[:2]
        return f"http://{host}:{port}"

    async def start(self) -> None:
        self._server = await asyncio.start_server(self._handle, "127.0.0.1", 0)

    async def close(self) -> None:
        self.set_down(True)
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()

    def set_down(self, down: bool) -> None:
        """Cut (every open connection is closed) or restore the network."""
        if down and not self.down:
            for w in list(self._open):
                self.counters["cut_connections"] += 1
                w.transport.abort()
            self._open.clear()
        self.down = down

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        if self.down:
            self.counters["refused"] += 1
            writer.transport.abort()
            return
        try:
            up_reader, up_writer = await asyncio.open_connection(*self.target)
        except OSError:
            writer.transport.abort()
            return
        self.counters["connections"] += 1
        self._open.update((writer, up_writer))

        async def pump(src: asyncio.StreamReader, dst: asyncio.StreamWriter, answers: bool) -> None:
            with contextlib.suppress(OSError, asyncio.IncompleteReadError):
                while data := await src.read(_CHUNK):
                    if answers and self._rng.random() < self.lose_answer_p:
                        self.counters["lost_answers"] += 1
                        break
                    dst.write(data)
                    await dst.drain()

        tasks = [
            asyncio.ensure_future(pump(reader, up_writer, False)),
            asyncio.ensure_future(pump(up_reader, writer, True)),
        ]
        with contextlib.suppress(asyncio.CancelledError):  # the loop closing
            await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
        for t in tasks:
            t.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        for w in (writer, up_writer):
            self._open.discard(w)
            w.transport.abort()


# ----------------------------------------------------------------------------------------------------- the driver
class _Feed:
    """The simulated clock, the cut schedule and the proxy's state."""

    def __init__(self, cuts_ns: Sequence[Sequence[int]], proxy: CutProxy) -> None:
        self.cuts = sorted((int(a), int(b)) for a, b in cuts_ns)
        self.starts = [a for a, _ in self.cuts]
        self.bounds = sorted({t for c in self.cuts for t in c})
        self.proxy = proxy
        self.now_ns = 0
        self._valid = (1, 0)  # [from, to) of simulated time in which the proxy's state holds

    def cut_at(self, t_ns: int) -> bool:
        i = bisect.bisect_right(self.starts, t_ns) - 1
        return i >= 0 and self.cuts[i][0] <= t_ns < self.cuts[i][1]

    def set(self, t_ns: int) -> None:
        """Move the simulated clock to ``t_ns`` (the proxy cuts or restores the network at the boundaries)."""
        self.now_ns = t_ns
        if not self._valid[0] <= t_ns < self._valid[1]:
            k = bisect.bisect_right(self.bounds, t_ns)
            lo = self.bounds[k - 1] if k > 0 else -(1 << 62)
            hi = self.bounds[k] if k < len(self.bounds) else 1 << 62
            self._valid = (lo, hi)
            self.proxy.set_down(self.cut_at(t_ns))

    def boundaries(self, start_ns: int, end_ns: int) -> list[int]:
        """Cut boundaries in ``(start_ns, end_ns)``."""
        return [b for b in self.bounds if start_ns < b < end_ns]


def _wall_ns(capture: Capture) -> tuple[int, int]:
    """(wall, host) of the capture's first clock pair: a record's wall time is ``t_host_ns - host + wall``."""
    if not capture.header.clock_pairs:
        raise ValueError("the capture has no clock pair: its records have no wall-clock time")
    wall, host = capture.header.clock_pairs[0]
    return int(wall), int(host)


async def run_replay(plan: ReplayPlan) -> dict[str, Any]:
    """Feed ``plan.captures[:plan.until]`` from the saved position through the relay; returns the counters."""
    state_path = Path(plan.state_file)
    pos = json.loads(state_path.read_text()) if state_path.exists() else {"capture": 0, "record": 0}
    target = urlsplit(plan.server_url)
    proxy = CutProxy(
        target.hostname or "127.0.0.1", target.port or 80, lose_answer_p=plan.lose_answer_p, seed=plan.seed
    )
    await proxy.start()
    feed = _Feed(plan.cuts_ns, proxy)
    token = Path(plan.token_file).read_text().strip()
    queue = RelayQueue(plan.queue_dir, session_id=plan.session_id)
    recovered = queue.recovered_records
    uploader = Uploader(
        queue,
        server_url=proxy.url,
        token=lambda: token,
        backoff=RELAY_BACKOFF,
        sleep=lambda s: asyncio.sleep(s * plan.time_scale),
        wall_clock=lambda: feed.now_ns / 1e9,
        seed=plan.seed,
        log=lambda line: print(f"relay_replay: {line}", file=sys.stderr, flush=True),
    )
    cursor = {"capture": int(pos["capture"]), "record": int(pos["record"])}
    if pos.get("sim_now_ns"):
        feed.set(int(pos["sim_now_ns"]))

    def save() -> None:
        write_atomic(state_path, json.dumps({**cursor, "sim_now_ns": feed.now_ns}).encode())

    def on_seal(batch: QueuedBatch) -> None:
        uploader.notify(batch)
        save()

    batcher: Batcher | None = None
    fed = 0
    uploading = asyncio.ensure_future(uploader.run())

    async def drain(timeout_s: float = 600.0) -> None:
        """While the network is up, wait for the uploader to empty the queue."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout_s
        while queue.depth and not proxy.down:
            if uploading.done():
                uploading.result()
                raise RuntimeError("the uploader stopped")
            if loop.time() > deadline:
                raise RuntimeError(f"the queue did not drain in {timeout_s:g} s ({queue.depth} batches)")
            await asyncio.sleep(0.005)

    async def advance(to_ns: int) -> None:
        """Move the simulated clock to ``to_ns`` through the cut boundaries, draining the queue while online."""
        for b in [*feed.boundaries(feed.now_ns, to_ns), to_ns]:
            feed.set(b)
            if batcher is not None:
                batcher.tick()  # what the relay's tick does when no record comes
            if not proxy.down:
                uploader.notify()
                await drain()

    try:
        if queue.depth:
            uploader.notify()
        while cursor["capture"] < min(plan.until, len(plan.captures)):
            capture = parse_capture(Path(plan.captures[cursor["capture"]]).read_bytes())
            wall0, host0 = _wall_ns(capture)
            t_wall = capture.t_host_ns - host0 + wall0
            if batcher is None:
                batcher = Batcher(
                    queue,
                    capture.header.sensors,
                    subject_id=capture.header.subject_id,
                    batch_s=plan.batch_s,
                    clock_ns=lambda: feed.now_ns,
                    wall_ns=lambda: feed.now_ns,
                    on_seal=on_seal,
                )
            batcher.sensors = capture.header.sensors
            start = cursor["record"]
            if feed.now_ns == 0:
                feed.set(int(t_wall[start]) if start < len(capture) else int(t_wall[-1]))
            else:
                await advance(int(t_wall[start]))
            for i in range(start, len(capture)):
                t = int(t_wall[i])
                feed.set(t)
                if batcher.due():
                    cursor["record"] = i
                    batcher.cut()
                    if not proxy.down:
                        while queue.depth > 1 and not proxy.down:
                            if uploading.done():
                                uploading.result()
                                raise RuntimeError("the uploader stopped")
                            await asyncio.sleep(0.002)
                    await asyncio.sleep(0)
                batcher.add(t, Source(int(capture.source[i])), int(capture.sensor_id[i]), capture.packet(i))
                fed += 1
                if fed % 2000 == 0:
                    await asyncio.sleep(0)  # let the uploader and the proxy run
            cursor["capture"] += 1
            cursor["record"] = 0
            batcher.cut()
            save()
        # The night after the last day of this run: the clock moves on to the next day's start (or tail_s past the
        # last one), through the cuts on the way, and the queue drains whenever the network is up.
        if cursor["capture"] < len(plan.captures):
            nxt = parse_capture(Path(plan.captures[cursor["capture"]]).read_bytes())
            w, h = _wall_ns(nxt)
            end_ns = int(nxt.t_host_ns[0]) - h + w - 1
        else:
            end_ns = feed.now_ns + round(plan.tail_s * 1e9)
        if end_ns > feed.now_ns:
            await advance(end_ns)
            save()
        uploader.stop(drain_s=0.0)
        await asyncio.gather(uploading, return_exceptions=True)
    finally:
        if not uploading.done():
            uploader.stop()
            await asyncio.gather(uploading, return_exceptions=True)
        queue.close()
        await proxy.close()
    up = uploader.counters
    return {
        "fed_records": fed,
        "recovered_records": recovered,
        "queue_left": queue.depth,
        "network_down_at_end": proxy.down,
        "uploaded": up.uploaded,
        "replayed": up.replayed,
        "rejected": up.rejected,
        "failures": up.failures,
        "attempts": up.attempts,
        "proxy": proxy.counters,
        "position": cursor,
        "sim_now_ns": feed.now_ns,
    }


def main(argv: Sequence[str] | None = None) -> int:
    """``python -m firmware_bridge.relay_replay PLAN.json``."""
    args = list(sys.argv[1:] if argv is None else argv)
    if len(args) != 1:
        print("usage: python -m firmware_bridge.relay_replay PLAN.json", file=sys.stderr)
        return 2
    plan = ReplayPlan.from_json(Path(args[0]).read_text())
    print(json.dumps(asyncio.run(run_replay(plan))), flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
