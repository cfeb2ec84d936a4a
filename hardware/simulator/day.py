"""A simulated day at home: hours of sitting, standing and walking, with the truth of every step.

The day is a :class:`~hardware.simulator.walker.Segment` schedule like any session (one simulator: the walking-body
model of :mod:`hardware.simulator.walker`), drawn by :func:`home_day_schedule` to look like a day at home: sitting
for minutes, standing up, a few walks around the house (a few steps to the kitchen, half a minute to another room,
with turns and the odd short pause), now and then a walk of minutes outdoors, then sitting again.

Simulating hours on the model's 1 kHz grid would take minutes of CPU per hour and gigabytes, so
:func:`simulate_day` cuts the schedule at long still periods: each stretch of movement (walks, turns, short stands,
sitting down and getting up, with 4 s of the still period on either side) is simulated with
:func:`~hardware.simulator.walker.simulate_session` free of sensor errors, and the still middle of a long period is
the model's still posture repeated (a body that does not move gives a constant specific force and zero angular
rate, exactly what the model produces there). The sensor errors are then added to the whole day in one pass of
:class:`~hardware.simulator.walker.SensorErrorModel`: one scale and bias per sensor for the day and one continuous
gyro bias random walk, so nothing betrays the cuts. Timing jitter, if any, is applied within the moving stretches
only.

The day comes out in chunks (:meth:`SimulatedDay.chunks`), as a home recording would, or whole
(:meth:`SimulatedDay.recording`) when it is short.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Final

import numpy as np
from numpy.typing import NDArray
from scipy.spatial.transform import Rotation

from gait.recording import Recording
from hardware.simulator.walker import (
    PLACEMENTS,
    Segment,
    SegmentKind,
    SensorErrorModel,
    SimulatorError,
    WalkerParams,
    default_mounting,
    simulate_session,
)

__all__ = ["DayPlan", "DayTruth", "SimulatedDay", "home_day_schedule", "simulate_day"]

FloatArray = NDArray[np.float64]
IntArray = NDArray[np.int64]

#: Still time kept on each side of a moving stretch, in s (covers the 2 s posture transitions and the filters).
_PAD_S: Final = 4.0
#: A still period is cut out of the simulation when at least this much of it lies between the two pads, in s.
_MIN_FILL_S: Final = 2.0
#: The sensor errors are drawn in blocks of this length (so a day's samples do not depend on the chunk size), in s.
_ERROR_BLOCK_S: Final = 10.0
#: Durations are drawn on this grid, in s.
_GRID_S: Final = 0.1


@dataclass(frozen=True, kw_only=True)
class DayPlan:
    """How a simulated day at home is put together (:func:`home_day_schedule`). Defaults: a 14-hour day of a person
    who sits most of the time and walks about 40-90 minutes in all.

    Parameters
    ----------
    wear_h : float
        Length of the day (sensors worn), in hours.
    sit_min : tuple of float
        Range of one sitting period, in minutes (drawn log-uniformly). Keep it under the analysis's non-wear
        threshold (a body that sits perfectly still for an hour looks like a sensor on a table).
    walks_per_episode : tuple of int
        Range of walks between getting up and sitting down again.
    short_walk_s, medium_walk_s : tuple of float
        Ranges of a walk of a few steps and of a walk between rooms (with up to two turns), in s.
    short_walk_fraction : float
        Share of the walks that are short.
    long_walk_probability : float
        Chance that an episode contains a walk of minutes (outdoors: straight legs with turns).
    long_walk_s : tuple of float
        Range of a long walk, in s.
    short_pause_probability : float
        Chance that two walks of an episode are separated by a short pause (1-2.5 s: one walking bout by the
        Mobilise-D break rule) instead of standing for 4-60 s.
    speed_factor_short, speed_factor_medium, speed_factor_long : tuple of float
        Ranges of the walking speed of each kind of walk, as a fraction of ``WalkerParams.speed_mps``.
    """

    wear_h: float = 14.0
    sit_min: tuple[float, float] = (3.0, 40.0)
    walks_per_episode: tuple[int, int] = (1, 6)
    short_walk_s: tuple[float, float] = (4.0, 9.0)
    medium_walk_s: tuple[float, float] = (10.0, 60.0)
    short_walk_fraction: float = 0.5
    long_walk_probability: float = 0.15
    long_walk_s: tuple[float, float] = (120.0, 600.0)
    short_pause_probability: float = 0.2
    speed_factor_short: tuple[float, float] = (0.75, 0.95)
    speed_factor_medium: tuple[float, float] = (0.85, 1.05)
    speed_factor_long: tuple[float, float] = (0.95, 1.1)

    def __post_init__(self) -> None:
        if not 0.05 <= self.wear_h <= 24.0:
            raise SimulatorError(f"wear_h: expected between 0.05 and 24 hours, got {self.wear_h!r}")
        for name in ("sit_min", "short_walk_s", "medium_walk_s", "long_walk_s", "walks_per_episode"):
            low, high = getattr(self, name)
            if not 0 < low <= high:
                raise SimulatorError(f"{name}: expected a range 0 < low <= high, got {getattr(self, name)!r}")
        if self.sit_min[0] * 60.0 < 2 * 2.0 + 1.0:
            raise SimulatorError(f"sit_min: expected sitting periods of at least 5 s, got {self.sit_min!r}")
        for name in ("short_walk_fraction", "long_walk_probability", "short_pause_probability"):
            if not 0.0 <= getattr(self, name) <= 1.0:
                raise SimulatorError(f"{name}: expected a probability in [0, 1], got {getattr(self, name)!r}")


def _draw(rng: np.random.Generator, bounds: tuple[float, float]) -> float:
    """Uniform in ``bounds``, on the duration grid."""
    return max(_GRID_S, round(float(rng.uniform(*bounds)) / _GRID_S) * _GRID_S)


def _factor(rng: np.random.Generator, bounds: tuple[float, float]) -> float:
    """A speed factor, uniform in ``bounds`` (two decimals)."""
    return round(float(rng.uniform(*bounds)), 2)


def _walk(rng: np.random.Generator, duration_s: float, speed_factor: float, n_turns: int) -> list[Segment]:
    """A walk of about ``duration_s`` with ``n_turns`` turns spread along it (it starts and ends walking straight)."""
    if n_turns == 0:
        return [Segment(kind="walk", duration_s=duration_s, speed_factor=speed_factor)]
    turn_s = [_draw(rng, (1.5, 3.0)) for _ in range(n_turns)]
    straight_s = max(2.0 * (n_turns + 1), duration_s - sum(turn_s))
    cuts = np.sort(rng.uniform(0.0, 1.0, n_turns))
    legs = np.diff(np.concatenate([[0.0], cuts, [1.0]])) * (straight_s - 2.0 * (n_turns + 1)) + 2.0
    out: list[Segment] = []
    for k, leg in enumerate(legs):
        out.append(Segment(kind="walk", duration_s=round(float(leg) / _GRID_S) * _GRID_S, speed_factor=speed_factor))
        if k < n_turns:
            angle = float(rng.choice([-1.0, 1.0])) * float(rng.choice([45.0, 90.0, 90.0, 135.0, 180.0]))
            out.append(Segment(kind="turn", duration_s=turn_s[k], turn_deg=angle, speed_factor=speed_factor))
    return out


def home_day_schedule(plan: DayPlan, params: WalkerParams, rng: np.random.Generator) -> tuple[Segment, ...]:
    """Draw the schedule of one day at home.

    The day alternates sitting periods and episodes on foot: stand up (3-10 s), a few walks separated by standing
    (4-60 s) or, now and then, a short pause (1-2.5 s), sometimes a walk of minutes, stand (3-10 s), sit down. The day
    starts seated and is cut at ``plan.wear_h`` (the last segment is shortened or dropped, never a walk).

    Parameters
    ----------
    plan : DayPlan
    params : WalkerParams
        The walker (a walk must last at least two of its strides).
    rng : numpy.random.Generator

    Returns
    -------
    tuple of Segment
        Durations on a 0.1 s grid, adding up to ``plan.wear_h`` hours.
    """
    total_s = plan.wear_h * 3600.0
    stride_s = 120.0 / params.steady_cadence_spm
    min_walk_s = 2.0 * stride_s / math.sqrt(min(plan.speed_factor_short[0], 1.0)) + 0.8
    segments: list[Segment] = []
    elapsed = 0.0

    def add(seg: Segment) -> None:
        nonlocal elapsed
        segments.append(seg)
        elapsed += seg.duration_s

    while elapsed < total_s:
        sit_s = math.exp(rng.uniform(math.log(plan.sit_min[0]), math.log(plan.sit_min[1]))) * 60.0
        add(Segment(kind="sit", duration_s=round(sit_s / _GRID_S) * _GRID_S))
        add(Segment(kind="stand", duration_s=_draw(rng, (3.0, 10.0))))
        n_walks = int(rng.integers(plan.walks_per_episode[0], plan.walks_per_episode[1] + 1))
        long_at = int(rng.integers(0, n_walks)) if rng.random() < plan.long_walk_probability else -1
        for k in range(n_walks):
            if k > 0:
                pause = (1.0, 2.5) if rng.random() < plan.short_pause_probability else (4.0, 60.0)
                add(Segment(kind="stand", duration_s=_draw(rng, pause)))
            if k == long_at:
                duration = _draw(rng, plan.long_walk_s)
                walk = _walk(rng, duration, _factor(rng, plan.speed_factor_long), max(1, round(duration / 90.0)))
            elif rng.random() < plan.short_walk_fraction:
                duration = max(min_walk_s, _draw(rng, plan.short_walk_s))
                walk = _walk(rng, duration, _factor(rng, plan.speed_factor_short), 0)
            else:
                duration = _draw(rng, plan.medium_walk_s)
                walk = _walk(rng, duration, _factor(rng, plan.speed_factor_medium), int(rng.integers(0, 3)))
            for seg in walk:
                add(seg)
        add(Segment(kind="stand", duration_s=_draw(rng, (3.0, 10.0))))
    # Cut at the end of the day inside a still period: drop trailing segments until a still one holds the end.
    while segments and elapsed - segments[-1].duration_s >= total_s:
        elapsed -= segments.pop().duration_s
    while segments and not segments[-1].still:
        elapsed -= segments.pop().duration_s
    if segments and elapsed > total_s:
        last = segments.pop()
        elapsed -= last.duration_s
        remaining = round((total_s - elapsed) / _GRID_S) * _GRID_S
        if remaining >= (5.0 if last.kind == "sit" else _GRID_S):
            segments.append(dataclasses.replace(last, duration_s=remaining))
            elapsed += remaining
    if elapsed < total_s - 1e-6:
        remaining = round((total_s - elapsed) / _GRID_S) * _GRID_S
        kind: SegmentKind = "sit" if segments and segments[-1].kind == "stand" and remaining >= 5.0 else "stand"
        if segments and segments[-1].kind == "sit":
            kind = "sit"
        segments.append(Segment(kind=kind, duration_s=remaining))
    return tuple(segments)


@dataclass(frozen=True, kw_only=True, eq=False)
class DayTruth:
    """What the simulated person did, on the day's output sample grid (index 0 = the day's first sample).

    Attributes
    ----------
    ic_idx : ndarray of int64, shape (n_ic,)
        Every initial contact of the day, increasing.
    ic_side : ndarray of int64, shape (n_ic,)
        0 left, 1 right.
    ic_walk : ndarray of int64, shape (n_ic,)
        The walk (consecutive walk/turn segments) each contact belongs to.
    walk_start_idx, walk_stop_idx : ndarray of int64, shape (n_walks,)
        Scheduled start and end of each walk (half-open).
    walk_speed_mps : ndarray, shape (n_walks,)
        Steady straight-walking speed of each walk (its first segment's speed factor × ``speed_mps``).
    sitting_s, standing_s, walking_s : float
        Scheduled time sitting, standing still and on foot (walk and turn segments).
    sampling_rate_hz : float
    """

    ic_idx: IntArray
    ic_side: IntArray
    ic_walk: IntArray
    walk_start_idx: IntArray
    walk_stop_idx: IntArray
    walk_speed_mps: FloatArray
    sitting_s: float
    standing_s: float
    walking_s: float
    sampling_rate_hz: float

    def __post_init__(self) -> None:
        for name in ("ic_idx", "ic_side", "ic_walk", "walk_start_idx", "walk_stop_idx", "walk_speed_mps"):
            arr = np.array(getattr(self, name), copy=True)
            arr.setflags(write=False)
            object.__setattr__(self, name, arr)


@dataclass(frozen=True)
class _Piece:
    """One stretch of the day's error-free signals: simulated (``signal``) or a still posture repeated."""

    start_idx: int
    stop_idx: int
    signal: FloatArray | None  # (n_sensors, n, 6)
    still: FloatArray | None  # (n_sensors, 6)


@dataclass(frozen=True, eq=False)
class SimulatedDay:
    """A simulated day at home with its truth (:func:`simulate_day`).

    Attributes
    ----------
    schedule : tuple of Segment
    truth : DayTruth
    params : WalkerParams
    mounting : Mapping[str, Rotation]
        Sensor-to-segment rotation per placement, the same all day.
    placements : tuple of str
    sampling_rate_hz : float
    n_samples : int
    start_time_s : float
        Time of the first sample (POSIX seconds when the day is placed on the calendar).
    seed : int
    """

    schedule: tuple[Segment, ...]
    truth: DayTruth
    params: WalkerParams
    mounting: Mapping[str, Rotation]
    placements: tuple[str, ...]
    sampling_rate_hz: float
    n_samples: int
    start_time_s: float
    seed: int
    _pieces: tuple[_Piece, ...] = field(repr=False)
    _errors: SensorErrorModel = field(repr=False)

    @property
    def duration_s(self) -> float:
        """Length of the day, in s."""
        return self.n_samples / self.sampling_rate_hz

    def _clean(self, start_idx: int, stop_idx: int) -> FloatArray:
        """Error-free signals of samples ``start_idx:stop_idx``, shape (n_sensors, n, 6)."""
        out = np.empty((len(self.placements), stop_idx - start_idx, 6))
        for piece in self._pieces:
            a, b = max(start_idx, piece.start_idx), min(stop_idx, piece.stop_idx)
            if a >= b:
                continue
            if piece.signal is not None:
                out[:, a - start_idx : b - start_idx] = piece.signal[:, a - piece.start_idx : b - piece.start_idx]
            else:
                assert piece.still is not None
                out[:, a - start_idx : b - start_idx] = piece.still[:, None, :]
        return out

    def chunks(self, chunk_s: float = 600.0) -> Iterator[Recording]:
        """The day as consecutive recordings of ``chunk_s`` seconds (the last one shorter), with sensor errors.

        The samples do not depend on ``chunk_s``: the errors are drawn in fixed 10 s blocks with one gyro bias
        random walk through the day.
        """
        fs = self.sampling_rate_hz
        chunk = max(1, round(chunk_s * fs))
        block = max(1, round(_ERROR_BLOCK_S * fs))
        drift: FloatArray | None = None
        acc_parts: list[FloatArray] = []
        gyr_parts: list[FloatArray] = []
        held = 0
        emitted = 0
        for b, start in enumerate(range(0, self.n_samples, block)):
            stop = min(self.n_samples, start + block)
            clean = self._clean(start, stop)
            rng = np.random.default_rng([self.seed, 2, b])
            acc, gyr, drift = self._errors.apply(clean[..., :3], clean[..., 3:], rng, drift)
            acc_parts.append(acc)
            gyr_parts.append(gyr)
            held += stop - start
            while held >= chunk or (stop == self.n_samples and held > 0):
                acc_all = np.concatenate(acc_parts, axis=-2)
                gyr_all = np.concatenate(gyr_parts, axis=-2)
                take = min(chunk, held)
                yield Recording(
                    acc_mps2=acc_all[:, :take],
                    gyr_dps=gyr_all[:, :take],
                    sampling_rate_hz=fs,
                    placements=self.placements,
                    frame="sensor",
                    start_time_s=self.start_time_s + emitted / fs,
                    source=f"hardware.simulator day (seed {self.seed})",
                )
                emitted += take
                held -= take
                acc_parts, gyr_parts = [acc_all[:, take:]], [gyr_all[:, take:]]

    def recording(self) -> Recording:
        """The whole day as one Recording (mind the memory: about 430 MiB per hour of three sensors at 100 Hz)."""
        parts = list(self.chunks(chunk_s=self.duration_s))
        return parts[0]


def _errorless(params: WalkerParams) -> WalkerParams:
    return dataclasses.replace(
        params,
        acc_noise_mps2=0.0,
        gyr_noise_dps=0.0,
        acc_bias_mps2=0.0,
        gyr_bias_dps=0.0,
        gyr_bias_drift_dps_per_sqrt_s=0.0,
        scale_error=0.0,
    )


def _cut(schedule: Sequence[Segment], fs: float, n_samples: int) -> list[tuple[int, int, SegmentKind | None]]:
    """Split the day into moving stretches (``None``) and still fills (``"stand"`` / ``"sit"``), sample ranges."""
    fills: list[tuple[int, int, SegmentKind]] = []
    t = 0.0
    for seg in schedule:
        end = t + seg.duration_s
        if seg.still and seg.duration_s >= 2.0 * _PAD_S + _MIN_FILL_S:
            a = 0 if t <= 0.0 else round((t + _PAD_S) * fs)
            b = n_samples if end >= sum(s.duration_s for s in schedule) - 1e-9 else round((end - _PAD_S) * fs)
            if b > a:
                fills.append((a, b, seg.kind))
        t = end
    out: list[tuple[int, int, SegmentKind | None]] = []
    cursor = 0
    for a, b, kind in fills:
        if a > cursor:
            out.append((cursor, a, None))
        out.append((a, b, kind))
        cursor = b
    if cursor < n_samples:
        out.append((cursor, n_samples, None))
    return out


def _sub_schedule(schedule: Sequence[Segment], start_s: float, stop_s: float) -> list[Segment]:
    """The segments between two times, the first and last truncated."""
    out: list[Segment] = []
    t = 0.0
    for seg in schedule:
        end = t + seg.duration_s
        a, b = max(t, start_s), min(end, stop_s)
        if b - a > 1e-9:
            out.append(dataclasses.replace(seg, duration_s=b - a))
        t = end
    return out


def simulate_day(
    params: WalkerParams,
    *,
    plan: DayPlan | None = None,
    schedule: Sequence[Segment] | None = None,
    sampling_rate_hz: float = 100.0,
    placements: Sequence[str] = PLACEMENTS,
    mounting: Mapping[str, Rotation] | None = None,
    random_mounting: bool = False,
    seed: int = 0,
    start_time_s: float = 0.0,
) -> SimulatedDay:
    """Simulate a day at home (see the module docstring).

    Parameters
    ----------
    params : WalkerParams
        The subject and the sensor errors.
    plan : DayPlan, optional
        Draws the schedule (:func:`home_day_schedule`); default ``DayPlan()``. Exclusive with ``schedule``.
    schedule : sequence of Segment, optional
        The day's schedule, given instead of a plan.
    sampling_rate_hz : float
    placements : sequence of str
    mounting : Mapping[str, Rotation], optional
        Sensor-to-segment rotations (default :func:`~hardware.simulator.walker.default_mounting`).
    random_mounting : bool
        Draw one uniformly random mounting per sensor for the whole day (seeded).
    seed : int
        Seed of every random choice (schedule, steps, mounting, sensor errors).
    start_time_s : float
        Time of the first sample, e.g. POSIX seconds of 07:30 on some date.

    Returns
    -------
    SimulatedDay

    Raises
    ------
    SimulatorError
        When an argument is out of range (the message names it).
    """
    if plan is not None and schedule is not None:
        raise SimulatorError("plan/schedule: expected at most one of them, got both")
    root = np.random.default_rng(seed)
    plan_rng, mount_rng, error_rng, seed_rng = root.spawn(4)
    segments = tuple(schedule) if schedule is not None else home_day_schedule(plan or DayPlan(), params, plan_rng)
    if not segments or not all(isinstance(s, Segment) for s in segments):
        raise SimulatorError(f"schedule: expected a non-empty sequence of Segment, got {schedule!r}")
    names = tuple(placements)
    fs = float(sampling_rate_hz)
    if random_mounting:
        if mounting is not None:
            raise SimulatorError("mounting/random_mounting: expected at most one of them, got both")
        mount = {name: Rotation.random(rng=mount_rng) for name in PLACEMENTS}
    else:
        defaults = default_mounting()
        mount = {name: (mounting or {}).get(name, defaults[name]) for name in PLACEMENTS}
    mount = {name: mount[name] for name in names}
    total_s = float(sum(s.duration_s for s in segments))
    n_samples = round(total_s * fs)
    clean_params = _errorless(params)

    still: dict[SegmentKind, FloatArray] = {}
    pieces: list[_Piece] = []
    ic: list[IntArray] = []
    side: list[IntArray] = []
    walk_of_ic: list[IntArray] = []
    walk_start: list[int] = []
    walk_stop: list[int] = []
    walk_speed: list[float] = []
    for a, b, kind in _cut(segments, fs, n_samples):
        if kind is not None:
            if kind not in still:
                probe = simulate_session(
                    clean_params, schedule=(Segment(kind=kind, duration_s=3.0),), sampling_rate_hz=fs,
                    placements=names, mounting=mount, seed=0,
                )  # fmt: skip
                still[kind] = np.concatenate([probe.recording.acc_mps2, probe.recording.gyr_dps], axis=-1).mean(axis=1)
            pieces.append(_Piece(a, b, None, still[kind]))
            continue
        part = _sub_schedule(segments, a / fs, b / fs)
        session = simulate_session(
            clean_params,
            schedule=part,
            sampling_rate_hz=fs,
            placements=names,
            mounting=mount,
            seed=int(seed_rng.integers(2**31)),
        )
        rec = session.recording
        n = min(rec.n_samples, b - a)
        signal = np.concatenate([rec.acc_mps2[:, :n], rec.gyr_dps[:, :n]], axis=-1)
        if n < b - a:  # rounding of the stretch's duration: hold its last sample
            signal = np.concatenate([signal, np.repeat(signal[:, -1:], b - a - n, axis=1)], axis=1)
        pieces.append(_Piece(a, b, signal, None))
        truth = session.truth
        ics = np.concatenate([truth.ic_left_idx, truth.ic_right_idx])
        sides = np.concatenate([np.zeros(truth.ic_left_idx.size), np.ones(truth.ic_right_idx.size)]).astype(np.int64)
        order = np.argsort(ics, kind="stable")
        ics, sides = ics[order], sides[order]
        # Walks of this stretch, from its schedule: consecutive walk/turn segments.
        t = 0.0
        spans: list[tuple[float, float, float]] = []
        previous_still = True
        for seg in part:
            if not seg.still:
                if previous_still:
                    spans.append((t, t + seg.duration_s, params.speed_mps * seg.speed_factor))
                else:
                    spans[-1] = (spans[-1][0], t + seg.duration_s, spans[-1][2])
            previous_still = seg.still
            t += seg.duration_s
        for start, stop, speed in spans:
            i0, i1 = round(start * fs), round(stop * fs)
            mine = (ics >= i0) & (ics < i1)
            walk_of_ic.append(np.full(int(mine.sum()), len(walk_start), dtype=np.int64))
            ic.append(ics[mine] + a)
            side.append(sides[mine])
            walk_start.append(a + i0)
            walk_stop.append(a + i1)
            walk_speed.append(speed)

    def cat(parts: list[IntArray]) -> IntArray:
        return np.concatenate(parts).astype(np.int64) if parts else np.zeros(0, dtype=np.int64)

    seconds = {kind: float(sum(s.duration_s for s in segments if s.kind == kind)) for kind in ("sit", "stand")}
    truth_out = DayTruth(
        ic_idx=cat(ic),
        ic_side=cat(side),
        ic_walk=cat(walk_of_ic),
        walk_start_idx=np.asarray(walk_start, dtype=np.int64),
        walk_stop_idx=np.asarray(walk_stop, dtype=np.int64),
        walk_speed_mps=np.asarray(walk_speed, dtype=np.float64),
        sitting_s=seconds["sit"],
        standing_s=seconds["stand"],
        walking_s=total_s - seconds["sit"] - seconds["stand"],
        sampling_rate_hz=fs,
    )
    errors = SensorErrorModel.draw(params, len(names), fs, error_rng)
    return SimulatedDay(
        schedule=segments,
        truth=truth_out,
        params=params,
        mounting=MappingProxyType(mount),
        placements=names,
        sampling_rate_hz=fs,
        n_samples=n_samples,
        start_time_s=float(start_time_s),
        seed=seed,
        _pieces=tuple(pieces),
        _errors=errors,
    )
