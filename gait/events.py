"""Initial and final contacts, with their side, from the pelvis sensor in the body frame.

Initial contact (IC). Each step of a bout (a peak of the vertical acceleration, :mod:`gait.bouts`) is refined on
the forward acceleration: heel strike brakes the body, so the forward acceleration falls steeply just after IC; IC
is the last forward-acceleration peak before that steepest fall (Zijlstra & Hof 2003, CLINICAL.md ref. [41]). On the
Voisard lower-back set this sits about 10 ms before the foot-sensor heel strike (docs/validation.md).

Final contact (FC). After each IC the body keeps braking until the trailing foot leaves the ground; the contralateral
FC is taken at the minimum of the forward acceleration between 50 ms and 60% of the step after the IC (about 30 ms
before the foot-sensor toe-off on the Voisard set). This is the lower-back estimate; thigh sensors refine it.

First heel strike of gait initiation. Walking from standing starts with a toe-off: the swing foot leaves the ground
a swing time (about 40 % of a stride, 0.6-0.8 of a step) before the first heel strike, and barely brakes the body;
a heel strike starts a step of about the bout's step time (the first steps of gait initiation are, if anything,
longer than the steady ones) and brakes like the steps after it. Either way round the start of a bout can be wrong:

* the weak step candidate just before a bout's first step (:attr:`gait.bouts.WalkingBout.opening_idx`: the first
  heel strike, or the toe-off before it) becomes the bout's first IC when its own IC lies 0.75-1.5 median step times
  before the first one *and* it brakes the body at least 0.4 times as much as the bout's median step;
* the bout's first IC, a step candidate in its own right, is dropped as the toe-off when its step is shorter than
  0.9 median steps *and* it brakes less than 0.4 times the median step.

The burden of proof is on the weak candidate: a step candidate stays unless both its rhythm and its braking say
toe-off, an opening candidate joins only when both say heel strike. Figures on the Voisard set and the simulated
slow walker: docs/validation.md.

Side. After a left heel strike the pelvis rolls with the right side dropping (contralateral drop in loading
response), a positive angular rate about the forward axis; after a right heel strike the opposite. Each IC gets the
mean roll rate over the loading response; the sides alternate, so a sliding vote over a few steps picks which
steps are left (robust to a missed step), and the vote's margin is the side confidence.

All refinements are vectorised over steps (a window matrix per step, no Python loop per sample or per step).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray
from scipy import ndimage, signal

from gait.frames import AP

__all__ = ["BoutEvents", "PelvisEventDetector", "windows"]

FloatArray = NDArray[np.float64]
IntArray = NDArray[np.int64]

LEFT = 0
RIGHT = 1


def windows(x: FloatArray, start_idx: IntArray, length: int) -> tuple[FloatArray, IntArray]:
    """Gather ``x[start : start + length]`` for every start, clipped to the signal.

    Parameters
    ----------
    x : ndarray, shape (n,)
        Signal.
    start_idx : ndarray of int, shape (m,)
        Window starts (may be negative or run past the end; indices are clipped).
    length : int
        Window length in samples.

    Returns
    -------
    values : ndarray, shape (m, length)
    index : ndarray of int, shape (m, length)
        The (clipped) sample index of each value.
    """
    index = np.clip(start_idx[:, None] + np.arange(length)[None, :], 0, x.shape[-1] - 1)
    return np.asarray(x[index], dtype=np.float64), index.astype(np.int64)


@dataclass(frozen=True, slots=True)
class BoutEvents:
    """Gait events of one bout.

    Attributes
    ----------
    ic_idx : ndarray of int, shape (n_steps,)
        Initial contacts, increasing.
    fc_idx : ndarray of int, shape (n_steps,)
        Final contact of the trailing (contralateral) foot after each IC; -1 when there is none.
    side : ndarray of int, shape (n_steps,)
        0 = left, 1 = right for each IC; -1 when unknown.
    side_confidence : float
        Vote margin in [0, 1] (1 = every step agreed).
    """

    ic_idx: IntArray
    fc_idx: IntArray
    side: IntArray
    side_confidence: float


class PelvisEventDetector:
    """Refine step candidates into IC, FC and side.

    Parameters
    ----------
    search_before_s, search_after_s : float
        Window around each step peak in which IC is sought.
    ic_smoothing_s : float
        Gaussian SD for the forward acceleration when locating IC.
    peak_lookback_s : float
        How far before the steepest fall the forward peak may be.
    fc_smoothing_s : float
        Gaussian SD for the forward acceleration when locating FC.
    side_window_s : tuple of float
        Loading-response window after IC for the roll-rate vote.
    side_vote_steps : int
        Steps in the sliding left/right vote.
    braking_window_s : float
        Window after IC over which the heel-strike braking is measured (:meth:`braking_mps2`).
    opening_step_ratio : tuple of float
        An opening heel strike lies this many of the bout's median step times before its first IC.
    opening_braking : float
        An opening heel strike brakes at least this fraction of the bout's median braking.
    toe_off_step_ratio : float
        A bout's first IC whose step is shorter than this many median step times, and which brakes less than
        ``opening_braking`` times the median, is the toe-off of gait initiation.
    """

    def __init__(
        self,
        *,
        search_before_s: float = 0.2,
        search_after_s: float = 0.05,
        ic_smoothing_s: float = 0.01,
        peak_lookback_s: float = 0.1,
        fc_smoothing_s: float = 0.02,
        side_window_s: tuple[float, float] = (0.02, 0.15),
        side_vote_steps: int = 8,
        braking_window_s: float = 0.2,
        opening_step_ratio: tuple[float, float] = (0.75, 1.5),
        toe_off_step_ratio: float = 0.9,
        opening_braking: float = 0.4,
    ) -> None:
        self.search_before_s = search_before_s
        self.search_after_s = search_after_s
        self.ic_smoothing_s = ic_smoothing_s
        self.peak_lookback_s = peak_lookback_s
        self.fc_smoothing_s = fc_smoothing_s
        self.side_window_s = side_window_s
        self.side_vote_steps = side_vote_steps
        self.braking_window_s = braking_window_s
        self.opening_step_ratio = opening_step_ratio
        self.opening_braking = opening_braking
        self.toe_off_step_ratio = toe_off_step_ratio

    def initial_contacts(
        self, fwd_smooth_mps2: FloatArray, fwd_slope: FloatArray, step_idx: IntArray, sampling_rate_hz: float
    ) -> IntArray:
        """IC for each step: the last forward-acceleration peak before the steepest fall near the step peak.

        ``fwd_smooth_mps2`` and ``fwd_slope`` are the smoothed forward acceleration and its derivative (any scale).
        """
        fs = sampling_rate_hz
        before = round(self.search_before_s * fs)
        length = before + round(self.search_after_s * fs) + 1
        slope_w, index_w = windows(fwd_slope, step_idx - before, length)
        steepest = index_w[np.arange(step_idx.size), np.argmin(slope_w, axis=-1)]
        lookback = max(1, round(self.peak_lookback_s * fs))
        fwd_w, index_w = windows(fwd_smooth_mps2, steepest - lookback, lookback + 1)
        ic = index_w[np.arange(step_idx.size), np.argmax(fwd_w, axis=-1)]
        return np.asarray(ic, dtype=np.int64)

    def final_contacts(self, fwd_smooth_mps2: FloatArray, ic_idx: IntArray, sampling_rate_hz: float) -> IntArray:
        """Contralateral FC after each IC of one bout (−1 for the last IC, which has no following step)."""
        fs = sampling_rate_hz
        fc = np.full(ic_idx.size, -1, dtype=np.int64)
        if ic_idx.size < 2:
            return fc
        fwd = fwd_smooth_mps2
        step = np.diff(ic_idx)
        start = ic_idx[:-1] + max(1, round(0.05 * fs))
        length = int(max(2, np.max(np.ceil(0.6 * step)) - round(0.05 * fs)))
        vals, index = windows(fwd, start, length)
        limit = (ic_idx[:-1] + np.ceil(0.6 * step)).astype(np.int64)
        vals = np.where(index < limit[:, None], vals, np.inf)
        fc[:-1] = index[np.arange(step.size), np.argmin(vals, axis=-1)]
        return fc

    def sides(self, roll_rate_dps: FloatArray, ic_idx: IntArray, sampling_rate_hz: float) -> tuple[IntArray, float]:
        """Side of each IC of one bout (alternating) and the vote's confidence."""
        fs = sampling_rate_hz
        if ic_idx.size == 0 or not np.isfinite(roll_rate_dps).all():
            return np.full(ic_idx.size, -1, dtype=np.int64), 0.0
        a, b = (round(t * fs) for t in self.side_window_s)
        vals, _ = windows(roll_rate_dps, ic_idx + a, max(1, b - a))
        score = vals.mean(axis=-1)
        parity = np.where(np.arange(ic_idx.size) % 2 == 0, 1.0, -1.0)
        # vote > 0 where the even-indexed ICs show positive roll, i.e. are left heel strikes. The vote is local
        # (a window of steps) so that one missed step, e.g. in a turn, flips the parity only from there on.
        vote = ndimage.uniform_filter1d(parity * score, size=min(self.side_vote_steps, ic_idx.size), mode="nearest")
        total = float(np.mean(np.abs(score)))
        confidence = float(np.mean(np.abs(vote)) / total) if total > 0 else 0.0
        even_is_left = vote > 0
        is_left = np.where(parity > 0, even_is_left, ~even_is_left)
        side = np.where(is_left, LEFT, RIGHT).astype(np.int64)
        return side, confidence

    def braking_mps2(self, fwd_smooth_mps2: FloatArray, ic_idx: IntArray, sampling_rate_hz: float) -> FloatArray:
        """Heel-strike braking at each IC: the fall of the forward acceleration from IC to its lowest point in the
        next ``braking_window_s``, shape (m,)."""
        length = max(2, round(self.braking_window_s * sampling_rate_hz) + 1)
        after, _ = windows(fwd_smooth_mps2, ic_idx, length)
        return np.asarray(fwd_smooth_mps2[ic_idx] - after.min(axis=-1), dtype=np.float64)

    def starts_with_toe_off(self, fwd_smooth_mps2: FloatArray, ic_idx: IntArray, fs: float) -> bool:
        """Whether a bout's first IC is the toe-off of gait initiation: a step shorter than ``toe_off_step_ratio``
        median steps (a swing, not a step) that brakes less than ``opening_braking`` times the median step."""
        if ic_idx.size < 4:
            return False
        step = np.diff(ic_idx)
        if step[0] >= self.toe_off_step_ratio * float(np.median(step[1:])):
            return False
        braking = self.braking_mps2(fwd_smooth_mps2, ic_idx, fs)
        return bool(braking[0] < self.opening_braking * float(np.median(braking[1:])))

    def confirm_opening(
        self, fwd_smooth_mps2: FloatArray, fwd_slope: FloatArray, opening_idx: int, ic_idx: IntArray, fs: float
    ) -> int:
        """IC of a bout's opening candidate (:attr:`gait.bouts.WalkingBout.opening_idx`) when it is a heel strike,
        else -1.

        The first heel strike of gait initiation starts a step of about the bout's step time and brakes the body
        like the steps after it; the toe-off that precedes it (the same weak bump in the vertical acceleration) is
        a swing time, not a step, before the first heel strike, and barely brakes.
        """
        if opening_idx < 0 or ic_idx.size < 3:
            return -1
        ic0 = int(self.initial_contacts(fwd_smooth_mps2, fwd_slope, np.array([opening_idx], dtype=np.int64), fs)[0])
        step = float(np.median(np.diff(ic_idx)))
        low, high = self.opening_step_ratio
        if not low * step <= ic_idx[0] - ic0 <= high * step:
            return -1
        braking = self.braking_mps2(fwd_smooth_mps2, np.concatenate(([ic0], ic_idx)), fs)
        if braking[0] < self.opening_braking * float(np.median(braking[1:])):
            return -1
        return ic0

    def detect(
        self,
        acc_body_mps2: FloatArray,
        gyr_body_dps: FloatArray,
        bout_steps: list[IntArray],
        sampling_rate_hz: float,
        *,
        opening_idx: Sequence[int] | None = None,
    ) -> list[BoutEvents]:
        """Events of each bout.

        Parameters
        ----------
        acc_body_mps2, gyr_body_dps : ndarray, shape (n_samples, 3)
            Pelvis signals in the body frame (ap, ml, si), NaN-free (short gaps bridged, long gaps zero-filled:
            bouts never span them).
        bout_steps : list of int arrays
            Step peaks of each bout (:class:`gait.bouts.WalkingBout`).
        sampling_rate_hz : float
        opening_idx : sequence of int, optional
            Opening candidate of each bout (-1 for none); confirmed ones become the bout's first IC
            (:meth:`confirm_opening`).

        Returns
        -------
        list of BoutEvents, one per bout.
        """
        fs = sampling_rate_hz
        fwd = acc_body_mps2[:, AP]
        sigma = max(self.ic_smoothing_s * fs, 0.5)
        fwd_ic = ndimage.gaussian_filter1d(fwd, sigma, axis=-1)
        slope = ndimage.gaussian_filter1d(fwd, sigma, axis=-1, order=1)
        fwd_fc = ndimage.gaussian_filter1d(fwd, max(self.fc_smoothing_s * fs, 0.5), axis=-1)
        sos = signal.butter(2, [0.3, min(3.0, 0.45 * fs)], btype="band", fs=fs, output="sos")
        roll = signal.sosfiltfilt(sos, gyr_body_dps[:, AP], axis=-1)
        out: list[BoutEvents] = []
        openings = list(opening_idx) if opening_idx is not None else [-1] * len(bout_steps)
        for steps, opening in zip(bout_steps, openings, strict=True):
            ic = self.initial_contacts(fwd_ic, slope, steps, fs)
            # Refinement can, rarely, pull two steps onto one peak; keep increasing, distinct contacts.
            keep = np.concatenate(([True], np.diff(ic) > round(0.15 * fs)))
            ic = ic[keep]
            if self.starts_with_toe_off(fwd_ic, ic, fs):
                ic = ic[1:]  # the opening candidate, earlier still, is no heel strike either
            else:
                first = self.confirm_opening(fwd_ic, slope, opening, ic, fs)
                if first >= 0:
                    ic = np.concatenate(([first], ic)).astype(np.int64)
            fc = self.final_contacts(fwd_fc, ic, fs)
            side, confidence = self.sides(roll, ic, fs)
            out.append(BoutEvents(ic_idx=ic, fc_idx=fc, side=side, side_confidence=confidence))
        return out
