"""Walking-bout detection, quiet standing and turns.

A walking bout follows the Mobilise-D consensus (CLINICAL.md §5, refs [70, 71]): at least two consecutive strides,
that is at least ``min_steps`` steps in a regular rhythm. Steps come from the vertical acceleration of the pelvis
(one clear peak per step, around initial contact); a bout is a run of steps whose intervals are plausible step
times and do not jump (a pause or a missed step ends the bout). The bout starts at its first *strong* step: the
toe-off that starts walking from standing makes a weak bump, whereas the first heel strike carries the body's
weight. One weaker closing step at the end is accepted when it keeps the rhythm (stopping lands the last foot
with little load).

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
    """

    step_idx: IntArray
    closing_step: bool

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
    ) -> None:
        self.smoothing_s = smoothing_s
        self.min_step_s = min_step_s
        self.max_step_s = max_step_s
        self.min_prominence_mps2 = min_prominence_mps2
        self.relative_prominence = relative_prominence
        self.max_interval_jump = max_interval_jump
        self.min_steps = min_steps

    def candidates(self, vertical_acc_mps2: FloatArray, sampling_rate_hz: float) -> StepCandidates:
        """All peaks of the smoothed vertical acceleration (gravity removed), NaN-free input of shape (n,)."""
        smooth = ndimage.gaussian_filter1d(vertical_acc_mps2, self.smoothing_s * sampling_rate_hz, axis=-1)
        idx, props = signal.find_peaks(
            smooth,
            distance=max(1, int(self.min_step_s * sampling_rate_hz)),
            prominence=0.25 * self.min_prominence_mps2,
        )
        return StepCandidates(idx=idx.astype(np.int64), prominence_mps2=props["prominences"].astype(np.float64))

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
            bouts.append(WalkingBout(step_idx=steps.astype(np.int64), closing_step=closing))
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
