"""The live hub: clinic sessions that record, analyse while the patient walks, and fan results out to viewers.

One :class:`LiveSession` per running clinic session:

- a :class:`~firmware_bridge.session.BridgeSession` connects the sensors and writes every packet to the capture
  file as it arrives;
- the analysis loop reads the new samples on one fixed grid (:class:`~firmware_bridge.timeline.LiveGrid`) into a
  :class:`~gait.live.LiveAnalysis`, which runs the offline pipeline: quick passes over the newest ``window_s``
  seconds find new strides, run when the next stride of a side can be complete (its expected end plus the look-ahead
  the event detector needs, then again every ``retry_s``) and at least every ``min_interval_s``; passes over
  everything so far refine them and give the report's sections and flags. Quick passes run in a thread, passes over
  everything in the hub's worker process, which keeps its own copy of the samples and is sent only the new ones;
  each kind is paced to a share of a core, so a long session does not cost more than a short one. The passes build
  their messages (the summary already serialised) in their threads, off the event loop;
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
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from firmware_bridge.readers.capture_format import assemble_capture
from firmware_bridge.session import BridgeSession
from firmware_bridge.timeline import LiveGrid
from gait.errors import AnalysisError
from gait.live import TRACE_CHANNELS, LiveAnalysis, LivePass, LiveUpdate, stride_records
from gait.pipeline import GaitPipeline, GaitResult
from gait.recording import Recording
from gait.spatiotemporal import StrideTable
from hardware.capture import parse_capture
from server.analysis import AnalysisOptions
from server.blobs import BlobStore
from server.db import Analysis, Database, RecordingFile, utcnow
from server.errors import Conflict, NotFound
from server.jobs import AnalysisRunner

if TYPE_CHECKING:
    from server.live_fanout import LiveLink, RemoteLive

__all__ = [
    "LiveFeed",
    "LiveHub",
    "LiveSession",
    "OutOfStep",
    "PassOutput",
    "analyse_everything",
    "forget_samples",
    "full_pass",
    "json_number",
    "next_try_idx",
    "pass_output",
    "warm_up",
]

log = logging.getLogger("fusiongait.live")

#: Sensors silent this long are shown as lost (issue 8: within 2 s).
LOST_AFTER_S = 1.5
_SUMMARY_SECTIONS = ("spatiotemporal", "kinematics", "flags", "quality", "warnings")


# Results hold read-only mappings (types.MappingProxyType), which pickle cannot send back from the worker process
# by default; this teaches it to, in every process that imports this module (the worker does, for full_pass).
def _mapping_proxy(items: dict[Any, Any]) -> types.MappingProxyType[Any, Any]:
    return types.MappingProxyType(items)


copyreg.pickle(types.MappingProxyType, lambda proxy: (_mapping_proxy, (dict(proxy),)))


def warm_up() -> None:
    """Nothing: handed to a new worker process so that it starts, and imports this module, ahead of its first pass."""


@dataclass(frozen=True, slots=True)
class PassOutput:
    """What a pass over everything hands back (from the worker process): a few kB whatever the session's length.

    Attributes
    ----------
    n_samples : int
        Samples the pass analysed (all of the session's so far).
    strides : StrideTable or None
        The pipeline's strides (None when it refused the data, with ``reason``).
    records : tuple of dict
        Every stride's values for the wire (:func:`~gait.live.stride_records`, rounded), by row of ``strides``.
    report_json : str
        The report's sections for the summary message, already serialised.
    cpu_s : float
        CPU time the pass took where it ran (for pacing).
    """

    n_samples: int
    sampling_rate_hz: float = 0.0
    strides: StrideTable | None = None
    records: tuple[dict[str, Any], ...] = ()
    report_json: str = ""
    reason: str = ""
    cpu_s: float = 0.0


class OutOfStep(RuntimeError):
    """The worker's copy of a session's samples does not end where the new samples start (a restarted worker)."""


#: In the worker process: each live session's samples so far, by key (only the new ones are sent each pass).
_WORKER_SAMPLES: dict[str, LiveAnalysis] = {}


def full_pass(
    key: str, start_idx: int, new: Recording, pipeline: GaitPipeline, session: Mapping[str, Any]
) -> PassOutput:
    """A pass over everything, in the worker process: append ``new`` (the session's samples from ``start_idx``) to
    the copy kept here, run the pipeline over it all and answer with a :class:`PassOutput`.

    Raises
    ------
    OutOfStep
        When the copy kept here does not end at ``start_idx`` (the caller then sends everything, from 0).
    """
    cpu0 = time.process_time()
    if start_idx == 0:
        _WORKER_SAMPLES[key] = LiveAnalysis(pipeline=pipeline)
    samples = _WORKER_SAMPLES.get(key)
    if samples is None or samples.n_samples != start_idx:
        raise OutOfStep(f"live session {key}: the worker has {samples and samples.n_samples} samples, not {start_idx}")
    samples.append(new)
    recording = samples.recording()
    assert recording is not None
    return analyse_everything(recording, pipeline, session, samples.n_samples, cpu0=cpu0)


def analyse_everything(
    recording: Recording,
    pipeline: GaitPipeline,
    session: Mapping[str, Any],
    n_samples: int,
    *,
    cpu0: float,
    clock: Callable[[], float] = time.process_time,
) -> PassOutput:
    """The tail of a pass over everything, in the worker process (:func:`full_pass`) or in this one: run the
    pipeline over ``recording`` (the session's ``n_samples`` so far) and answer with its :class:`PassOutput`, or one
    with the ``reason`` when the pipeline refuses the data.

    ``cpu_s`` is ``clock() - cpu0``: ``cpu0`` must come from ``clock``, the process's CPU time in the worker (the
    default), the pass thread's (``time.thread_time``) in a process that does other work meanwhile.
    """
    try:
        result = pipeline.run(recording)
    except AnalysisError as exc:
        return PassOutput(n_samples, reason=str(exc), cpu_s=clock() - cpu0)
    return pass_output(result, session, n_samples, cpu0=cpu0, clock=clock)


def forget_samples(key: str) -> None:
    """In the worker process: drop a stopped session's samples."""
    _WORKER_SAMPLES.pop(key, None)


def pass_output(
    result: GaitResult,
    session: Mapping[str, Any],
    n_samples: int,
    *,
    cpu0: float,
    clock: Callable[[], float] = time.process_time,
) -> PassOutput:
    """The :class:`PassOutput` of a pass over everything (every stride's values, the report's sections); its
    ``cpu_s`` is ``clock() - cpu0`` (``cpu0`` read from ``clock``)."""
    from gait.report import build_report  # noqa: PLC0415 - with the analysis

    records = tuple(_clean(r) for r in stride_records(result, np.arange(result.strides.start_idx.size)))
    report = build_report(result, session=dict(session))
    report_json = json.dumps({k: report.get(k) for k in _SUMMARY_SECTIONS}, separators=(",", ":"), allow_nan=False)
    return PassOutput(n_samples, result.sampling_rate_hz, result.strides, records, report_json, cpu_s=clock() - cpu0)


def next_try_idx(
    ends: np.ndarray, last_idx: int, *, lookahead_idx: int, retry_idx: int, give_up_idx: int, tries: int
) -> int | None:
    """When the next quick pass should look for a stride: the first try after ``last_idx`` (the samples of the
    newest quick pass), at least ``retry_idx`` after it; None when none is left.

    ``ends`` are the expected stride ends of :meth:`~gait.live.LiveAnalysis.expected_stride_ends`, one row per side.
    The first of a row (at the newest strides' duration) is tried ``lookahead_idx`` after it and then every
    ``retry_idx`` until ``give_up_idx`` after it; each of the others ``tries`` times from ``lookahead_idx`` after it.
    The steady one counts only when it is earlier than the first (otherwise the first's tries cover it), and then
    it is tried every ``retry_idx`` until the first's own tries begin: after a turn the strides shorten over a few
    strides, so the next end is anywhere between the two.
    """
    after = last_idx + 1
    best: int | None = None
    for recent, steady, *later in np.asarray(ends, dtype=np.int64).tolist():
        windows = [(recent + lookahead_idx, recent + give_up_idx)]
        windows += [(end + lookahead_idx, end + lookahead_idx + (tries - 1) * retry_idx) for end in later]
        if steady < recent:  # across the gap up to the first's tries
            windows.append((steady + lookahead_idx, max(recent, steady + (tries - 1) * retry_idx) + lookahead_idx))
        for first, stop in windows:
            k = max(0, -(-(after - first) // retry_idx))  # the first try of this window after the newest pass
            t = first + k * retry_idx
            if t <= stop and (best is None or t < best):
                best = t
    return None if best is None else max(best, last_idx + retry_idx)


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
        #: Called with ``(seq, type, stride id or None, text)`` for each message, when the service fans the feed out
        #: to other processes (server.live_fanout); None with one process.
        self.relay: Callable[[int, str, int | None, str], None] | None = None

    def publish(self, message: dict[str, Any], body: str | None = None) -> None:
        """Number ``message``, keep it and hand it to every viewer.

        ``body``: the message already serialised (without ``seq``; ``message`` then needs only ``type``, and ``id``
        for a stride), so that a large one is not serialised on the event loop.
        """
        self.seq += 1
        if body is None:
            text = json.dumps({"seq": self.seq, **message}, separators=(",", ":"), allow_nan=False)
        else:
            text = f'{{"seq":{self.seq},{body[1:]}'
        kind = message["type"]
        self._keep(self.seq, kind, int(message["id"]) if kind == "stride" else None, text)

    def _keep(self, seq: int, kind: str, stride_id: int | None, text: str) -> None:
        """Keep the numbered message ``text`` (of type ``kind``), relay it and hand it to every viewer."""
        item = (seq, text)
        self.log.append(item)
        if kind == "stride" and stride_id is not None:
            self.strides[stride_id] = item
        elif kind in ("status", "summary", "ended"):
            self.latest[kind] = item
        if self.relay is not None:
            self.relay(seq, kind, stride_id, text)
        for queue in list(self.subscribers):
            try:
                queue.put_nowait(text)
            except asyncio.QueueFull:  # a viewer that does not keep up is let go; it resumes from its last seq
                self.subscribers.discard(queue)
                with contextlib.suppress(asyncio.QueueFull):
                    queue.put_nowait(None)

    def publish_many(self, messages: list[tuple[dict[str, Any], str | None]]) -> None:
        """:meth:`publish` each ``(message, body)`` pair, in order."""
        for message, body in messages:
            self.publish(message, body)

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
        Largest share of a core (CPU time of the passes) the quick passes (over the last ``budget_s``) and the
        passes over everything may each take.
    min_interval_s : float
        Shortest time between two passes over everything; also the longest between two quick passes (traces).
    lookahead_s, retry_s, give_up_s, tries, ahead : float, float, float, int, int
        A quick pass is run when the data reach ``lookahead_s`` past an expected stride end (the event detector needs
        about 0.12-0.17 s after a contact), then every ``retry_s`` while the stride is not there. Each side has
        several expectations (:meth:`~gait.live.LiveAnalysis.expected_stride_ends`): at the newest strides' duration
        (tried until the data are ``give_up_s`` past it), at the walk's steady duration when that is earlier (the
        strides shorten after a turn: tried every ``retry_s`` up to the first) and the ``ahead`` strides after it at
        that cadence (``tries`` tries each). Until the first stride is found (nothing is expected yet; the first
        strides of a session need up to 1.25 s of data after their end), a quick pass is run every ``retry_s``.
    poll_s : float
        How often the analysis loop looks at the clock (the samples are read only when a pass is due).
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
    window_s: float = 10.0
    quick_share: float = 0.1
    full_share: float = 0.03
    min_interval_s: float = 0.5
    lookahead_s: float = 0.15
    retry_s: float = 0.05
    give_up_s: float = 0.6
    tries: int = 3
    ahead: int = 3
    poll_s: float = 0.02
    budget_s: float = 10.0
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
        self._publish_lock = threading.Lock()  # _published, shared by the two pass threads
        self._newest_arrival_s = 0.0  # arrival of the newest packet when the samples were last read
        self._looked: collections.deque[tuple[int, float]] = collections.deque(maxlen=64)  # (samples, arrival)
        self._last_quick_n = 0  # samples of the newest quick pass
        self._worker_key = f"{self.session_id}-{id(self):x}"
        self._sent_idx = 0  # samples the worker process has of this session

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
        if self.full_pool is not None and self._sent_idx:
            with contextlib.suppress(Exception):
                self.full_pool.submit(forget_samples, self._worker_key)
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
        arrival = self._newest_arrival_mono_s()  # the packets below arrived by then (this loop reads them now)
        added = 0
        while (chunk := self.bridge.read_chunk(self._grid)) is not None:
            with self._lock:
                self.analysis.append(chunk)
                self._newest_arrival_s = arrival
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

    def _next_try_idx(self) -> int | None:
        """Sample index at which the next quick pass should look for a stride (see :func:`next_try_idx`); None when
        no stride is expected."""
        if self._grid is None:
            return None
        fs = self._grid.rate_hz
        with self._lock:
            ends = self.analysis.expected_stride_ends(ahead=self.ahead)
        return next_try_idx(
            ends,
            self._last_quick_n,
            lookahead_idx=round(self.lookahead_s * fs),
            retry_idx=max(1, round(self.retry_s * fs)),
            give_up_idx=round(self.give_up_s * fs),
            tries=self.tries,
        )

    async def _analyse_while_running(self) -> None:
        """Quick passes over the newest ``window_s`` for new strides and traces, run when the next stride of either
        side can be complete (and at least every ``min_interval_s``); passes over everything for the summary, the
        flags and refined strides. Each kind is paced to its share of a core.

        While the recording is shorter than the window every pass is over everything, in this process; those that
        come when a pass over everything is due by its pacing also build the summary and count as one, the others count
        as quick passes (the summary passes of the first seconds used to take the quick passes' budget well past
        them). Later, passes over everything run in a worker process when the hub has one (``full_pool``), beside the
        quick passes, so a stride found by a quick pass never waits behind one. The passes build their messages in
        their threads; this loop (which also serves the sensors and the viewers) only reads the samples and publishes.
        """
        loop = asyncio.get_running_loop()
        quick_task: asyncio.Future[tuple[list[tuple[dict[str, Any], str | None]], float]] | None = None
        full_task: asyncio.Future[tuple[list[tuple[dict[str, Any], str | None]], float]] | None = None
        last_quick = last_full = 0.0
        quick_spent: collections.deque[tuple[float, float]] = collections.deque()  # (end, CPU s) of quick passes
        full_cost = read_lag = 0.0
        analysed = 0
        quick_is_full = False  # the running quick_task is a pass over everything with the summary (short session)
        while True:
            running = {task for task in (quick_task, full_task) if task is not None}
            if running:  # a pass that ends is published at once, not at the next poll
                await asyncio.wait(running, timeout=self.poll_s, return_when=asyncio.FIRST_COMPLETED)
            else:
                await asyncio.sleep(self.poll_s)
            now = time.monotonic()
            if full_task is not None and full_task.done():
                try:
                    messages, full_cost = full_task.result()
                except Exception as exc:  # quick passes go on; the next full pass is tried after the usual pause
                    log.exception("live session %s: a pass over everything failed", self.session_id)
                    self.feed.publish({"type": "error", "message": f"a full analysis pass failed: {exc}"})
                else:
                    self.feed.publish_many(messages)
                last_full, full_task = now, None
            if quick_task is not None and quick_task.done():
                messages, cost = quick_task.result()
                self.feed.publish_many(messages)
                if quick_is_full:
                    full_cost = cost  # paced as a pass over everything, not out of the quick passes' budget
                else:
                    quick_spent.append((now, cost))
                quick_task = None
            if self._grid is None:
                self._read_new_samples()
                continue
            fs = self._grid.rate_hz
            t0 = self.t0_monotonic_s or now
            while quick_spent and quick_spent[0][0] < now - self.budget_s:
                quick_spent.popleft()
            within_budget = sum(c for _, c in quick_spent) < self.quick_share * self.budget_s
            short = self.analysis.n_samples <= self._window_samples()
            full_due = full_task is None and now - last_full >= max(
                self.min_interval_s, full_cost * (1.0 / self.full_share - 1.0)
            )
            quick_due = False
            if quick_task is None:
                if now - last_quick >= self.min_interval_s:
                    quick_due = True  # the timer: traces, and strides nobody expected (the first ones, after turns)
                elif within_budget and self.analysis.n_reported == 0:
                    quick_due = now - last_quick >= self.retry_s  # no stride yet: nothing to expect, look often
                elif within_budget:
                    due = self._next_try_idx()  # the samples reach it about read_lag behind the clock
                    quick_due = due is not None and (now - t0) * fs - read_lag >= due
            if not (quick_due or (full_due and not short)):
                continue
            self._read_new_samples()
            n = self.analysis.n_samples
            read_lag = max(0.0, (time.monotonic() - t0) * fs - n)
            if n <= analysed:
                continue
            if full_due and not short:
                full_task = loop.run_in_executor(self._full_executor, self._full_pass)
            if quick_due:
                due = self._next_try_idx()
                if due is not None and n < due and now - last_quick < self.min_interval_s:
                    continue  # the samples are not there yet: look again at the next poll
                window = None if short else self.window_s
                quick_is_full = short and full_due
                quick_task = loop.run_in_executor(self._executor, self._quick_pass, window, quick_is_full)
                last_quick, analysed, self._last_quick_n = now, n, n
                if quick_is_full:
                    last_full = now

    def _window_samples(self) -> int:
        return int(self.window_s * self._grid.rate_hz) if self._grid is not None else 0

    def _looked_before(self, n_samples: int) -> float | None:
        """Arrival of the newest packet of the newest pass (either kind) that analysed fewer than ``n_samples``."""
        earlier = [arrival for n, arrival in self._looked if n < n_samples]
        return max(earlier) if earlier else None

    def _quick_pass(
        self, window_s: float | None, summary: bool = True
    ) -> tuple[list[tuple[dict[str, Any], str | None]], float]:
        """A quick pass (or, while the session is short, one over everything: with the report's sections when
        ``summary``), in this process's pass thread: ``(messages, CPU seconds)``."""
        cpu0 = time.thread_time()
        with self._lock:
            planned = self.analysis.plan(window_s=window_s)
            arrival = self._newest_arrival_s
        t0 = time.monotonic()
        result: GaitResult | None = None
        reason = "no data yet"
        if planned.recording is not None:
            try:
                result = self.analysis.pipeline.run(planned.recording)
            except AnalysisError as exc:
                reason = str(exc)
        full = window_s is None
        output = (
            pass_output(result, self.options.session, planned.n_samples, cpu0=cpu0, clock=time.thread_time)
            if result is not None and full and summary
            else None
        )
        with self._lock:
            update = self.analysis.absorb(planned, result, reason)
            previous = self._looked_before(planned.n_samples)
            self._looked.append((planned.n_samples, arrival))
            n_reported = self.analysis.n_reported
        if update.result is None:
            return [], time.thread_time() - cpu0
        records = output.records if output is not None else None
        messages = self._messages(
            update.result.strides,
            update.stride_ids,
            update.new_stride_rows,
            records=records,
            result=update.result,
            offset_idx=update.offset_idx,
            revise=full,
            packets=(arrival, previous),
        )
        if update.trace:
            messages.insert(0, (self._trace_message(update, arrival), None))
        if output is not None:
            messages.append(self._summary_message(output, n_reported, arrival))
        self.pass_durations_s.append(time.monotonic() - t0)
        if update.new_stride_rows.size:
            self.pass_latency_s.append((arrival, time.monotonic()))
        return messages, time.thread_time() - cpu0

    def _full_pass(self) -> tuple[list[tuple[dict[str, Any], str | None]], float]:
        """A pass over everything beside the quick ones (no trace), in the worker process when the hub has one, which
        keeps its own copy of the samples and is sent only the new ones: ``(messages, CPU seconds)``."""
        cpu0 = time.thread_time()
        with self._lock:
            n = self.analysis.n_samples
            start = self._sent_idx if self.full_pool is not None else 0
            new = self.analysis.recording(start)
            arrival = self._newest_arrival_s
        if new is None:
            return [], 0.0
        planned = LivePass(None, 0, n, n, with_trace=False)
        if self.full_pool is None:
            output = analyse_everything(
                new, self.analysis.pipeline, self.options.session, n, cpu0=cpu0, clock=time.thread_time
            )
            elsewhere_s = 0.0  # it ran in this thread: counted below
        else:
            self._sent_idx = 0  # unless the worker answers, it is out of step: send everything the next time
            future = self.full_pool.submit(
                full_pass, self._worker_key, start, new, self.analysis.pipeline, dict(self.options.session)
            )
            try:
                output = future.result()
            except cf.process.BrokenProcessPool:
                self.full_pool = None  # the worker died: passes over everything go on in this process
                raise
            self._sent_idx = n
            elsewhere_s = output.cpu_s
        with self._lock:
            previous = self._looked_before(n)
            self._looked.append((n, arrival))
            if output.strides is None:
                return [], elsewhere_s + time.thread_time() - cpu0
            new_rows, ids = self.analysis.absorb_strides(planned, output.strides, output.sampling_rate_hz)
            n_reported = self.analysis.n_reported
        messages = self._messages(
            output.strides, ids, new_rows, records=output.records, revise=True, packets=(arrival, previous)
        )
        messages.append(self._summary_message(output, n_reported, arrival))
        return messages, elsewhere_s + time.thread_time() - cpu0

    def _final_pass(self) -> LiveUpdate:
        recording = assemble_capture(parse_capture(self.capture_path.read_bytes())).recording
        with self._lock:
            return self.analysis.analyze(final=recording)

    def _trace_message(self, update: LiveUpdate, newest_packet_s: float | None) -> dict[str, Any]:
        assert update.result is not None
        fs = update.result.sampling_rate_hz
        step = max(1, round(fs / self.trace_rate_hz))
        return {
            "type": "trace",
            "t0_s": round(update.trace_start_idx / fs, 3),
            "newest_packet_monotonic_s": newest_packet_s,
            "rate_hz": fs / step,
            "channels": {
                name: [json_number(v, 2) for v in update.trace[name][::step].tolist()] for name in TRACE_CHANNELS
            },
        }

    def _summary_message(
        self, output: PassOutput, n_reported: int, newest_packet_s: float | None
    ) -> tuple[dict[str, Any], str]:
        head = {
            "type": "summary",
            "t_s": round(output.n_samples / output.sampling_rate_hz, 2),
            "t0_monotonic_s": self.t0_monotonic_s,
            "newest_packet_monotonic_s": newest_packet_s,
            "n_strides": n_reported,
        }
        text = json.dumps(head, separators=(",", ":"), allow_nan=False)
        return {"type": "summary"}, f'{text[:-1]},"report":{output.report_json}}}'

    def _messages(
        self,
        strides: StrideTable,
        stride_ids: np.ndarray,
        new_rows: np.ndarray,
        *,
        records: tuple[dict[str, Any], ...] | None = None,
        result: GaitResult | None = None,
        offset_idx: int = 0,
        revise: bool = True,
        tolerance: float = 0.05,
        packets: tuple[float | None, float | None] = (None, None),
    ) -> list[tuple[dict[str, Any], str | None]]:
        """The stride messages of a pass: new strides and, when ``revise``, earlier ones whose values moved by more
        than ``tolerance``. ``records`` are every row's values (a pass over everything), else they are taken from
        ``result`` for the rows needed. A new stride carries the arrival of the newest packet of its pass and of the
        pass before it (which did not have it), for latency measurements: ``packets``."""
        rows = np.arange(stride_ids.size) if revise else new_rows
        rows = rows[stride_ids[rows] >= 0]
        if records is None:
            assert result is not None
            chosen = [_clean(r) for r in stride_records(result, rows, offset_idx=offset_idx)]
        else:
            chosen = [records[r] for r in rows.tolist()]
        messages: list[tuple[dict[str, Any], str | None]] = []
        with self._publish_lock:
            for row, record in zip(rows.tolist(), chosen, strict=True):
                stride_id = int(stride_ids[row])
                before = self._published.get(stride_id)
                if before is None or _changed(before, record, tolerance):
                    self._published[stride_id] = record
                    message = {"type": "stride", "id": stride_id, "revised": before is not None, **record}
                    if before is None:
                        message["newest_packet_monotonic_s"], message["previous_packet_monotonic_s"] = packets
                    messages.append((message, None))
        return messages

    def _update_messages(
        self, update: LiveUpdate, *, tolerance: float = 0.05
    ) -> list[tuple[dict[str, Any], str | None]]:
        """The messages of the last pass (the offline analysis of the capture): its trace, every stride whose values
        moved by more than ``tolerance``, and the summary."""
        if update.result is None:
            return []
        result = update.result
        output = pass_output(result, self.options.session, update.n_samples, cpu0=time.process_time())
        messages = self._messages(
            result.strides, update.stride_ids, update.new_stride_rows, records=output.records, tolerance=tolerance
        )
        if update.trace:
            messages.insert(0, (self._trace_message(update, None), None))
        messages.append(self._summary_message(output, self.analysis.n_reported, None))
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

    With several service processes, :attr:`link` (a :class:`~server.live_fanout.LiveLink`, set by the app when
    ``FUSIONGAIT_FANOUT_URL`` names a shared backend) publishes this hub's sessions to the others and follows
    theirs: :meth:`get` and :meth:`listed` then also answer for sessions other processes run, and :meth:`stop`
    forwards to the owner.
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
        self.link: LiveLink | None = None

    def get(self, session_id: str) -> LiveSession | RemoteLive:
        """The live session (running or recently stopped), here or, with a link, in another process;
        :class:`NotFound` otherwise."""
        live: LiveSession | RemoteLive | None = self.sessions.get(session_id)
        if live is None and self.link is not None:
            live = self.link.remote.get(session_id)
        if live is None:
            raise NotFound(f"session {session_id} has no live recording")
        return live

    def listed(self) -> list[LiveSession | RemoteLive]:
        """This process's live sessions, then those of the other processes (with a link)."""
        here: list[LiveSession | RemoteLive] = list(self.sessions.values())
        return here + list(self.link.remote.values()) if self.link is not None else here

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
            if self.link is not None:
                self.link.check_not_live_elsewhere(session_id)
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
            if self.link is not None:
                self.link.attach(live)
            live.start()
            self.sessions[session_id] = live
            self._forget_old()
            return live

    async def stop(self, session_id: str) -> LiveSession | RemoteLive:
        """Stop a live session, store its capture as the session's recording and queue its offline analysis (a
        session of another process: asks that process, through the link)."""
        live = self.get(session_id)
        if not isinstance(live, LiveSession):
            assert self.link is not None
            return await self.link.stop_remote(live)
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
        if self.link is not None:  # after the sessions' ends, which it sends first
            await self.link.close()
            self.link = None
