"""The analysis pipeline: Recording in, frozen :class:`GaitResult` out.

Stages (DESIGN.md §3): gap handling → quiet standing → walking (rotation-free first pass on the acceleration
magnitude) → vertical from gravity → steps and bouts on the vertical acceleration → walking direction and forward
sign from the steps → body frame → IC / FC / side per bout → turns → step lengths → step and stride tables →
summaries for the recording and per bout.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
from numpy.typing import NDArray

from gait.alignment import BodyAlignment, VerticalSource, estimate_forward_axis, estimate_vertical
from gait.bouts import BoutDetector, Turn, TurnDetector, WalkingBout, quiet_standing, runs
from gait.errors import AnalysisError
from gait.events import PelvisEventDetector
from gait.frames import AP, GRAVITY_MPS2, SI
from gait.kinematics import KinematicsEstimator, KinematicsResult
from gait.preprocess import bridge_gaps, bridgeable, spans_mask
from gait.recording import LEFT_THIGH, PELVIS, RIGHT_THIGH, Recording
from gait.spatiotemporal import (
    DEFAULT_PENDULUM_FACTOR,
    StepTable,
    StrideTable,
    pendulum_step_length_m,
    step_table,
    stride_table,
    vertical_excursion_m,
)
from gait.summary import SpatiotemporalSummary, summarize, summarize_bouts

__all__ = ["BoutResult", "GaitPipeline", "GaitResult"]

FloatArray = NDArray[np.float64]
IntArray = NDArray[np.int64]

#: Sacral sensor height as a fraction of body height: greater-trochanter height ≈ 0.53 H (Winter, Biomechanics and
#: Motor Control of Human Movement, segment-length table).
SENSOR_HEIGHT_PER_BODY_HEIGHT = 0.53
#: Used when neither the sensor height nor the body height is given: 0.53 × 1.75 m.
DEFAULT_SENSOR_HEIGHT_M = 0.93
#: Shorter recordings are refused: the zero-phase filters need a few periods of their lowest frequency.
MIN_DURATION_S = 1.0


@dataclass(frozen=True, slots=True)
class BoutResult:
    """One walking bout with its own summary.

    Attributes
    ----------
    start_idx, stop_idx : int
        First and last IC of the bout.
    n_steps, n_strides : int
        Steps used for the bout's figures; strides of either side in the bout.
    cadence_spm, walking_speed_mps, stride_length_m : float
        The bout's headline figures (NaN when not computable).
    """

    start_idx: int
    stop_idx: int
    n_steps: int
    n_strides: int
    cadence_spm: float
    walking_speed_mps: float
    stride_length_m: float


@dataclass(frozen=True, slots=True)
class GaitResult:
    """Everything the analysis found in one recording.

    Attributes
    ----------
    sampling_rate_hz, duration_s, start_time_s : float
    placements : tuple of str
    alignment : BodyAlignment
        Pelvis sensor-to-body alignment.
    ic_idx, fc_idx, side, bout_of_ic : ndarray of int
        All initial contacts, the contralateral final contact after each (−1 if none), the side of each IC
        (0 left, 1 right, −1 unknown) and its bout.
    side_confidence : tuple of float
        Per bout.
    bouts : tuple of BoutResult
    turns : tuple of Turn
    steps : StepTable
    strides : StrideTable
    summary : SpatiotemporalSummary
        Whole recording.
    sensor_height_m : float
    sensor_height_source : str
    gap_fraction : dict of str to float
        Lost-sample fraction per sensor.
    longest_gap_s : float
        Longest run of lost pelvis samples.
    standing_s : float
        Total quiet standing.
    kinematics : KinematicsResult or None
        Pelvis and hip angles (None when there was no walking to calibrate on, or kinematics were switched off).
    warnings : tuple of str
    """

    sampling_rate_hz: float
    duration_s: float
    start_time_s: float
    placements: tuple[str, ...]
    alignment: BodyAlignment
    ic_idx: IntArray
    fc_idx: IntArray
    side: IntArray
    bout_of_ic: IntArray
    side_confidence: tuple[float, ...]
    bouts: tuple[BoutResult, ...]
    turns: tuple[Turn, ...]
    steps: StepTable
    strides: StrideTable
    summary: SpatiotemporalSummary
    sensor_height_m: float
    sensor_height_source: str
    gap_fraction: dict[str, float]
    longest_gap_s: float
    standing_s: float
    kinematics: KinematicsResult | None = None
    warnings: tuple[str, ...] = field(default=())


def _split_at_gaps(bouts: list[WalkingBout], usable: NDArray[np.bool_], min_steps: int) -> list[WalkingBout]:
    """Split bouts wherever a step interval contains unusable samples (an opening candidate stays with the first
    part, when the interval up to it is clear)."""
    lost = np.concatenate(([0], np.cumsum(~usable, dtype=np.int64)))
    out: list[WalkingBout] = []
    for bout in bouts:
        s = bout.step_idx
        clear = (lost[s[1:] + 1] - lost[s[:-1]]) == 0
        opening = bout.opening_idx
        if opening >= 0 and lost[s[0] + 1] != lost[opening]:
            opening = -1
        for a, b in runs(clear):
            part = s[a : b + 1]
            if part.size >= min_steps:
                out.append(
                    WalkingBout(
                        step_idx=part,
                        closing_step=bout.closing_step and b + 1 == s.size,
                        opening_idx=opening if a == 0 else -1,
                    )
                )
    return out


class GaitPipeline:
    """Analyse a recording with a pelvis sensor.

    Parameters
    ----------
    height_m : float, optional
        Body height; gives the sensor height when ``sensor_height_m`` is not given.
    sensor_height_m : float, optional
        Height of the sacral sensor above the ground when standing (the pendulum length).
    pendulum_factor : float
        Correction factor of the inverted-pendulum step length.
    max_bridged_gap_s : float
        Lost-sample runs up to this long are bridged inside a bout; longer ones end it.
    bout_detector, event_detector, turn_detector, kinematics
        Stage objects with their own parameters; ``kinematics=None`` skips the angles (spatiotemporal analysis
        only).
    """

    def __init__(
        self,
        *,
        height_m: float | None = None,
        sensor_height_m: float | None = None,
        pendulum_factor: float = DEFAULT_PENDULUM_FACTOR,
        max_bridged_gap_s: float = 0.1,
        bout_detector: BoutDetector | None = None,
        event_detector: PelvisEventDetector | None = None,
        turn_detector: TurnDetector | None = None,
        kinematics: KinematicsEstimator | None = None,
        with_kinematics: bool = True,
    ) -> None:
        if height_m is not None and not 0.5 <= height_m <= 2.8:
            raise AnalysisError(f"height_m: expected a body height in metres (0.5–2.8), got {height_m}")
        if sensor_height_m is not None and not 0.2 <= sensor_height_m <= 1.6:
            raise AnalysisError(f"sensor_height_m: expected a sensor height in metres (0.2–1.6), got {sensor_height_m}")
        self.height_m = height_m
        self.sensor_height_m = sensor_height_m
        self.pendulum_factor = pendulum_factor
        self.max_bridged_gap_s = max_bridged_gap_s
        self.bout_detector = bout_detector or BoutDetector()
        self.event_detector = event_detector or PelvisEventDetector()
        self.turn_detector = turn_detector or TurnDetector()
        self.kinematics = (kinematics or KinematicsEstimator()) if with_kinematics else None

    def _sensor_height(self) -> tuple[float, str, list[str]]:
        if self.sensor_height_m is not None:
            return self.sensor_height_m, "given", []
        if self.height_m is not None:
            return (
                SENSOR_HEIGHT_PER_BODY_HEIGHT * self.height_m,
                f"0.53 × body height {self.height_m:g} m",
                [],
            )
        return (
            DEFAULT_SENSOR_HEIGHT_M,
            "default",
            [
                f"neither sensor height nor body height given: step length and speed assume a sensor height of "
                f"{DEFAULT_SENSOR_HEIGHT_M} m (body height 1.75 m); pass --height-m or --sensor-height-m"
            ],
        )

    def run(self, recording: Recording) -> GaitResult:
        """Analyse ``recording`` (sensor or body frame) and return the frozen result.

        Raises
        ------
        AnalysisError
            When the recording has no pelvis sensor, or is shorter than :data:`MIN_DURATION_S`.
        """
        if recording.duration_s < MIN_DURATION_S:
            raise AnalysisError(
                f"recording: {recording.duration_s:.2f} s is too short to analyse (at least {MIN_DURATION_S:g} s)"
            )
        if not recording.has(PELVIS):
            raise AnalysisError(
                f"recording: a pelvis (sacral) sensor is required, got {', '.join(recording.placements)}"
            )
        warnings: list[str] = []
        fs = recording.sampling_rate_hz
        p = recording.index(PELVIS)
        valid = recording.valid[p]
        n = recording.n_samples
        sensor_height_m, height_source, height_warnings = self._sensor_height()
        warnings.extend(height_warnings)

        gap_fraction = {name: float(f) for name, f in zip(recording.placements, recording.gap_fraction(), strict=True)}
        gap_runs = runs(~valid)
        longest_gap_s = float((gap_runs[:, 1] - gap_runs[:, 0]).max() / fs) if gap_runs.size else 0.0
        if gap_fraction[PELVIS] > 0.05:
            warnings.append(
                f"pelvis sensor lost {100 * gap_fraction[PELVIS]:.1f}% of its samples (longest gap "
                f"{longest_gap_s:.2f} s); steps next to gaps longer than {self.max_bridged_gap_s} s are not used"
            )
        if not valid.any():
            raise AnalysisError("recording: the pelvis sensor has no valid sample")
        if recording.duration_s < 5.0:
            warnings.append(f"recording is short ({recording.duration_s:.1f} s): at least 10 s of walking is advised")

        usable = bridgeable(valid, max_gap_samples=round(self.max_bridged_gap_s * fs))
        acc = bridge_gaps(recording.acc_mps2[p], valid)
        gyr = bridge_gaps(recording.gyr_dps[p], valid)
        in_body_frame = recording.frame == "body"
        standing = quiet_standing(np.where(valid[:, None], acc, np.nan), np.where(valid[:, None], gyr, np.nan), fs)

        # Pass 1 (rotation-free): steps on the acceleration magnitude give the walking periods.
        bd = self.bout_detector
        norm = np.linalg.norm(acc, axis=-1) - GRAVITY_MPS2
        rough = _split_at_gaps(bd.bouts(bd.candidates(norm, fs), fs), usable, bd.min_steps)
        walking = np.zeros(n, dtype=bool)
        for rough_bout in rough:
            walking[rough_bout.start_idx : rough_bout.stop_idx + 1] = True
        v_source: VerticalSource = "walking"
        if in_body_frame:  # axes already (ap, ml, si): nothing to estimate
            up, v_conf = np.eye(3)[SI], 1.0
        else:
            up, v_source, v_conf = estimate_vertical(
                np.where(usable[:, None], acc, np.nan), walking=walking, standing=standing
            )

        # Pass 2: steps on the vertical acceleration.
        vertical = acc @ up
        bouts = _split_at_gaps(bd.bouts(bd.candidates(vertical, fs), fs), usable, bd.min_steps)
        notes: tuple[str, ...] = ()
        if in_body_frame:
            forward, h_conf, s_conf = np.eye(3)[AP], 1.0, 1.0
        else:
            forward, h_conf, s_conf, notes = estimate_forward_axis(acc, up, [b.step_idx for b in bouts])
        left = np.cross(up, forward)
        rotation = np.stack([forward, left, up])
        alignment = BodyAlignment(
            rotation=rotation,
            vertical_source=v_source,
            vertical_confidence=v_conf,
            heading_confidence=h_conf,
            sign_confidence=s_conf,
            notes=notes,
        )
        if bouts and alignment.confidence < 0.3:
            warnings.append(
                "the walking direction of the pelvis sensor could not be established with confidence "
                f"({alignment.confidence:.2f}): " + "; ".join(notes or ("check the sensor placement",))
            )
        acc_body = alignment.to_body(acc)
        gyr_body = alignment.to_body(gyr)

        events = self.event_detector.detect(
            acc_body, gyr_body, [b.step_idx for b in bouts], fs, opening_idx=[b.opening_idx for b in bouts]
        )
        turns, turning = self.turn_detector.detect(gyr_body[:, SI], fs)

        kept = [ev for ev in events if ev.ic_idx.size >= bd.min_steps]
        kept_conf = [ev.side_confidence for ev in kept]

        def _cat_int(parts: list[IntArray]) -> IntArray:
            return np.concatenate(parts).astype(np.int64) if parts else np.zeros(0, dtype=np.int64)

        ic_idx = _cat_int([ev.ic_idx for ev in kept])
        fc_idx = _cat_int([ev.fc_idx for ev in kept])
        side = _cat_int([ev.side for ev in kept])
        bout_of_ic = _cat_int([np.full(ev.ic_idx.size, k, dtype=np.int64) for k, ev in enumerate(kept)])
        # Vertical excursion once over the whole signal; a step exists only between two ICs of one bout.
        step_len = np.full(ic_idx.size, np.nan)
        if ic_idx.size >= 2:
            h = vertical_excursion_m(acc_body[:, SI], ic_idx, fs)
            same_bout = bout_of_ic[1:] == bout_of_ic[:-1]
            step_len[1:] = np.where(
                same_bout, pendulum_step_length_m(h, sensor_height_m, factor=self.pendulum_factor), np.nan
            )
        steps = step_table(ic_idx, side, step_len, bout_of_ic, turning, fs)
        strides = stride_table(ic_idx, fc_idx, side, step_len, bout_of_ic, turning, acc_body, fs)
        summary = summarize(steps, strides)
        per_bout = summarize_bouts(steps, strides, len(kept))
        bout_results = [
            BoutResult(
                start_idx=int(ev.ic_idx[0]),
                stop_idx=int(ev.ic_idx[-1]),
                n_steps=int(per_bout.n_steps[k]),
                n_strides=int(per_bout.n_strides[k]),
                cadence_spm=float(per_bout.cadence_spm[k]),
                walking_speed_mps=float(per_bout.walking_speed_mps[k]),
                stride_length_m=float(per_bout.stride_length_m[k]),
            )
            for k, ev in enumerate(kept)
        ]
        kinematics = None
        if self.kinematics is not None and strides.start_idx.size:
            kinematics = self._kinematics(
                recording,
                acc,
                gyr,
                usable,
                standing,
                strides,
                alignment,
                ic_idx,
                side,
                up if v_source == "walking" else None,
            )
            warnings.extend(kinematics.warnings)
        elif self.kinematics is not None:
            warnings.append("pelvis and hip angles not computed: no strides to calibrate and normalise them on")
        if not bout_results:
            warnings.append(
                f"no walking found: no run of at least {bd.min_steps} regular steps (2 strides) in the pelvis signal"
            )
        elif any(c < 0.5 for c in kept_conf):
            warnings.append("left/right could not be told apart with confidence in some bouts (side confidence < 0.5)")
        return GaitResult(
            sampling_rate_hz=fs,
            duration_s=recording.duration_s,
            start_time_s=recording.start_time_s,
            placements=recording.placements,
            alignment=alignment,
            ic_idx=ic_idx,
            fc_idx=fc_idx,
            side=side,
            bout_of_ic=bout_of_ic,
            side_confidence=tuple(kept_conf),
            bouts=tuple(bout_results),
            turns=tuple(turns),
            steps=steps,
            strides=strides,
            summary=summary,
            sensor_height_m=float(sensor_height_m),
            sensor_height_source=height_source,
            gap_fraction=gap_fraction,
            longest_gap_s=longest_gap_s,
            standing_s=float(np.count_nonzero(standing) / fs),
            kinematics=kinematics,
            warnings=tuple(warnings),
        )

    def _kinematics(
        self,
        recording: Recording,
        pelvis_acc: FloatArray,
        pelvis_gyr: FloatArray,
        pelvis_usable: NDArray[np.bool_],
        standing: NDArray[np.bool_],
        strides: StrideTable,
        alignment: BodyAlignment,
        ic_idx: IntArray,
        side: IntArray,
        up_walking: FloatArray | None,
    ) -> KinematicsResult:
        assert self.kinematics is not None
        fs = recording.sampling_rate_hz
        acc = {PELVIS: pelvis_acc}
        gyr = {PELVIS: pelvis_gyr}
        usable = {PELVIS: pelvis_usable}
        for name in (LEFT_THIGH, RIGHT_THIGH):
            if recording.has(name):
                i = recording.index(name)
                valid = recording.valid[i]
                if not valid.any():
                    continue
                acc[name] = bridge_gaps(recording.acc_mps2[i], valid)
                gyr[name] = bridge_gaps(recording.gyr_dps[i], valid)
                usable[name] = bridgeable(valid, max_gap_samples=round(self.max_bridged_gap_s * fs))
        straight = strides.straight
        walking = spans_mask(recording.n_samples, strides.start_idx[straight], strides.stop_idx[straight])
        if up_walking is None:
            sel = walking & pelvis_usable
            up_walking = pelvis_acc[sel].mean(axis=0) if sel.any() else alignment.rotation[SI]
        orientations = self.kinematics.orientations(acc, gyr, fs)
        calibrations = self.kinematics.calibrate(
            acc,
            gyr,
            fs,
            standing=standing,
            walking=walking,
            forward=alignment.rotation[AP],
            up_walking=np.asarray(up_walking, dtype=np.float64),
            direction_confidence=min(alignment.heading_confidence, alignment.sign_confidence),
        )
        return self.kinematics.run(
            acc,
            gyr,
            fs,
            calibrations=calibrations,
            stride_start_idx=strides.start_idx,
            stride_stop_idx=strides.stop_idx,
            stride_side=strides.side,
            stride_straight=straight,
            stride_bout=strides.bout,
            usable=usable,
            ic_idx=ic_idx,
            ic_side=side,
            orientations=orientations,
        )
