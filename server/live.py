"""The live hub: clinic sessions that record, analyse while the patient walks, and fan results out to viewers.

One :class:`LiveSession` per running clinic session:

- a :class:`~firmware_bridge.session.BridgeSession` connects the sensors and writes every packet to the capture
  file as it arrives;
- the analysis loop reads the new samples on one fixed grid (:class:`~firmware_bridge.timeline.LiveGrid`) into a
  :class:`~gait.live.LiveAnalysis`, which runs the offline pipeline: quick passes over the newest ``window_s``
  seconds find new strides (every ``min_interval_s``), and passes over everything so far refine them and give the
  report's sections and flags. Passes run in a worker thread, each kind paced to a share of a core, so a long
  session does not cost more than a short one;
- every pass publishes the newest angle traces, one message per new stride and the report's sections so far;
  a status message per second tells each sensor's state, so a sensor that drops out shows as lost within 2 s
  while the analysis goes on with the others;
- :class:`LiveFeed` numbers the messages and keeps them, so a viewer that reconnects resumes where it was.

Stopping a session stops the sensors, closes the capture, stores it as the session's recording and queues the full
offline analysis, whose report is the one kept. The WebSocket contract is in ``docs/live.md``.
"""

from __future__ import annotations

import asyncio
import collections
import concurrent.futures as cf
import contextlib
import copyreg
import datetime as dt
import json
import logging
import math
import multiprocessing
import threading
import time
import types
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from firmware_bridge.readers.capture_format import assemble_capture
from firmware_bridge.session import BridgeSession
from firmware_bridge.timeline import LiveGrid
from gait.errors import AnalysisError
from gait.live import TRACE_CHANNELS, LiveAnalysis, LiveUpdate, stride_records
from gait.pipeline import GaitPipeline, GaitResult
from gait.recording import Recording
from hardware.capture import parse_capture
from server.analysis import AnalysisOptions
from server.blobs import BlobStore
from server.db import Analysis, Database, RecordingFile, utcnow
from server.errors import Conflict, NotFound
from server.jobs import AnalysisRunner

__all__ = ["LiveFeed", "LiveHub", "LiveSession", "json_number", "run_pipeline", "warm_up"]

log = logging.getLogger("fusiongait.live")

#: Sensors silent this long are shown as lost (issue 8: within 2 s).
LOST_AFTER_S = 1.5
_SUMMARY_SECTIONS = ("spatiotemporal", "kinematics", "flags", "quality", "warnings")


# Results hold read-only mappings (types.MappingProxyType), which pickle cannot send back from the worker process
# by default; this teaches it to, in every process that imports this module (the worker does, for run_pipeline).
def _mapping_proxy(items: dict[Any, Any]) -> types.MappingProxyType[Any, Any]:
    return types.MappingProxyType(items)


copyreg.pickle(types.MappingProxyType, lambda proxy: (_mapping_proxy, (dict(proxy),)))


def warm_up() -> None:
    """Nothing: handed to a new worker process so that it starts, and imports this module, ahead of its first pass."""


def run_pipeline(pipeline: GaitPipeline, recording: Recording) -> GaitResult:
    """``pipeline.run(recording)``, as a function a worker process can be handed."""
    return pipeline.run(recording)


def json_number(value: Any, digits: int = 3) -> float | None:
    """A finite float rounded for the wire, None for NaN/inf/None."""
    if value is None:
        return None
    x = float(value)
    return round(x, digits) if math.isfinite(x) else None


def _changed(before: Any, after: Any, tolerance: float = 0.05) -> bool:
    """Whether a stride's values moved by more than ``tolerance`` (in their own units) or appeared/vanished."""
    if isinstance(before, dict) and isinstance(after, dict):
        return any(_changed(before.get(k), after.get(k), tolerance) for k in before.keys() | after.keys())
    if isinstance(before, float | int) and isinstance(after, float | int):
        return abs(float(before) - float(after)) > tolerance
    return bool(before != after)


def _clean(obj: Any, digits: int = 3) -> Any:
    if isinstance(obj, dict):
        return {k: _clean(v, digits) for k, v in obj.items()}
    if isinstance(obj, list | tuple):
        return [_clean(v, digits) for v in obj]
    if isinstance(obj, float | np.floating):
        return json_number(obj, digits)
    if isinstance(obj, np.integer):
        return int(obj)
    return obj


class LiveFeed:
    """Numbered messages of one live session, kept for viewers that join late or come back.

    Each message is serialised once, here, and the same text goes to every viewer.

    Parameters
    ----------
    retain : int
        Messages kept; a viewer asking for older ones gets a snapshot instead.
    queue_size : int
        Messages a slow viewer may fall behind before it is dropped (it reconnects and resumes).
    """

    def __init__(self, *, retain: int = 20_000, queue_size: int = 2_000) -> None:
        self.seq = 0
        self.log: collections.deque[tuple[int, str]] = collections.deque(maxlen=retain)
        self.strides: dict[int, tuple[int, str]] = {}  # stride id → its newest message
        self.latest: dict[str, tuple[int, str]] = {}
        self.queue_size = queue_size
        self.subscribers: set[asyncio.Queue[str | None]] = set()

    def publish(self, message: dict[str, Any]) -> None:
        """Number ``message``, keep it and hand it to every viewer."""
        self.seq += 1
        text = json.dumps({"seq": self.seq, **message}, separators=(",", ":"), allow_nan=False)
        item = (self.seq, text)
        self.log.append(item)
        kind = message["type"]
        if kind == "stride":
            self.strides[int(message["id"])] = item
        elif kind in ("status", "summary", "ended"):
            self.latest[kind] = item
        for queue in list(self.subscribers):
            try:
                queue.put_nowait(text)
            except asyncio.QueueFull:  # a viewer that does not keep up is let go; it resumes from its last seq
                self.subscribers.discard(queue)
                with contextlib.suppress(asyncio.QueueFull):
                    queue.put_nowait(None)

    def publish_many(self, messages: list[dict[str, Any]]) -> None:
        """:meth:`publish` each message, in order."""
        for message in messages:
            self.publish(message)

    def subscribe(self, after: int | None) -> tuple[list[str], asyncio.Queue[str | None], bool]:
        """``(backlog, queue, reset)``: what the viewer missed (JSON texts), then its queue of new messages.

        With ``after`` inside the kept log the backlog is every message after it (``reset`` False). Otherwise
        (a new viewer, or one gone too long) it is a snapshot: the latest status, every stride as last sent, the
        latest summary and the end if there was one (``reset`` True).
        """
        queue: asyncio.Queue[str | None] = asyncio.Queue(self.queue_size)
        self.subscribers.add(queue)
        oldest = self.log[0][0] if self.log else self.seq + 1
        if after is not None and (after >= self.seq or after + 1 >= oldest):
            return [text for seq, text in self.log if seq > after], queue, False
        snapshot = sorted([*self.strides.values(), *self.latest.values()])
        return [text for _, text in snapshot], queue, True

    def unsubscribe(self, queue: asyncio.Queue[str | None]) -> None:
        """Forget a viewer."""
        self.subscribers.discard(queue)

    def close(self) -> None:
        """Tell every viewer the feed ended."""
        for queue in list(self.subscribers):
            with contextlib.suppress(asyncio.QueueFull):
                queue.put_nowait(None)
        self.subscribers.clear()


@dataclass(eq=False)
class LiveSession:
    """One running clinic session (see the module docstring).

    Attributes
    ----------
    session_id, patient_id, patient_code : str
    sensors : mapping of placement to URL
    capture_path : Path
    options : AnalysisOptions
        Height and header for the live analysis.
    transport_options : mapping, optional
        Per-placement keyword arguments for the transports (tests: bleak backends).
    full_pool : Executor, optional
        Where passes over everything run once the recording is longer than the window (the hub's worker process);
        None: a thread of this process.
    window_s : float
        Stretch a quick pass analyses (the newest seconds).
    quick_share, full_share : float
        Largest share of a core the quick passes and the passes over everything may each take.
    min_interval_s : float
        Shortest time between two passes of a kind.
    trace_rate_hz : float
        Rate of the angle traces sent to viewers.
    """

    session_id: str
    patient_id: str
    patient_code: str
    sensors: Mapping[str, str]
    capture_path: Path
    options: AnalysisOptions
    transport_options: Mapping[str, Mapping[str, Any]] | None = None
    full_pool: cf.Executor | None = None
    window_s: float = 20.0
    quick_share: float = 0.06
    full_share: float = 0.04
    min_interval_s: float = 0.5
    trace_rate_hz: float = 50.0
    status_period_s: float = 1.0
    state: str = "starting"
    started_at: dt.datetime = field(default_factory=utcnow)
    analysis_id: str | None = None
    feed: LiveFeed = field(default_factory=LiveFeed)
    #: Duration of the newest passes (s).
    pass_durations_s: collections.deque[float] = field(default_factory=lambda: collections.deque(maxlen=1000))
    #: (monotonic arrival of the newest packet a pass saw, monotonic time its messages were published), for the
    #: newest passes that found strides.
    pass_latency_s: collections.deque[tuple[float, float]] = field(
        default_factory=lambda: collections.deque(maxlen=1000)
    )

    def __post_init__(self) -> None:
        self.bridge = BridgeSession(
            self.sensors,
            out=self.capture_path,
            subject_id=self.patient_code,
            session_id=self.session_id,
            transport_options=self.transport_options,
        )
        self.analysis = LiveAnalysis(
            pipeline=GaitPipeline(height_m=self.options.height_m, sensor_height_m=self.options.sensor_height_m)
        )
        self._executor = cf.ThreadPoolExecutor(1, thread_name_prefix=f"live-{self.session_id[:6]}")
        self._full_executor = cf.ThreadPoolExecutor(1, thread_name_prefix=f"live-full-{self.session_id[:6]}")
        self._lock = threading.Lock()  # the analysis' buffers and stride table, shared by the two pass threads
        self._tasks: list[asyncio.Task[None]] = []
        self._grid: LiveGrid | None = None
        self._t0_mono = time.monotonic()
        self._published: dict[int, dict[str, Any]] = {}

    # ------------------------------------------------------------------------------------------------ running
    def start(self) -> None:
        """Start the sensors, the analysis loop and the status loop (in the running event loop)."""
        self.state = "running"
        self._tasks = [
            asyncio.create_task(self._run_bridge(), name=f"bridge {self.session_id}"),
            asyncio.create_task(self._analysis_loop(), name=f"analysis {self.session_id}"),
            asyncio.create_task(self._status_loop(), name=f"status {self.session_id}"),
        ]

    async def _run_bridge(self) -> None:
        try:
            await self.bridge.run()
        except Exception as exc:  # the session must report, not vanish
            log.exception("live session %s: bridge failed", self.session_id)
            self.feed.publish({"type": "error", "message": f"sensor bridge failed: {exc}"})

    async def stop(self) -> None:
        """Stop the sensors and the loops; the capture file is closed when this returns."""
        if self.state in ("stopping", "stopped"):
            return
        self.state = "stopping"
        self.bridge.stop()
        for task in self._tasks[1:]:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        try:  # the last pass is the offline analysis of the capture, so the feed ends with the final values
            update = await asyncio.get_running_loop().run_in_executor(self._executor, self._final_pass)
            self.feed.publish_many(self._update_messages(update, tolerance=0.0))
        except Exception:
            log.exception("live session %s: final pass failed", self.session_id)
        self._executor.shutdown(wait=True)
        self._full_executor.shutdown(wait=True)
        self.publish_status()

    def finish(self, analysis_id: str | None) -> None:
        """Mark the session stopped, with the offline analysis it queued, and close the feed."""
        self.analysis_id = analysis_id
        self.state = "stopped"
        self.feed.publish({"type": "ended", "analysis_id": analysis_id})
        self.feed.close()

    # ------------------------------------------------------------------------------------------------ status
    def sensor_status(self) -> dict[str, dict[str, Any]]:
        """Per placement: link state, connected (streaming and heard from recently), rate, loss, battery, sync."""
        out: dict[str, dict[str, Any]] = {}
        for placement, h in self.bridge.health().items():
            silent = h.get("silent_s")
            connected = h.get("state") == "streaming" and silent is not None and silent < LOST_AFTER_S
            out[placement] = {
                "state": h.get("state"),
                "connected": bool(connected),
                "rate_hz": json_number(h.get("rate_hz"), 1),
                "loss_pct": json_number(h.get("loss_pct"), 2),
                "battery_pct": h.get("battery_pct"),
                "sync_uncertainty_ms": json_number(h.get("sync_uncertainty_ms"), 2),
                "silent_s": json_number(silent, 2),
                "samples": h.get("samples"),
                "reconnects": h.get("reconnects"),
            }
        return out

    def publish_status(self) -> None:
        """Send the sensors' status to the viewers."""
        self.feed.publish(
            {"type": "status", "t_s": round(time.monotonic() - self._t0_mono, 2), "sensors": self.sensor_status()}
        )

    async def _status_loop(self) -> None:
        while True:
            self.publish_status()
            await asyncio.sleep(self.status_period_s)

    # ------------------------------------------------------------------------------------------------ analysis
    def _read_new_samples(self) -> int:
        """Move what arrived onto the grid; returns the samples added."""
        if self._grid is None:
            self.bridge.process()
            samples = [link.stream.samples() for link in self.bridge.links.values()]
            ready = [s for s in samples if s.host_us.size >= 2]
            waited = time.monotonic() - self._t0_mono
            if not ready or (len(ready) < len(samples) and waited < 3.0):
                return 0
            self._grid = LiveGrid(max(s.rate_hz for s in ready))
        added = 0
        while (chunk := self.bridge.read_chunk(self._grid)) is not None:
            with self._lock:
                self.analysis.append(chunk)
            added += chunk.n_samples
        return added

    @property
    def t0_monotonic_s(self) -> float | None:
        """The host's monotonic clock (s) at the session's time 0 (its first grid sample); None before it."""
        return None if self._grid is None or self._grid.start_us is None else self._grid.start_us / 1e6

    def _newest_arrival_mono_s(self) -> float:
        """Monotonic time (s) of the newest packet on any link (the bridge stamps arrivals with that clock)."""
        known = [t for t in (link.stream.last_arrival_us for link in self.bridge.links.values()) if t is not None]
        return max(known) / 1e6 if known else time.monotonic()

    async def _analysis_loop(self) -> None:
        try:
            await self._analyse_while_running()
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # the recording goes on; the viewers are told the live analysis stopped
            log.exception("live session %s: analysis failed", self.session_id)
            self.feed.publish({"type": "error", "message": f"live analysis stopped: {type(exc).__name__}: {exc}"})

    async def _analyse_while_running(self) -> None:
        """Quick passes over the newest ``window_s`` for new strides and traces, as often as ``min_interval_s``;
        passes over everything for the summary, the flags and refined strides, paced to ``full_share`` of a core.

        While the recording is shorter than the window every pass is over everything, in this process. Later, passes
        over everything run in a worker process when the hub has one (``full_pool``), beside the quick passes, so a
        stride found by a quick pass never waits behind one.
        """
        loop = asyncio.get_running_loop()
        analysed = 0
        last_quick = last_full = 0.0
        quick_cost = full_cost = 0.0
        full_task: asyncio.Future[LiveUpdate] | None = None
        full_started = 0.0
        while True:
            await asyncio.sleep(0.05)
            self._read_new_samples()
            now = time.monotonic()
            if full_task is not None and full_task.done():
                try:
                    messages = self._update_messages(full_task.result(), revise=True, summary=True)
                except Exception as exc:  # quick passes go on; the next full pass is tried after the usual pause
                    log.exception("live session %s: a pass over everything failed", self.session_id)
                    self.feed.publish({"type": "error", "message": f"a full analysis pass failed: {exc}"})
                else:
                    self.feed.publish_many(messages)
                full_cost = now - full_started
                last_full, full_task = now, None
            if self.analysis.n_samples <= analysed:
                continue
            full_due = now - last_full >= max(self.min_interval_s, full_cost * (1.0 / self.full_share - 1.0))
            quick_due = now - last_quick >= max(self.min_interval_s, quick_cost * (1.0 / self.quick_share - 1.0))
            short = self.analysis.n_samples <= self._window_samples()
            if full_due and full_task is None and not short:
                full_started = now
                full_task = loop.run_in_executor(self._full_executor, self._pass, None, False)
            if not (quick_due or (short and full_due)):
                continue
            full = short  # while short, a pass over everything is as cheap as a quick one
            arrival = self._newest_arrival_mono_s()
            t0 = time.monotonic()
            update = await loop.run_in_executor(self._executor, self._pass, None if full else self.window_s, True)
            self.feed.publish_many(self._update_messages(update, revise=full, summary=full, newest_packet_s=arrival))
            cost = time.monotonic() - t0
            self.pass_durations_s.append(cost)
            analysed = update.n_samples
            last_quick = time.monotonic()
            if full:
                last_full, full_cost = last_quick, cost
            else:
                quick_cost = cost
            if update.new_stride_rows.size:
                self.pass_latency_s.append((arrival, time.monotonic()))

    def _window_samples(self) -> int:
        return int(self.window_s * self._grid.rate_hz) if self._grid is not None else 0

    def _pass(self, window_s: float | None, in_process: bool) -> LiveUpdate:
        """One pass (in a worker thread): plan and absorb under the lock, the pipeline outside it; a pass over
        everything goes to the hub's worker process unless ``in_process``."""
        with self._lock:
            planned = self.analysis.plan(window_s=window_s, trace=in_process)
        if planned.recording is None:
            return self.analysis.absorb(planned, None, "no data yet")
        try:
            if in_process or self.full_pool is None:
                result = self.analysis.pipeline.run(planned.recording)
            else:
                result = self.full_pool.submit(run_pipeline, self.analysis.pipeline, planned.recording).result()
        except AnalysisError as exc:
            with self._lock:
                return self.analysis.absorb(planned, None, str(exc))
        with self._lock:
            return self.analysis.absorb(planned, result)

    def _final_pass(self) -> LiveUpdate:
        recording = assemble_capture(parse_capture(self.capture_path.read_bytes())).recording
        with self._lock:
            return self.analysis.analyze(final=recording)

    def _update_messages(
        self,
        update: LiveUpdate,
        *,
        revise: bool = True,
        summary: bool = True,
        tolerance: float = 0.05,
        newest_packet_s: float | None = None,
    ) -> list[dict[str, Any]]:
        """The messages of a pass: the trace, new strides (and, when ``revise``, earlier ones whose values moved by
        more than ``tolerance``), and when ``summary`` the report's sections so far."""
        if update.result is None:
            return []
        result = update.result
        fs = result.sampling_rate_hz
        step = max(1, round(fs / self.trace_rate_hz))
        messages: list[dict[str, Any]] = []
        if update.trace:  # passes beside the quick ones leave the trace to them
            messages.append(
                {
                    "type": "trace",
                    "t0_s": round(update.trace_start_idx / fs, 3),
                    "newest_packet_monotonic_s": newest_packet_s,
                    "rate_hz": fs / step,
                    "channels": {
                        name: [json_number(v, 2) for v in update.trace[name][::step].tolist()]
                        for name in TRACE_CHANNELS
                    },
                }
            )
        rows = np.arange(update.stride_ids.size) if revise else update.new_stride_rows
        rows = rows[update.stride_ids[rows] >= 0]
        records = stride_records(result, rows, offset_idx=update.offset_idx)
        for row, stride in zip(rows.tolist(), records, strict=True):
            stride_id = int(update.stride_ids[row])
            record = _clean(stride)
            before = self._published.get(stride_id)
            if before is None or _changed(before, record, tolerance):
                self._published[stride_id] = record
                messages.append({"type": "stride", "id": stride_id, "revised": before is not None, **record})
        if summary:
            from gait.report import build_report  # noqa: PLC0415 - with the analysis

            report = build_report(result, session=dict(self.options.session))
            messages.append(
                {
                    "type": "summary",
                    "t_s": round(update.n_samples / fs, 2),
                    "t0_monotonic_s": self.t0_monotonic_s,
                    "newest_packet_monotonic_s": newest_packet_s,
                    "n_strides": self.analysis.n_reported,
                    "report": {k: report.get(k) for k in _SUMMARY_SECTIONS},
                }
            )
        return messages


class LiveHub:
    """The service's live sessions, by session id.

    Parameters
    ----------
    database, blobs, runner
        Where a stopped session's capture and its offline analysis go.
    live_dir : Path
        Folder of the captures being written.
    keep_stopped : int
        Stopped sessions kept, so viewers that come back learn that it ended and where the report is.
    worker_process : bool
        Run the live sessions' passes over everything in one worker process (spawned at the first session), off
        the interpreter the quick passes and the sensors share.
    """

    def __init__(
        self,
        database: Database,
        blobs: BlobStore,
        runner: AnalysisRunner,
        live_dir: Path,
        *,
        keep_stopped: int = 50,
        worker_process: bool = True,
    ) -> None:
        self.database = database
        self.blobs = blobs
        self.runner = runner
        self.live_dir = Path(live_dir)
        self.keep_stopped = keep_stopped
        self.sessions: dict[str, LiveSession] = {}
        self._lock = asyncio.Lock()
        self.worker_process = worker_process
        self._pool: cf.ProcessPoolExecutor | None = None

    def get(self, session_id: str) -> LiveSession:
        """The live session (running or recently stopped); :class:`NotFound` otherwise."""
        live = self.sessions.get(session_id)
        if live is None:
            raise NotFound(f"session {session_id} has no live recording")
        return live

    async def start(
        self,
        *,
        session_id: str,
        patient_id: str,
        patient_code: str,
        sensors: Mapping[str, str],
        options: AnalysisOptions,
        transport_options: Mapping[str, Mapping[str, Any]] | None = None,
    ) -> LiveSession:
        """Start recording and analysing a session live.

        Raises
        ------
        Conflict
            When the session is already live.
        """
        async with self._lock:
            current = self.sessions.get(session_id)
            if current is not None and current.state in ("starting", "running", "stopping"):
                raise Conflict(f"session {session_id} is already live")
            self.live_dir.mkdir(parents=True, exist_ok=True)
            stamp = utcnow().strftime("%Y%m%dT%H%M%S")
            if self.worker_process and self._pool is None:
                self._pool = cf.ProcessPoolExecutor(1, mp_context=multiprocessing.get_context("spawn"))
                self._pool.submit(warm_up)  # start it and import the analysis now, while the patient stands still
            live = LiveSession(
                session_id=session_id,
                patient_id=patient_id,
                patient_code=patient_code,
                sensors=dict(sensors),
                capture_path=self.live_dir / f"{session_id}-{stamp}.imucap",
                options=options,
                transport_options=transport_options,
                full_pool=self._pool,
            )
            live.start()
            self.sessions[session_id] = live
            self._forget_old()
            return live

    async def stop(self, session_id: str) -> LiveSession:
        """Stop a live session, store its capture as the session's recording and queue its offline analysis."""
        live = self.get(session_id)
        if live.state == "stopped":
            return live
        await live.stop()
        analysis_id = await asyncio.get_running_loop().run_in_executor(None, self._store, live)
        if analysis_id is not None:
            self.runner.submit(analysis_id)
        live.finish(analysis_id)
        return live

    def _store(self, live: LiveSession) -> str | None:
        try:
            data = live.capture_path.read_bytes()
        except OSError as exc:
            log.error("live session %s: capture unreadable: %s", live.session_id, exc)
            return None
        sha256 = self.blobs.put(data)
        with self.database.session() as db:
            db.add(
                RecordingFile(
                    session_id=live.session_id,
                    format="capture",
                    filename=live.capture_path.name,
                    sha256=sha256,
                    size_bytes=len(data),
                    summary={"live": True, "sensors": dict(live.sensors)},
                )
            )
            job = Analysis(session_id=live.session_id, warnings=[])
            db.add(job)
            db.flush()
            analysis_id = job.id
        live.capture_path.unlink(missing_ok=True)  # the blob store holds it now
        return analysis_id

    def _forget_old(self) -> None:
        stopped = [s for s in self.sessions.values() if s.state == "stopped"]
        for old in stopped[: max(0, len(stopped) - self.keep_stopped)]:
            self.sessions.pop(old.session_id, None)

    async def shutdown(self) -> None:
        """Stop every running session (the service is stopping), keeping their captures and queuing analyses."""
        for session_id, live in list(self.sessions.items()):
            if live.state != "stopped":
                with contextlib.suppress(Exception):
                    await self.stop(session_id)
        if self._pool is not None:
            self._pool.shutdown(wait=True, cancel_futures=True)
            self._pool = None
