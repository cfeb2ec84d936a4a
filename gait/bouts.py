"""Walking-bout detection, quiet standing and turns.

A walking bout follows the Mobilise-D consensus (CLINICAL.md §5, refs [70, 71]): at least two consecutive strides,
that is at least ``min_steps`` steps in a regular rhythm. Steps come from the vertical acceleration of the pelvis
(one clear peak per step, around initial contact); a bout is a run of steps whose intervals are plausible step
times and do not jump (a pause or a missed step ends the bout). The bout starts at its first *strong* step: the
toe-off that starts walking from standing makes a weak bump, whereas the first heel strike carries the body's
weight. One weaker closing step at the end is accepted when it keeps the rhythm (stopping lands the last foot
with little load). The weak candidate just before the first strong step is handed on as the bout's opening
candidate: it is the first heel strike when it keeps the rhythm and brakes the body like the other steps
(:meth:`gait.events.PelvisEventDetector.confirm_opening` decides, on the forward acceleration).

One peak per step: in slow walking and at gait initiation the vertical acceleration of a step often has a second,
smaller hump about a third of a step after the heel strike. Such a hump is no step: of two candidates closer than
half the local step time (from the peaks of a more strongly smoothed copy of the signal, where the two humps have
merged), the less prominent is dropped. Without this, the humps broke slow walks into pieces shorter than a walking
bout, or were counted as steps, depending on the walking speed.

Turns come from the yaw rate of the pelvis (gyro about the vertical), low-passed; a turn is a stretch above a rate
threshold whose integrated angle reaches ``min_turn_deg`` (El-Gohary et al. 2014 style).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray
from scipy import ndimage, signal

from gait.preprocess import lowpass

__all__ = ["BoutDetector", "StepCandidates", "TurnDetector", "WalkingBout", "quiet_standing", "runs"]

FloatArray = NDArray[np.float64]
IntArray = NDArray[np.int64]


def runs(mask: NDArray[np.bool_]) -> IntArray:
    """Start and stop indices of the True runs of a boolean vector, shape (n_runs, 2), stop exclusive."""
    edges = np.diff(np.concatenate(([0], mask.astype(np.int8), [0])))
    return np.stack([np.flatnonzero(edges == 1), np.flatnonzero(edges == -1)], axis=-1).astype(np.int64)


def quiet_standing(
    acc_mps2: FloatArray,
    gyr_dps: FloatArray,
    sampling_rate_hz: float,
    *,
    window_s: float = 1.0,
    max_acc_sd_mps2: float = 0.15,
    max_gyr_dps: float = 8.0,
) -> NDArray[np.bool_]:
    """Samples where the sensor is still (standing or sitting), shape (n_samples,).

    A sample is still when, over a centred window, the SD of the specific-force magnitude is below
    ``max_acc_sd_mps2`` and the mean angular-rate magnitude below ``max_gyr_dps``. NaN samples are never still.
    """
    width = max(3, round(window_s * sampling_rate_hz))
    norm = np.linalg.norm(acc_mps2, axis=-1)
    rate = np.linalg.norm(gyr_dps, axis=-1)
    finite = np.isfinite(norm) & np.isfinite(rate)
    norm = np.where(finite, norm, 0.0)
    rate = np.where(finite, rate, 1e6)
    mean = ndimage.uniform_filter1d(norm, width, axis=-1, mode="nearest")
    mean_sq = ndimage.uniform_filter1d(norm * norm, width, axis=-1, mode="nearest")
    sd = np.sqrt(np.maximum(mean_sq - mean * mean, 0.0))
    rate_mean = ndimage.uniform_filter1d(rate, width, axis=-1, mode="nearest")
    return np.asarray((sd < max_acc_sd_mps2) & (rate_mean < max_gyr_dps) & finite, dtype=bool)


def _one_per_step(idx: IntArray, prominence: FloatArray, min_gap: FloatArray, max_gap: int) -> NDArray[np.bool_]:
    """Peaks to keep: those with no more prominent peak closer than their ``min_gap`` (samples, per peak).

    Vectorised over peaks; the loop runs over neighbour offsets only (peaks are at least a minimum step apart, so
    at most ``max_gap / min spacing`` neighbours can be that close).
    """
    n = idx.size
    keep = np.ones(n, dtype=bool)
    if n < 2:
        return keep
    spacing = max(1, int(np.min(np.diff(idx))))
    for k in range(1, min(n, max_gap // spacing + 1)):
        gap = idx[k:] - idx[:-k]
        close = gap < np.minimum(min_gap[k:], min_gap[:-k])
        later_stronger = close & (prominence[k:] > prominence[:-k])
        earlier_stronger = close & (prominence[:-k] >= prominence[k:])
        keep[:-k] &= ~later_stronger
        keep[k:] &= ~earlier_stronger
    return keep


@dataclass(frozen=True, slots=True)
class StepCandidates:
    """Peaks of the smoothed vertical acceleration: one per step while walking.

    Attributes
    ----------
    idx : ndarray of int, shape (n,)
        Sample index of each peak.
    prominence_mps2 : ndarray, shape (n,)
        Peak prominence.
    """

    idx: IntArray
    prominence_mps2: FloatArray


@dataclass(frozen=True, slots=True)
class WalkingBout:
    """A run of regular steps.

    Attributes
    ----------
    step_idx : ndarray of int
        Sample index of each step candidate of the bout (rough initial contacts), increasing.
    closing_step : bool
        True when the last step was accepted as a weak closing step.
    opening_idx : int
        The weaker step candidate just before the first step, in the bout's rhythm, that may be the first heel
        strike of gait initiation or the toe-off before it (the vertical acceleration cannot tell them apart;
        :class:`gait.events.PelvisEventDetector` decides on the forward acceleration); -1 when there is none.
    """

    step_idx: IntArray
    closing_step: bool
    opening_idx: int = -1

    @property
    def start_idx(self) -> int:
        """First step of the bout."""
        return int(self.step_idx[0])

    @property
    def stop_idx(self) -> int:
        """Last step of the bout (inclusive)."""
        return int(self.step_idx[-1])


class BoutDetector:
    """Find steps and group them into walking bouts.

    Parameters
    ----------
    smoothing_s : float
        SD of the Gaussian that smooths the vertical acceleration before peak picking.
    min_step_s, max_step_s : float
        Plausible step times.
    min_prominence_mps2 : float
        Absolute floor for a strong step (well above sensor noise, well below slow walking).
    relative_prominence : float
        A strong step is at least this fraction of the largest peak among its neighbours.
    max_interval_jump : float
        A step interval more than this factor from the bout's running median ends the bout.
    min_steps : int
        Fewest steps in a bout (4 steps = 2 strides of both feet, Mobilise-D).
    rhythm_smoothing_s : float
        SD of the coarser Gaussian whose peaks give the local step time (:meth:`step_period_s`).
    rhythm_fraction : float
        Two step candidates closer than this fraction of the local step time are one step: the less prominent is
        dropped (0 switches this off).
    opening_prominence : float
        An opening candidate (:attr:`WalkingBout.opening_idx`) is at least this fraction of the bout's median step
        prominence.
    """

    def __init__(
        self,
        *,
        smoothing_s: float = 0.04,
        min_step_s: float = 0.25,
        max_step_s: float = 2.0,
        min_prominence_mps2: float = 0.4,
        relative_prominence: float = 0.35,
        max_interval_jump: float = 1.8,
        min_steps: int = 4,
        rhythm_smoothing_s: float = 0.1,
        rhythm_fraction: float = 0.5,
        opening_prominence: float = 0.25,
    ) -> None:
        self.smoothing_s = smoothing_s
        self.min_step_s = min_step_s
        self.max_step_s = max_step_s
        self.min_prominence_mps2 = min_prominence_mps2
        self.relative_prominence = relative_prominence
        self.max_interval_jump = max_interval_jump
        self.min_steps = min_steps
        self.rhythm_smoothing_s = rhythm_smoothing_s
        self.rhythm_fraction = rhythm_fraction
        self.opening_prominence = opening_prominence

    def candidates(self, vertical_acc_mps2: FloatArray, sampling_rate_hz: float) -> StepCandidates:
        """Peaks of the smoothed vertical acceleration (gravity removed), NaN-free input of shape (n,).

        One peak per step: a peak with a more prominent one closer than ``rhythm_fraction`` of the local step time
        is the second hump of the same step (slow walking, gait initiation) and is dropped
        (:meth:`step_period_s`).
        """
        fs = sampling_rate_hz
        smooth = ndimage.gaussian_filter1d(vertical_acc_mps2, self.smoothing_s * fs, axis=-1)
        idx, props = signal.find_peaks(
            smooth, distance=max(1, int(self.min_step_s * fs)), prominence=0.25 * self.min_prominence_mps2
        )
        idx = idx.astype(np.int64)
        prom = props["prominences"].astype(np.float64)
        if self.rhythm_fraction > 0 and idx.size > 1:
            period = self.step_period_s(vertical_acc_mps2, idx, fs)
            keep = _one_per_step(idx, prom, self.rhythm_fraction * period * fs, round(self.max_step_s * fs))
            idx, prom = idx[keep], prom[keep]
        return StepCandidates(idx=idx, prominence_mps2=prom)

    def step_period_s(self, vertical_acc_mps2: FloatArray, at_idx: IntArray, sampling_rate_hz: float) -> FloatArray:
        """Local step time at each of ``at_idx``, from the peaks of the vertical acceleration smoothed at the
        coarser ``rhythm_smoothing_s`` (where a step's humps have merged into one): running median of 5
        consecutive plausible peak intervals, interpolated in time. ``max_step_s`` where no rhythm is seen.
        """
        fs = sampling_rate_hz
        coarse = ndimage.gaussian_filter1d(vertical_acc_mps2, self.rhythm_smoothing_s * fs, axis=-1)
        peaks, _ = signal.find_peaks(
            coarse, distance=max(1, int(self.min_step_s * fs)), prominence=0.25 * self.min_prominence_mps2
        )
        interval_s = np.diff(peaks) / fs
        plausible = (interval_s >= self.min_step_s) & (interval_s <= self.max_step_s)
        if not plausible.any():
            return np.full(at_idx.shape, self.max_step_s)
        mid = 0.5 * (peaks[1:] + peaks[:-1])[plausible]
        med = ndimage.median_filter(interval_s[plausible], size=5, mode="nearest")
        return np.asarray(np.interp(at_idx, mid, med), dtype=np.float64)

    def bouts(self, cand: StepCandidates, sampling_rate_hz: float) -> list[WalkingBout]:
        """Group step candidates into bouts of regular, strong steps (plus one weak closing step)."""
        n = cand.idx.size
        if n < self.min_steps:
            return []
        prom = cand.prominence_mps2
        local_max = ndimage.maximum_filter1d(prom, size=9, mode="nearest")
        strong = (prom >= self.min_prominence_mps2) & (prom >= self.relative_prominence * local_max)
        s_idx = cand.idx[strong]
        all_pos = np.flatnonzero(strong)
        if s_idx.size < self.min_steps:
            return []
        interval_s = np.diff(s_idx) / sampling_rate_hz
        plausible = (interval_s >= self.min_step_s) & (interval_s <= self.max_step_s)
        # Running median of plausible intervals (centred, 5 steps) for the jump test.
        med = ndimage.median_filter(np.where(plausible, interval_s, np.nan), size=5, mode="nearest")
        med = np.where(np.isfinite(med), med, interval_s)
        ratio = interval_s / med
        regular = plausible & (ratio < self.max_interval_jump) & (ratio > 1.0 / self.max_interval_jump)
        bouts: list[WalkingBout] = []
        for start, stop in runs(regular):
            steps = s_idx[start : stop + 1]
            if steps.size < self.min_steps:
                continue
            closing = False
            last_pos = all_pos[stop]
            if last_pos + 1 < n:
                nxt = int(cand.idx[last_pos + 1])
                median_step = float(np.median(np.diff(steps)))
                gap = nxt - int(steps[-1])
                is_last_strong = stop + 1 >= s_idx.size or s_idx[stop + 1] > nxt
                if is_last_strong and 0.6 * median_step <= gap <= 1.5 * median_step:
                    steps = np.append(steps, nxt)
                    closing = True
            opening = -1
            first_pos = all_pos[start]
            if first_pos > 0:
                prv = int(cand.idx[first_pos - 1])
                median_step = float(np.median(np.diff(steps)))
                weak_enough = prom[first_pos - 1] >= self.opening_prominence * float(
                    np.median(prom[strong][start : stop + 1])
                )
                if weak_enough and int(steps[0]) - prv <= 1.5 * median_step:
                    opening = prv
            bouts.append(WalkingBout(step_idx=steps.astype(np.int64), closing_step=closing, opening_idx=opening))
        return bouts


@dataclass(frozen=True, slots=True)
class Turn:
    """A turn: sample range and signed angle (positive = to the left, about the upward axis)."""

    start_idx: int
    stop_idx: int
    angle_deg: float


class TurnDetector:
    """Turns from the pelvis yaw rate.

    Parameters
    ----------
    cutoff_hz : float
        Low-pass cut-off for the yaw rate (removes the step-by-step pelvic rotation).
    min_rate_dps : float
        Yaw rate above which the pelvis is turning.
    min_turn_deg : float
        Smallest heading change that counts as a turn.
    """

    def __init__(self, *, cutoff_hz: float = 1.0, min_rate_dps: float = 15.0, min_turn_deg: float = 45.0) -> None:
        self.cutoff_hz = cutoff_hz
        self.min_rate_dps = min_rate_dps
        self.min_turn_deg = min_turn_deg

    def detect(self, yaw_rate_dps: FloatArray, sampling_rate_hz: float) -> tuple[list[Turn], NDArray[np.bool_]]:
        """Return the turns and a per-sample turning mask for a NaN-free yaw rate of shape (n,)."""
        smooth = lowpass(yaw_rate_dps, self.cutoff_hz, sampling_rate_hz, axis=-1, order=2)
        turning = np.abs(smooth) > self.min_rate_dps
        # Bridge short dips between two halves of one turn.
        bridge = max(1, round(0.3 * sampling_rate_hz))
        turning = ndimage.binary_closing(turning, structure=np.ones(bridge, dtype=bool))
        turns: list[Turn] = []
        mask = np.zeros_like(turning)
        cumulative = np.concatenate(([0.0], np.cumsum(smooth) / sampling_rate_hz))
        for start, stop in runs(turning):
            angle = float(cumulative[stop] - cumulative[start])
            if abs(angle) >= self.min_turn_deg:
                turns.append(Turn(int(start), int(stop), angle))
                mask[start:stop] = True
        return turns, mask
