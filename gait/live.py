"""Live analysis: the offline pipeline followed as a recording grows, with what is new since the last look.

Nothing here is a second analysis. :class:`LiveAnalysis` keeps the chunks of a live recording and, when asked,
runs the same :class:`~gait.pipeline.GaitPipeline` over everything so far. Each pass answers with the strides that
were not there before (matched by side and bounding initial contacts, within a tolerance, since a contact can move
by a sample or two as later data refines the filters), and the newest stretch of the pelvis and hip angles. The
last pass over a finished recording *is* the offline analysis of that recording.

The caller decides how often to look (the service paces passes so that their cost stays a fixed share of a core;
a pass costs about 7 ms plus 0.7 ms per second of recording here).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
from numpy.typing import NDArray

from gait.errors import AnalysisError, GaitError
from gait.pipeline import GaitPipeline, GaitResult
from gait.recording import Recording
from gait.spatiotemporal import StrideTable

__all__ = ["TRACE_CHANNELS", "LiveAnalysis", "LivePass", "LiveUpdate", "stride_records"]

FloatArray = NDArray[np.float64]
IntArray = NDArray[np.int64]

#: The angle traces a live view shows, in this order.
TRACE_CHANNELS = (
    "pelvis_tilt_deg",
    "pelvis_obliquity_deg",
    "pelvis_rotation_deg",
    "hip_flexion_left_deg",
    "hip_flexion_right_deg",
)
_SIDE_NAMES = {0: "left", 1: "right"}


@dataclass(frozen=True, slots=True)
class LiveUpdate:
    """What one pass found.

    Attributes
    ----------
    result : GaitResult or None
        The analysis of everything so far; None while the pipeline refuses the data (no walking yet).
    reason : str
        Why ``result`` is None ("" otherwise).
    new_stride_rows : ndarray of int, shape (k,)
        Rows of ``result.strides`` not reported by an earlier pass, in time order.
    stride_ids : ndarray of int, shape (m,)
        For every row of ``result.strides``, the stride's number: the order in which strides were first reported
        (0, 1, ...), stable across passes, so a viewer can replace a stride whose values a later pass refined;
        -1 for a stride a windowed pass saw but does not report.
    trace_start_idx : int
        Sample index of the first sample of ``trace``.
    trace : dict of str to ndarray, shape (n,)
        The newest stretch of each channel of :data:`TRACE_CHANNELS` (degrees; NaN where not available), from where
        the previous pass's trace ended (at most ``max_trace_s`` back).
    n_samples : int
        Samples in the recording so far.
    offset_idx : int
        Sample index at which the analysed stretch starts (0 for a pass over everything; ``result`` counts samples
        from there).
    """

    result: GaitResult | None
    reason: str
    new_stride_rows: IntArray
    stride_ids: IntArray
    trace_start_idx: int
    trace: dict[str, FloatArray] = field(default_factory=dict)
    n_samples: int = 0
    offset_idx: int = 0


@dataclass(frozen=True, slots=True)
class LivePass:
    """A planned pass (:meth:`LiveAnalysis.plan`): the samples to analyse and where they sit in the session.

    Attributes
    ----------
    recording : Recording or None
        A copy of the samples to analyse (None before any chunk).
    offset_idx : int
        Sample index of its first sample in the session.
    trace_start_idx, n_samples : int
        Where the pass's trace starts, and the session's samples when it was planned.
    with_trace : bool
    """

    recording: Recording | None
    offset_idx: int
    trace_start_idx: int
    n_samples: int
    with_trace: bool = True


class LiveAnalysis:
    """Follow a growing recording with the offline pipeline (see the module docstring).

    Parameters
    ----------
    pipeline : GaitPipeline, optional
        The analysis (default: ``GaitPipeline()``).
    match_tolerance_s : float
        A stride counts as already reported when one of the same side was, with both its initial contacts within
        this time.
    max_trace_s : float
        Longest trace returned by one pass.
    """

    def __init__(
        self, *, pipeline: GaitPipeline | None = None, match_tolerance_s: float = 0.03, max_trace_s: float = 10.0
    ) -> None:
        self.pipeline = pipeline or GaitPipeline()
        self.match_tolerance_s = float(match_tolerance_s)
        self.max_trace_s = float(max_trace_s)
        self._first: Recording | None = None  # the first chunk: placements, rate, frame, start time
        self._acc = np.zeros((0, 0, 3))  # growing buffers, capacity doubled as needed; samples [:n] are in use
        self._gyr = np.zeros((0, 0, 3))
        self._valid = np.zeros((0, 0), dtype=bool)
        self._n_samples = 0
        self._reported = np.zeros((0, 3), dtype=np.int64)  # side, start_idx, stop_idx
        self._trace_end_idx = 0

    @property
    def n_samples(self) -> int:
        """Samples appended so far."""
        return self._n_samples

    @property
    def n_reported(self) -> int:
        """Strides reported so far."""
        return int(self._reported.shape[0])

    def append(self, chunk: Recording) -> None:
        """Add the next chunk (same placements and rate as the first, consecutive in time).

        Raises
        ------
        GaitError
            When the chunk's placements or rate differ from the first chunk's.
        """
        first = self._first
        if first is None:
            self._first = first = chunk
        elif chunk.placements != first.placements or chunk.sampling_rate_hz != first.sampling_rate_hz:
            raise GaitError(
                f"chunk: expected placements {first.placements} at {first.sampling_rate_hz} Hz, got "
                f"{chunk.placements} at {chunk.sampling_rate_hz} Hz"
            )
        n, k = self._n_samples, chunk.n_samples
        # Grow: amortised O(1) per sample, never a copy per pass.
        if n + k > self._acc.shape[-2] or self._acc.shape[0] != chunk.n_sensors:
            capacity = max(2 * self._acc.shape[-2], n + k, 1024)
            shape = (chunk.n_sensors, capacity)
            acc, gyr, valid = np.empty((*shape, 3)), np.empty((*shape, 3)), np.zeros(shape, dtype=bool)
            if n:
                acc[:, :n], gyr[:, :n], valid[:, :n] = self._acc[:, :n], self._gyr[:, :n], self._valid[:, :n]
            self._acc, self._gyr, self._valid = acc, gyr, valid
        self._acc[:, n : n + k] = chunk.acc_mps2
        self._gyr[:, n : n + k] = chunk.gyr_dps
        self._valid[:, n : n + k] = chunk.valid
        self._n_samples = n + k

    def recording(self, start_idx: int = 0) -> Recording | None:
        """The samples appended so far, from ``start_idx``, as one Recording (None before the first chunk)."""
        first = self._first
        if first is None:
            return None
        n = self._n_samples
        return Recording(
            self._acc[:, start_idx:n],
            self._gyr[:, start_idx:n],
            first.sampling_rate_hz,
            first.placements,
            valid=self._valid[:, start_idx:n],
            frame=first.frame,
            start_time_s=first.start_time_s + start_idx / first.sampling_rate_hz,
            source=first.source,
        )

    def analyze(self, final: Recording | None = None, *, window_s: float | None = None) -> LiveUpdate:
        """Run the pipeline over everything so far and say what is new (see :class:`LiveUpdate`).

        The same as :meth:`plan`, ``pipeline.run`` on the planned recording, then :meth:`absorb`; a caller that runs
        the pipeline elsewhere (another process) calls the three itself.

        Parameters
        ----------
        final : Recording, optional
            The finished recording as read back from its file (the same samples, on the offline time base): it
            replaces the chunks, so this last pass is exactly the offline analysis, with strides matched to those
            reported live.
        window_s : float, optional
            Analyse only the newest ``window_s`` seconds (a quick pass): it finds the strides after the last one
            reported on each side, with the values the window allows (no standing calibration in it, so no
            absolute angles); ids of earlier strides are not returned (-1) and nothing reported is moved. Passes over
            everything (``window_s=None``) then refine them.
        """
        planned = self.plan(final, window_s=window_s)
        if planned.recording is None:
            return self.absorb(planned, None, "no data yet")
        try:
            result = self.pipeline.run(planned.recording)
        except AnalysisError as exc:
            return self.absorb(planned, None, str(exc))
        return self.absorb(planned, result)

    def plan(self, final: Recording | None = None, *, window_s: float | None = None, trace: bool = True) -> LivePass:
        """What a pass analyses: a copy of the samples (all, or the newest ``window_s``), see :meth:`analyze`.

        ``trace=False`` plans a pass that returns no trace (one that runs beside quick passes, which keep the
        trace).
        """
        if final is not None:
            self._first, self._n_samples = None, 0
            self.append(final)
        if self._first is None:
            return LivePass(None, 0, 0, 0, trace)
        n = self._n_samples
        fs = self._first.sampling_rate_hz
        trace_start = max(self._trace_end_idx, n - int(self.max_trace_s * fs))
        offset = 0
        if window_s is not None and final is None and n > int(window_s * fs):
            offset = n - int(window_s * fs)  # a quick pass builds only the window, whatever the session's length
            trace_start = max(trace_start, offset)
        return LivePass(self.recording(offset), offset, trace_start if trace else n, n, trace)

    def absorb(self, planned: LivePass, result: GaitResult | None, reason: str = "") -> LiveUpdate:
        """The update of a planned pass from its pipeline result (None, with the ``reason``, when it refused)."""
        empty = np.zeros(0, dtype=np.int64)
        n, offset = planned.n_samples, planned.offset_idx
        if result is None:
            return LiveUpdate(None, reason, empty, empty, planned.trace_start_idx, n_samples=n, offset_idx=offset)
        new_rows, ids = self.absorb_strides(planned, result.strides, result.sampling_rate_hz)
        trace: dict[str, FloatArray] = {}
        if planned.with_trace:
            trace = _trace(result, planned.trace_start_idx - offset, n - offset)
            self._trace_end_idx = max(self._trace_end_idx, n)
        return LiveUpdate(result, "", new_rows, ids, planned.trace_start_idx, trace, n, offset)

    def absorb_strides(
        self, planned: LivePass, strides: StrideTable, sampling_rate_hz: float
    ) -> tuple[IntArray, IntArray]:
        """The stride part of :meth:`absorb`, for a caller that ran the pipeline elsewhere and kept only its stride
        table: ``(new rows, id of every row)`` as in :class:`LiveUpdate`."""
        tolerance_idx = max(1, round(self.match_tolerance_s * sampling_rate_hz))
        return self._match_strides(strides, tolerance_idx=tolerance_idx, offset_idx=planned.offset_idx)

    def expected_stride_ends(self, *, ahead: int = 0, steady_strides: int = 20) -> IntArray:
        """Where the next strides of each side should end (sample index of their closing initial contact).

        A caller uses it to look again right when a stride can be complete rather than on a timer. Walking speed
        changes around a turn (strides lengthen into it by up to a third and shorten again after it), so each side
        gets several expectations, one row per side (sides in increasing order):

        - column 0, *recent*: the side's last end plus the shorter of its last stride and the newest stride of
          either side (the other side's is half a stride more recent, and the duration of the other side's stride
          spans this side's step from its contact);
        - column 1, *steady*: the side's last end plus the steady duration, the lower quartile of the newest
          ``steady_strides`` strides' (both sides; the walk's own strides, not those of its turns, which are up to
          a third longer): earlier than *recent* when the strides shorten again after a turn;
        - columns 2 .. ``ahead + 1``: the strides after *recent*, at the steady duration (through a turn whose strides
          a pass did not find, the walk goes on at about its cadence).

        Parameters
        ----------
        ahead : int
            Expected strides after the next one, per side.
        steady_strides : int
            Strides whose lower quartile of duration is the steady one.

        Returns
        -------
        ndarray of int, shape (n_sides, 2 + ahead)
            Sample indices (empty, shape (0, 2 + ahead), before a stride was reported).
        """
        known = self._reported
        if not known.shape[0]:
            return np.zeros((0, 2 + ahead), dtype=np.int64)
        by_end = known[np.argsort(known[:, 2], kind="stable")]
        durations = by_end[:, 2] - by_end[:, 1]
        newest = int(durations[-1])
        steady = int(np.percentile(durations[-steady_strides:], 25))
        rows = []
        for side in np.unique(known[:, 0]).tolist():
            mine = by_end[by_end[:, 0] == side]
            last_end = int(mine[-1, 2])
            recent = last_end + min(int(mine[-1, 2] - mine[-1, 1]), newest)
            rows.append([recent, last_end + steady, *(recent + k * steady for k in range(1, ahead + 1))])
        return np.asarray(rows, dtype=np.int64)

    def _match_strides(
        self, strides: StrideTable, *, tolerance_idx: int, offset_idx: int = 0
    ) -> tuple[IntArray, IntArray]:
        """``(new rows, id of every row)``; a pass over everything also moves the reported contacts to its own."""
        found = np.stack([strides.side, strides.start_idx, strides.stop_idx], axis=-1).astype(np.int64)
        found[:, 1:] += offset_idx
        known = self._reported
        ids = nearest_stride(found, known, tolerance_idx=tolerance_idx)
        new = ids < 0
        if offset_idx > 0:  # a window: only strides after the last one reported on their side are new
            last_stop = {
                int(side): int(known[known[:, 0] == side, 2].max(initial=-1)) for side in np.unique(found[:, 0])
            }
            later = np.array([stop > last_stop[int(side)] + tolerance_idx for side, _, stop in found], dtype=bool)
            new &= later.reshape(new.shape)
        rows = np.flatnonzero(new)
        rows = rows[np.argsort(found[rows, 2], kind="stable")]
        ids[rows] = known.shape[0] + np.arange(rows.size)
        self._reported = np.concatenate([known, found[rows]], axis=0)
        if offset_idx == 0:
            matched = (ids >= 0) & (ids < known.shape[0])
            self._reported[ids[matched]] = found[matched]  # follow contacts that later data moved by a sample
        return rows.astype(np.int64), ids


def nearest_stride(found: IntArray, known: IntArray, *, tolerance_idx: int) -> IntArray:
    """For each stride of ``found``, the row of ``known`` that is the same stride: same side, both initial contacts
    within ``tolerance_idx`` samples, the nearest by the larger of the two distances (the lower row on a tie); -1
    where there is none.

    The strides of one side follow each other (a stride's start is the previous one's end), so only the few known
    strides whose start is within the tolerance are candidates: found with a sorted search, O((n + m) log m) time
    and memory, where comparing every pair took 3 s and 1.2 GiB at the 6000 strides of an hour-long session.

    Parameters
    ----------
    found, known : ndarray of int, shape (n, 3) and (m, 3)
        ``side, start_idx, stop_idx`` per stride.
    tolerance_idx : int

    Returns
    -------
    ndarray of int, shape (n,)
    """
    ids = np.full(found.shape[0], -1, dtype=np.int64)
    for side in np.intersect1d(found[:, 0], known[:, 0]).tolist():
        mine = np.flatnonzero(found[:, 0] == side)
        theirs = np.flatnonzero(known[:, 0] == side)
        theirs = theirs[np.argsort(known[theirs, 1], kind="stable")]
        starts = known[theirs, 1]
        lo = np.searchsorted(starts, found[mine, 1] - tolerance_idx, side="left")
        hi = np.searchsorted(starts, found[mine, 1] + tolerance_idx, side="right")
        best = np.full(mine.size, -1, dtype=np.int64)
        best_distance = np.full(mine.size, np.iinfo(np.int64).max, dtype=np.int64)
        for k in range(int(np.max(hi - lo, initial=0))):  # candidates per stride: one, rarely two
            has = lo + k < hi
            row = theirs[np.minimum(lo + k, theirs.size - 1)]
            distance = np.max(np.abs(found[mine, 1:] - known[row, 1:]), axis=-1)
            nearer = (distance < best_distance) | ((distance == best_distance) & (row < best))
            better = has & (distance <= tolerance_idx) & nearer
            best = np.where(better, row, best)
            best_distance = np.where(better, distance, best_distance)
        ids[mine] = best
    return ids


def _trace(result: GaitResult, start_idx: int, stop_idx: int) -> dict[str, FloatArray]:
    n = stop_idx - start_idx
    nan = np.full(n, np.nan)
    kin = result.kinematics
    if kin is None:
        return {name: nan.copy() for name in TRACE_CHANNELS}
    pelvis = kin.pelvis_deg[start_idx:stop_idx]
    hip = kin.hip_flexion_deg[:, start_idx:stop_idx]
    return {
        "pelvis_tilt_deg": pelvis[:, 0].copy(),
        "pelvis_obliquity_deg": pelvis[:, 1].copy(),
        "pelvis_rotation_deg": pelvis[:, 2].copy(),
        "hip_flexion_left_deg": hip[0].copy(),
        "hip_flexion_right_deg": hip[1].copy(),
    }


def stride_records(result: GaitResult, rows: IntArray, *, offset_idx: int = 0) -> list[dict[str, object]]:
    """Per-stride values of ``rows`` of ``result.strides`` (seconds from the recording's start; NaN kept).

    ``offset_idx`` is where the analysed stretch starts in the recording (a windowed pass).

    Returns
    -------
    list of dict
        ``side, start_s, end_s, stride_time_s, stride_length_m, speed_mps, stance_pct``, ``pelvis``
        (``tilt_rom_deg, obliquity_rom_deg, rotation_rom_deg``) and ``hip`` (``sagittal_rom_deg,
        peak_extension_deg, peak_flexion_deg``), the hip of the stride's own side.
    """
    fs = result.sampling_rate_hz
    st = result.strides
    kin = result.kinematics.strides if result.kinematics is not None else None
    out: list[dict[str, object]] = []
    for r in np.asarray(rows, dtype=np.int64).tolist():
        pelvis = {"tilt_rom_deg": np.nan, "obliquity_rom_deg": np.nan, "rotation_rom_deg": np.nan}
        hip = {"sagittal_rom_deg": np.nan, "peak_extension_deg": np.nan, "peak_flexion_deg": np.nan}
        if kin is not None:
            if kin.pelvis_used[r]:
                pelvis = {
                    "tilt_rom_deg": float(kin.tilt_rom_deg[r]),
                    "obliquity_rom_deg": float(kin.obliquity_rom_deg[r]),
                    "rotation_rom_deg": float(kin.rotation_rom_deg[r]),
                }
            if kin.hip_used[r]:
                hip = {
                    "sagittal_rom_deg": float(kin.hip_sagittal_rom_deg[r]),
                    "peak_extension_deg": float(kin.hip_peak_extension_deg[r]),
                    "peak_flexion_deg": float(kin.hip_peak_flexion_deg[r]),
                }
        out.append(
            {
                "side": _SIDE_NAMES.get(int(st.side[r])),
                "start_s": float(st.start_idx[r] + offset_idx) / fs,
                "end_s": float(st.stop_idx[r] + offset_idx) / fs,
                "stride_time_s": float(st.time_s[r]),
                "stride_length_m": float(st.length_m[r]),
                "speed_mps": float(st.speed_mps[r]),
                "stance_pct": float(st.stance_pct[r]),
                "pelvis": pelvis,
                "hip": hip,
            }
        )
    return out
