"""A walking-body model: the ground truth for the project's tests and demo.

The model prescribes the kinematics of a walking person (pelvis position and orientation, hip angles) as smooth
functions of time and gait phase, and derives what three IMUs would measure (one on the sacrum, one on each
lateral mid-thigh) by differentiating positions and orientations: accelerations are never drawn by hand.

How it works (see ``docs/simulator.md`` for the assumptions and a comparison with real recordings):

1. **Schedule.** A session is a sequence of :class:`Segment` (stand, walk, turn). Consecutive walk/turn segments form
   one walking bout. Turns change the heading smoothly while stepping at 0.6 of the walking speed.
2. **Gait timing.** Per bout, initial contacts (IC) alternate between the feet; each step lasts its nominal time
   (from the cadence, split left/right by ``step_time_ratio``) times ``1 + step_time_cv * N(0, 1)``. Final
   contacts (FC) follow from each side's stance fraction. A C2 cubic spline through the IC times gives a smooth
   cumulative step phase; one spline per side gives each side's gait phase (0 at that side's IC).
3. **Pelvis (sacral sensor site).** Forward progression along the heading at the mean speed plus an
   inverted-pendulum speed oscillation (energy exchange ``Δv ≈ g h / v``); vertical excursion ``h`` from the
   Zijlstra & Hof (2003) pendulum relation; lateral sway toward the stance leg; foot-contact transients at every IC
   (damped heel-strike impact and weight-acceptance oscillations, added as displacements, plus a small soft-tissue
   wobble of each sensor's orientation; ``contact_transient_scale=0`` removes them). Orientation: heading, then
   pelvic rotation, obliquity and tilt (Baker 2001 order) as Fourier series of the gait phase. Initiation and
   termination ramp every amplitude and the speed over about one stride.
4. **Hips and thighs.** Hip flexion follows a textbook sagittal curve over each side's cycle, scaled to the side's
   peak flexion and extension; hip abduction a sinusoid. Thigh orientation = pelvis orientation composed with the
   hip rotation (flexion about the pelvis ML axis, then abduction about the AP axis).
5. **Sensors.** Specific force ``f = R_ws^T (a_site - g_vec)`` with ``g_vec = (0, 0, -9.80665)`` and body-frame
   angular rate from consecutive orientations, both on a fine (≥ 1 kHz) grid, rotated into the sensor frame by the
   mounting, low-passed like a MEMS digital filter, sampled at the output rate (optionally with timing jitter), and
   corrupted by scale, bias, bias drift and white noise.

Frames and signs
----------------
World: x, y horizontal, z up; the walk starts along +x. Segment frames follow :mod:`gait.frames` (``ap`` forward,
``ml`` left, ``si`` up). Truth angles, in degrees:

* pelvic **tilt**: rotation about the pelvis ML axis, anterior positive, relative to standing;
* pelvic **obliquity**: rotation about the AP axis, positive = **left side up** (right side down);
* pelvic **rotation**: yaw relative to the heading, positive = **counter-clockwise seen from above** (pelvis turned
  to the left, right side forward). The heading is counter-clockwise positive as well;
* **hip flexion**: flexion positive, extension negative; **hip abduction**: abduction positive (either side);
* **thigh inclination**: thigh long axis against the vertical in the sagittal (heading-vertical) plane, knee forward
  (flexion) positive. To first order it equals hip flexion minus pelvic tilt.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Final, Literal

import numpy as np
from numpy.typing import ArrayLike, NDArray
from scipy import signal
from scipy.interpolate import CubicSpline
from scipy.ndimage import uniform_filter1d
from scipy.spatial.transform import Rotation

from gait.frames import GRAVITY_MPS2
from gait.recording import LEFT_THIGH, PELVIS, RIGHT_THIGH, Recording

__all__ = [
    "DEFAULT_SCHEDULE",
    "PLACEMENTS",
    "PRESETS",
    "Segment",
    "SensorErrorModel",
    "SimulatedSession",
    "SimulatorError",
    "WalkerParams",
    "WalkerTruth",
    "antalgic",
    "anterior_tilt_compensation",
    "body_angular_velocity_dps",
    "default_mounting",
    "healthy",
    "pelvic_drop",
    "pendulum_excursion_m",
    "reduced_hip_extension",
    "sample_linear",
    "simulate_session",
    "slow_short_steps",
]

FloatArray = NDArray[np.float64]
IntArray = NDArray[np.int64]
BoolArray = NDArray[np.bool_]
Side = Literal["left", "right"]
SegmentKind = Literal["stand", "sit", "walk", "turn"]

#: Placements the simulator can produce, in their canonical order.
PLACEMENTS: Final = (PELVIS, LEFT_THIGH, RIGHT_THIGH)

# ---------------------------------------------------------------------------------------------------- constants
#: Walk ratio (step length / cadence) per metre of body height, in m/(steps/min)/m. The walk ratio is nearly
#: invariant over a wide range of speeds in healthy adults (Sekiya & Nagasaki 1998, Gait Posture 7:225-227:
#: ≈ 0.0064 m/(steps/min) in young adults; the height scaling and the slightly lower value, which puts the default
#: subject at the ≈ 111 steps/min of CLINICAL.md §2, are this model's choices). With v = L·C/60 it gives
#: L = sqrt(60·v·WR): 0.68 m and 111 steps/min at 1.25 m/s for a 1.75 m subject, 0.51 m and 83 steps/min at 0.7 m/s.
_WALK_RATIO_PER_HEIGHT: Final = 0.0035
#: Speed during a turn, as a fraction of the walking speed.
_TURN_SPEED_FRACTION: Final = 0.6
#: Width of the smooth walk <-> turn speed transition, in s.
_TURN_TRANSITION_S: Final = 1.0
#: Delay between the start of a walking segment and the first toe-off, in s (anticipatory postural adjustment).
_FIRST_TOE_OFF_DELAY_S: Final = 0.15
#: Minimum rate of the internal grid on which positions and orientations are differentiated, in Hz.
_MIN_FINE_RATE_HZ: Final = 1000.0
#: Standing padding added before and after the session on the internal grid, in s.
_PAD_S: Final = 1.0
#: Anti-alias (MEMS digital low-pass) cut-off as a fraction of the output rate.
_ANTI_ALIAS_FRACTION: Final = 0.4
#: Range of a segment's ``speed_factor`` (fraction of ``WalkerParams.speed_mps``).
_SPEED_FACTOR_RANGE: Final = (0.3, 1.6)

# Sitting is a still posture, not a simulated sit-to-stand: the pelvis tilts back, both hips flex until the thighs are
# horizontal, and the sacrum lowers to chair height, each following a C2 smootherstep over the first and last
# _SIT_TRANSITION_S of a sitting period. The values are model choices (approx.), not measured: slumped chair sitting
# tilts the pelvis backwards by roughly 20-30° from standing; thigh horizontal means hip flexion = 90° + tilt.
_SIT_PELVIS_TILT_DEG: Final = -25.0
_SIT_HIP_FLEXION_DEG: Final = 90.0 + _SIT_PELVIS_TILT_DEG
_SIT_SACRUM_DROP_M: Final = 0.33  # for a 1.75 m subject (sacrum ≈ 0.15 m above a 0.45 m seat), scaled with height
_SIT_TRANSITION_S: Final = 2.0

# Phases in units of the step (0 = IC) or the stride (0 = left IC, 0.5 = right IC); chosen from textbook pelvis
# curves (Perry & Burnfield 2010) and checked against the lower-back data in docs/simulator.md.
_STEP_PHASE_LOWEST: Final = 0.12  # pelvis lowest shortly after IC, in double support
_STEP_PHASE_FASTEST: Final = 0.08  # forward speed highest in double support (KE max where PE min)
_STEP_PHASE_ANTERIOR_TILT: Final = 0.86  # anterior-tilt peak in terminal stance, just before the next IC
_STRIDE_PHASE_LEFT_UP: Final = 0.12  # obliquity: stance (left) side up, right side dropped, end of loading response
_STRIDE_PHASE_LEFT_BACK: Final = 0.05  # rotation: left side furthest forward at left IC (rotation negative)
_STRIDE_PHASE_SWAY_LEFT: Final = 0.28  # lateral sway furthest toward the left leg at left mid-stance
_SPEED_SECOND_HARMONIC: Final = 0.25  # sawtooth-like AP acceleration: quick braking after IC, slow propulsion
# Slightly sharper bottom (loading) and flatter top (single support): second harmonic of the vertical
# acceleration ≈ 0.25 of the fundamental, as in lower-back recordings. Keeps the peak-to-peak excursion exactly h.
_VERTICAL_SECOND_HARMONIC: Final = 0.06
_OBLIQUITY_THIRD_HARMONIC: Final = 0.2  # quick contralateral drop in loading response
_SWAY_AMPLITUDE_PER_HEIGHT: Final = 0.02 / 1.75  # ±2 cm lateral sway for a 1.75 m subject, in m per m
_MAX_SPEED_OSCILLATION: Final = 0.4  # cap on Δv / v (pendulum energy recovery is far from complete when slow)

# Foot-contact transients, added at every IC as a displacement whose acceleration is a damped oscillation (a local
# wobble: no net change of velocity or position). Two components: the heel-strike impact (≈ 18 Hz, ≈ 10 ms rise)
# and the weight-acceptance bump (≈ 7.5 Hz). Peak accelerations in m/s² at 1.25 m/s, scaled with √speed;
# sized so that the 4-20 Hz content of the sacral signals matches lower-back recordings (docs/simulator.md).
_TRANSIENT_REFERENCE_SPEED_MPS: Final = 1.25


@dataclass(frozen=True)
class _Transient:
    frequency_hz: float
    decay_s: float
    rise_s: float
    duration_s: float
    vertical_mps2: float  # sacrum, first lobe upwards
    braking_mps2: float  # sacrum, first lobe backwards along the heading
    medial_mps2: float  # sacrum, first lobe away from the contact side
    thigh_vertical_mps2: float  # thigh sensor of the contact side
    thigh_sagittal_dps: float  # soft-tissue wobble of the contact-side thigh sensor about the ML axis (peak rate)
    pelvis_pitch_dps: float  # wobble of the sacral sensor about the ML axis (peak rate)
    pelvis_roll_dps: float  # wobble of the sacral sensor about the AP axis (peak rate), stance side up first


_TRANSIENTS: Final = (
    _Transient(
        frequency_hz=18.0,
        decay_s=0.020,
        rise_s=0.003,
        duration_s=0.2,
        vertical_mps2=5.5,
        braking_mps2=5.0,
        medial_mps2=4.0,
        thigh_vertical_mps2=8.0,
        thigh_sagittal_dps=80.0,
        pelvis_pitch_dps=20.0,
        pelvis_roll_dps=15.0,
    ),
    _Transient(
        frequency_hz=7.5,
        decay_s=0.060,
        rise_s=0.008,
        duration_s=0.4,
        vertical_mps2=3.5,
        braking_mps2=3.0,
        medial_mps2=2.0,
        thigh_vertical_mps2=3.0,
        thigh_sagittal_dps=80.0,
        pelvis_pitch_dps=15.0,
        pelvis_roll_dps=15.0,
    ),
)

# Anatomical offsets for a 1.75 m subject (scaled with height), in m, segment frame (ap, ml, si).
# Hip joint centres lie anterior to the sacral skin surface (Bell/Harrington regressions put them ≈ 0.1 m in front
# of the PSIS midpoint), ≈ 0.085 m lateral and ≈ 0.09 m below it.
_HIP_FROM_SACRUM_M: Final = (0.11, 0.085, -0.09)
#: Lateral mid-thigh sensor from the hip joint centre, thigh frame (left side; ml is mirrored on the right).
_THIGH_SENSOR_FROM_HIP_M: Final = (0.0, 0.07, -0.20)
_REFERENCE_HEIGHT_M: Final = 1.75

#: Textbook sagittal hip curve (Perry & Burnfield 2010 / Winter shape), (cycle fraction, degrees) for a hip with
#: 30.5° peak flexion and 10° peak extension; toe-off at 60 % of the cycle. Normalised to [0, 1] below.
_HIP_TEMPLATE_KNOTS: Final = (
    (0.00, 28.0),
    (0.05, 27.0),
    (0.10, 24.5),
    (0.20, 16.5),
    (0.30, 7.5),
    (0.40, -0.5),
    (0.48, -7.5),
    (0.53, -10.0),
    (0.57, -8.5),
    (0.60, -5.5),
    (0.64, 1.5),
    (0.68, 11.0),
    (0.72, 19.5),
    (0.76, 25.5),
    (0.80, 29.0),
    (0.85, 30.5),
    (0.92, 30.0),
    (0.96, 29.0),
    (1.00, 28.0),
)
_HIP_TEMPLATE_STANCE_FRACTION: Final = 0.60
_HIP_ABDUCTION_PEAK_PHASE: Final = 0.65  # abduction peaks in early swing, adduction in loading response


class SimulatorError(ValueError):
    """A simulator parameter or argument is invalid; the message names it, what was expected and what came."""


# ------------------------------------------------------------------------------------------------- parameters
@dataclass(frozen=True, kw_only=True)
class WalkerParams:
    """One simulated subject and sensor set. Defaults describe a healthy adult walking at a comfortable speed.

    Parameters
    ----------
    height_m : float
        Body height in m.
    sensor_height_m : float, optional
        Height of the sacral sensor above the ground when standing, in m (pendulum length). Default ``0.53 *
        height_m``.
    speed_mps : float
        Steady straight-walking speed in m/s.
    cadence_spm : float, optional
        Steady cadence in steps/min. Default: from the speed by a constant height-scaled walk ratio
        (Sekiya & Nagasaki 1998), see :attr:`steady_cadence_spm`.
    pendulum_k : float
        Zijlstra & Hof (2003) correction factor: step length ``= k * 2 * sqrt(2 l h - h**2)``; the model's vertical
        pelvic excursion ``h`` follows from the step length through this relation.
    stance_fraction_left, stance_fraction_right : float
        Stance duration / stride time per side.
    step_time_ratio : float
        Left step time / right step time (1 = symmetric). The left step runs from right IC to left IC.
    mean_tilt_deg : float
        Mean anterior pelvic tilt while walking relative to standing, in degrees (anterior positive).
    tilt_amplitude_deg : float
        Amplitude of the twice-per-stride tilt oscillation, in degrees (range of motion = 2 × amplitude).
    obliquity_amplitude_deg, rotation_amplitude_deg : float
        Amplitudes of the once-per-stride obliquity and rotation, in degrees (ROM = 2 × amplitude).
    pelvic_drop_left_deg, pelvic_drop_right_deg : float
        Extra contralateral pelvic drop during that side's single support (Trendelenburg pattern of a weak stance
        side), added to the obliquity, in degrees.
    hip_peak_extension_left_deg, hip_peak_extension_right_deg : float
        Peak hip extension past neutral in late stance, as a positive number (DESIGN.md §2), in degrees.
    hip_peak_flexion_left_deg, hip_peak_flexion_right_deg : float
        Peak hip flexion in late swing, in degrees.
    hip_abduction_amplitude_deg : float
        Amplitude of the hip ab/adduction sinusoid, in degrees.
    acc_noise_mps2, gyr_noise_dps : float
        Standard deviation of white noise per output sample, in m/s² and deg/s.
    acc_bias_mps2, gyr_bias_dps : float
        Standard deviation of a random constant bias per sensor axis.
    gyr_bias_drift_dps_per_sqrt_s : float
        Random-walk intensity of the gyroscope bias, in deg/s/√s.
    scale_error : float
        Standard deviation of the per-axis scale-factor error (dimensionless).
    timing_jitter_s : float
        Standard deviation of the sample-time jitter, in s.
    step_time_cv : float
        Coefficient of variation of each step's duration (dimensionless).
    contact_transient_scale : float
        Scale of the foot-contact transients (heel-strike impact, weight acceptance, soft-tissue wobble of the
        sensors); 1 = as in lower-back and thigh recordings, 0 = none (clean kinematic signals for tests).

    Raises
    ------
    SimulatorError
        When a value is out of its physical range, or the stance fractions and step-time ratio leave no double
        support.
    """

    height_m: float = 1.75
    sensor_height_m: float | None = None
    speed_mps: float = 1.25
    cadence_spm: float | None = None
    pendulum_k: float = 1.25
    stance_fraction_left: float = 0.61
    stance_fraction_right: float = 0.61
    step_time_ratio: float = 1.0
    mean_tilt_deg: float = 0.0
    tilt_amplitude_deg: float = 1.5
    obliquity_amplitude_deg: float = 4.0
    rotation_amplitude_deg: float = 5.0
    pelvic_drop_left_deg: float = 0.0
    pelvic_drop_right_deg: float = 0.0
    hip_peak_extension_left_deg: float = 10.0
    hip_peak_extension_right_deg: float = 10.0
    hip_peak_flexion_left_deg: float = 30.0
    hip_peak_flexion_right_deg: float = 30.0
    hip_abduction_amplitude_deg: float = 4.0
    acc_noise_mps2: float = 0.02
    gyr_noise_dps: float = 0.15
    acc_bias_mps2: float = 0.05
    gyr_bias_dps: float = 0.5
    gyr_bias_drift_dps_per_sqrt_s: float = 0.005
    scale_error: float = 0.005
    timing_jitter_s: float = 0.0
    step_time_cv: float = 0.02
    contact_transient_scale: float = 1.0

    def __post_init__(self) -> None:
        def bad(name: str, expected: str) -> SimulatorError:
            return SimulatorError(f"{name}: expected {expected}, got {getattr(self, name)!r}")

        for name in (
            "height_m",
            "speed_mps",
            "pendulum_k",
            "stance_fraction_left",
            "stance_fraction_right",
            "step_time_ratio",
        ):
            value = getattr(self, name)
            if not isinstance(value, int | float) or not math.isfinite(value) or value <= 0:
                raise bad(name, "a positive finite number")
        if not 0.8 <= self.height_m <= 2.5:
            raise bad("height_m", "a body height between 0.8 and 2.5 m")
        if self.sensor_height_m is not None and not 0.2 * self.height_m <= self.sensor_height_m <= 0.8 * self.height_m:
            raise bad("sensor_height_m", f"None or between 0.2 and 0.8 × height_m ({self.height_m} m)")
        if not 0.2 <= self.speed_mps <= 2.5:
            raise bad("speed_mps", "a walking speed between 0.2 and 2.5 m/s")
        if self.cadence_spm is not None and not 40.0 <= self.cadence_spm <= 180.0:
            raise bad("cadence_spm", "None or a cadence between 40 and 180 steps/min")
        if not 1.0 <= self.pendulum_k <= 1.6:
            raise bad("pendulum_k", "a correction factor between 1.0 and 1.6")
        for name in ("stance_fraction_left", "stance_fraction_right"):
            if not 0.5 < getattr(self, name) < 0.75:
                raise bad(name, "a stance fraction between 0.5 and 0.75")
        if not 0.5 <= self.step_time_ratio <= 2.0:
            raise bad("step_time_ratio", "a left/right step-time ratio between 0.5 and 2")
        ds_after_left_ic, ds_after_right_ic = _double_support_fractions(self)
        if min(ds_after_left_ic, ds_after_right_ic) < 0.02:
            raise SimulatorError(
                "stance_fraction_left/stance_fraction_right/step_time_ratio: expected a double support of at least "
                f"2 % of the stride after each IC, got {ds_after_left_ic:.3f} after left IC and "
                f"{ds_after_right_ic:.3f} after right IC (stances {self.stance_fraction_left}/"
                f"{self.stance_fraction_right}, ratio {self.step_time_ratio})"
            )
        for name in (
            "tilt_amplitude_deg",
            "obliquity_amplitude_deg",
            "rotation_amplitude_deg",
            "pelvic_drop_left_deg",
            "pelvic_drop_right_deg",
            "hip_abduction_amplitude_deg",
        ):
            if not 0.0 <= getattr(self, name) <= 30.0:
                raise bad(name, "an amplitude between 0 and 30 degrees")
        if not -30.0 <= self.mean_tilt_deg <= 30.0:
            raise bad("mean_tilt_deg", "a mean tilt between -30 and 30 degrees")
        for side in ("left", "right"):
            ext = getattr(self, f"hip_peak_extension_{side}_deg")
            flex = getattr(self, f"hip_peak_flexion_{side}_deg")
            if not -40.0 <= ext <= 40.0:
                raise bad(f"hip_peak_extension_{side}_deg", "a peak extension between -40 and 40 degrees")
            if not -20.0 <= flex <= 80.0:
                raise bad(f"hip_peak_flexion_{side}_deg", "a peak flexion between -20 and 80 degrees")
            if flex + ext <= 1.0:
                raise SimulatorError(
                    f"hip_peak_flexion_{side}_deg/hip_peak_extension_{side}_deg: expected a sagittal hip range "
                    f"(flexion + extension) above 1 degree, got {flex} + {ext}"
                )
        for name in (
            "acc_noise_mps2",
            "gyr_noise_dps",
            "acc_bias_mps2",
            "gyr_bias_dps",
            "gyr_bias_drift_dps_per_sqrt_s",
            "scale_error",
            "timing_jitter_s",
        ):
            value = getattr(self, name)
            if not isinstance(value, int | float) or not math.isfinite(value) or value < 0:
                raise bad(name, "a non-negative finite number")
        if self.scale_error > 0.2:
            raise bad("scale_error", "a scale-factor standard deviation of at most 0.2")
        if self.timing_jitter_s > 0.01:
            raise bad("timing_jitter_s", "a jitter of at most 0.01 s")
        if not 0.0 <= self.contact_transient_scale <= 5.0:
            raise bad("contact_transient_scale", "a scale between 0 and 5")
        if not 0.0 <= self.step_time_cv <= 0.1:
            raise bad("step_time_cv", "a coefficient of variation between 0 and 0.1")
        lever = self.steady_step_length_m / (2.0 * self.pendulum_k)
        if lever >= 0.8 * self.sensor_height_resolved_m:
            raise SimulatorError(
                f"speed_mps/cadence_spm: the step length {self.steady_step_length_m:.2f} m is too long for an "
                f"inverted pendulum of length {self.sensor_height_resolved_m:.2f} m (pendulum_k {self.pendulum_k})"
            )

    @property
    def sensor_height_resolved_m(self) -> float:
        """Sacral sensor height above the ground when standing, in m (``sensor_height_m`` or 0.53 × height)."""
        return float(self.sensor_height_m) if self.sensor_height_m is not None else 0.53 * self.height_m

    @property
    def steady_cadence_spm(self) -> float:
        """Cadence of steady straight walking, in steps/min."""
        if self.cadence_spm is not None:
            return float(self.cadence_spm)
        return 60.0 * self.speed_mps / self.steady_step_length_m

    @property
    def steady_step_length_m(self) -> float:
        """Step length of steady straight walking, in m (``60 · speed / cadence``)."""
        if self.cadence_spm is not None:
            return 60.0 * self.speed_mps / float(self.cadence_spm)
        walk_ratio = _WALK_RATIO_PER_HEIGHT * self.height_m
        return math.sqrt(60.0 * self.speed_mps * walk_ratio)

    @property
    def vertical_excursion_m(self) -> float:
        """Peak-to-peak vertical excursion of the sacral sensor in steady walking, in m (pendulum relation)."""
        return float(
            pendulum_excursion_m(
                step_length_m=self.steady_step_length_m,
                sensor_height_m=self.sensor_height_resolved_m,
                pendulum_k=self.pendulum_k,
            )
        )


def _double_support_fractions(p: WalkerParams) -> tuple[float, float]:
    """Double-support durations after left IC and after right IC, as fractions of the stride."""
    right_step = 1.0 / (1.0 + p.step_time_ratio)  # IC left -> IC right
    return right_step - (1.0 - p.stance_fraction_right), p.stance_fraction_left - right_step


def pendulum_excursion_m(*, step_length_m: ArrayLike, sensor_height_m: float, pendulum_k: float) -> FloatArray:
    """Vertical excursion ``h`` of an inverted pendulum that makes a given step (Zijlstra & Hof 2003).

    Solves ``step_length = k · 2 · sqrt(2 l h − h²)`` for ``h``: ``h = l − sqrt(l² − (step_length / 2k)²)``.

    Parameters
    ----------
    step_length_m : array_like
        Step length(s) in m, any shape.
    sensor_height_m : float
        Pendulum length ``l``: sensor height above the ground when standing, in m.
    pendulum_k : float
        Correction factor ``k``.

    Returns
    -------
    ndarray
        Peak-to-peak vertical excursion in m, shape of ``step_length_m`` (a 0-d array for a scalar).
    """
    half_chord = np.asarray(step_length_m, dtype=np.float64) / (2.0 * pendulum_k)
    return np.asarray(sensor_height_m - np.sqrt(sensor_height_m**2 - half_chord**2), dtype=np.float64)


# ---------------------------------------------------------------------------------------------------- presets
def healthy() -> WalkerParams:
    """A healthy adult, 1.75 m, walking at 1.25 m/s: the :class:`WalkerParams` defaults."""
    return WalkerParams()


def reduced_hip_extension(*, side: Side = "right", peak_extension_deg: float = 0.0) -> WalkerParams:
    """One hip that does not extend past neutral in late stance (flag F1).

    Parameters
    ----------
    side : {"left", "right"}
        The affected hip.
    peak_extension_deg : float
        Its peak extension past neutral, in degrees (healthy default 10).
    """
    _check_side(side)
    if side == "left":
        return WalkerParams(hip_peak_extension_left_deg=peak_extension_deg)
    return WalkerParams(hip_peak_extension_right_deg=peak_extension_deg)


def anterior_tilt_compensation(*, peak_extension_deg: float = 4.0, mean_tilt_deg: float = 6.0) -> WalkerParams:
    """Reduced hip extension on both sides compensated by more anterior pelvic tilt (flag F2).

    With tilt +6° and hip extension reduced from 10° to 4°, the thigh still reaches ≈ 10° of extension in late
    stance: the pelvis supplies the extension the hips lack (thigh inclination ≈ hip flexion − tilt).
    """
    return WalkerParams(
        hip_peak_extension_left_deg=peak_extension_deg,
        hip_peak_extension_right_deg=peak_extension_deg,
        mean_tilt_deg=mean_tilt_deg,
    )


def pelvic_drop(*, side: Side = "left", drop_deg: float = 5.0) -> WalkerParams:
    """Trendelenburg pattern: during ``side``'s single support the opposite side of the pelvis drops (flag F4).

    Parameters
    ----------
    side : {"left", "right"}
        The stance side whose abductors are weak.
    drop_deg : float
        Extra contralateral drop at mid single support, in degrees.
    """
    _check_side(side)
    if side == "left":
        return WalkerParams(pelvic_drop_left_deg=drop_deg)
    return WalkerParams(pelvic_drop_right_deg=drop_deg)


def antalgic(*, side: Side = "right") -> WalkerParams:
    """Antalgic gait: shorter stance on the painful ``side`` and a shorter opposite step (flag F5).

    The painful side bears weight for less time (stance 0.57 vs 0.64), so the opposite foot's step (swung while
    standing on the painful side) is shorter: step-time ratio 0.9 (left/right) for a painful right side.
    """
    _check_side(side)
    short, long_ = 0.57, 0.64
    if side == "right":
        return WalkerParams(stance_fraction_right=short, stance_fraction_left=long_, step_time_ratio=0.9)
    return WalkerParams(stance_fraction_left=short, stance_fraction_right=long_, step_time_ratio=1.0 / 0.9)


def slow_short_steps() -> WalkerParams:
    """Slow walking (0.7 m/s) with short steps and smaller hip and pelvis ranges (flag F6)."""
    return WalkerParams(
        speed_mps=0.7,
        hip_peak_flexion_left_deg=26.0,
        hip_peak_flexion_right_deg=26.0,
        hip_peak_extension_left_deg=7.0,
        hip_peak_extension_right_deg=7.0,
        obliquity_amplitude_deg=3.0,
        rotation_amplitude_deg=3.5,
    )


#: Named presets, each a function returning :class:`WalkerParams` with its default arguments.
PRESETS: Final[Mapping[str, Callable[[], WalkerParams]]] = MappingProxyType(
    {
        "healthy": healthy,
        "reduced_hip_extension": reduced_hip_extension,
        "anterior_tilt_compensation": anterior_tilt_compensation,
        "pelvic_drop": pelvic_drop,
        "antalgic": antalgic,
        "slow_short_steps": slow_short_steps,
    }
)


def _check_side(side: str) -> None:
    if side not in ("left", "right"):
        raise SimulatorError(f"side: expected 'left' or 'right', got {side!r}")


# --------------------------------------------------------------------------------------------------- schedule
@dataclass(frozen=True, kw_only=True)
class Segment:
    """One part of a session schedule.

    Parameters
    ----------
    kind : {"stand", "sit", "walk", "turn"}
        Standing still, sitting still, straight walking, or turning while stepping at 0.6 of the walking speed.
        Sitting is a still posture (pelvis tilted back, thighs horizontal, sacrum at chair height) reached and left
        over the first and last 2 s of a sitting period (consecutive ``"sit"`` segments form one period); it needs
        at least 4 s, and a sitting period is never next to walking (stand up first).
    duration_s : float
        Duration in s.
    turn_deg : float
        Heading change over a ``"turn"`` segment, in degrees (counter-clockwise, i.e. to the left, positive).
        Ignored for other kinds.
    speed_factor : float
        Walking speed of a ``"walk"`` or ``"turn"`` segment as a fraction of ``WalkerParams.speed_mps`` (0.3 … 1.6);
        the cadence follows the walk ratio (∝ √factor, like the slower steps of a turn) and the speed moves between
        segments over about 1 s. Ignored for still segments.
    """

    kind: SegmentKind
    duration_s: float
    turn_deg: float = 180.0
    speed_factor: float = 1.0

    def __post_init__(self) -> None:
        if self.kind not in ("stand", "sit", "walk", "turn"):
            raise SimulatorError(f"kind: expected 'stand', 'sit', 'walk' or 'turn', got {self.kind!r}")
        if not isinstance(self.duration_s, int | float) or not 0.0 < self.duration_s < 1e6:
            raise SimulatorError(f"duration_s: expected a positive duration in s, got {self.duration_s!r}")
        if not isinstance(self.turn_deg, int | float) or not math.isfinite(self.turn_deg):
            raise SimulatorError(f"turn_deg: expected a finite angle in degrees, got {self.turn_deg!r}")
        low, high = _SPEED_FACTOR_RANGE
        if not isinstance(self.speed_factor, int | float) or not low <= self.speed_factor <= high:
            raise SimulatorError(
                f"speed_factor: expected a fraction between {low} and {high}, got {self.speed_factor!r}"
            )

    @property
    def still(self) -> bool:
        """True for the still kinds (``"stand"``, ``"sit"``)."""
        return self.kind in ("stand", "sit")


#: Stand 3 s, walk 20 s, turn 180° in 3 s, walk 20 s back, stand 3 s.
DEFAULT_SCHEDULE: Final[tuple[Segment, ...]] = (
    Segment(kind="stand", duration_s=3.0),
    Segment(kind="walk", duration_s=20.0),
    Segment(kind="turn", duration_s=3.0, turn_deg=180.0),
    Segment(kind="walk", duration_s=20.0),
    Segment(kind="stand", duration_s=3.0),
)


# ------------------------------------------------------------------------------------------------------ results
@dataclass(frozen=True, kw_only=True, eq=False)
class WalkerTruth:
    """What the simulated body really did, on the output sample grid (nominal sample times ``k / fs``).

    Event arrays hold int sample indices into the recording, sorted. Angles are in degrees with the signs in the
    module docstring.

    Attributes
    ----------
    ic_left_idx, ic_right_idx, fc_left_idx, fc_right_idx : ndarray of int64, shape (n_events,)
        Initial and final contacts per side.
    walking : ndarray of bool, shape (n_samples,)
        True during walk and turn segments (stepping).
    turning : ndarray of bool, shape (n_samples,)
        True during turn segments.
    pelvis_angles_deg : ndarray, shape (n_samples, 3)
        Pelvic tilt (anterior +, relative to standing), obliquity (left side up +), rotation (counter-clockwise
        from above +, relative to the heading).
    hip_flexion_deg : ndarray, shape (2, n_samples)
        [left, right] hip flexion (+) / extension (−), 0 when standing.
    hip_abduction_deg : ndarray, shape (2, n_samples)
        [left, right] hip abduction (+) / adduction (−).
    thigh_inclination_deg : ndarray, shape (2, n_samples)
        [left, right] thigh long axis against the vertical in the sagittal plane, knee forward +.
    speed_mps : ndarray, shape (n_samples,)
        Forward speed of the sacral sensor site along the heading, moving-averaged over one steady stride, in m/s.
    heading_deg : ndarray, shape (n_samples,)
        Walking direction, counter-clockwise from the world x axis, in degrees (unwrapped).
    step_length_m, stride_length_m, cadence_spm : float
        Nominal values of steady straight walking (m, m, steps/min).
    sensor_height_m : float
        Sacral sensor height above the ground when standing, in m.
    vertical_excursion_m : float
        Nominal peak-to-peak vertical excursion of the sacral sensor in steady walking, in m.
    sampling_rate_hz : float
        Rate of the sample grid the indices and arrays refer to, in Hz.
    """

    ic_left_idx: IntArray
    ic_right_idx: IntArray
    fc_left_idx: IntArray
    fc_right_idx: IntArray
    walking: BoolArray
    turning: BoolArray
    pelvis_angles_deg: FloatArray
    hip_flexion_deg: FloatArray
    hip_abduction_deg: FloatArray
    thigh_inclination_deg: FloatArray
    speed_mps: FloatArray
    heading_deg: FloatArray
    step_length_m: float
    stride_length_m: float
    cadence_spm: float
    sensor_height_m: float
    vertical_excursion_m: float
    sampling_rate_hz: float

    def __post_init__(self) -> None:
        for name in (
            "ic_left_idx",
            "ic_right_idx",
            "fc_left_idx",
            "fc_right_idx",
            "walking",
            "turning",
            "pelvis_angles_deg",
            "hip_flexion_deg",
            "hip_abduction_deg",
            "thigh_inclination_deg",
            "speed_mps",
            "heading_deg",
        ):
            arr = np.array(getattr(self, name), copy=True)
            arr.setflags(write=False)
            object.__setattr__(self, name, arr)


@dataclass(frozen=True, eq=False)
class SimulatedSession:
    """A simulated recording with its ground truth.

    Attributes
    ----------
    recording : Recording
        ``frame="sensor"``; specific force (m/s², +9.81 along "up" when still) and angular rate (deg/s) per placement.
    truth : WalkerTruth
        Events, angles and spatio-temporal values on the recording's sample grid.
    params : WalkerParams
        The subject and sensor parameters used.
    mounting : Mapping[str, Rotation]
        Sensor-to-segment rotation used per placement (``v_segment = mounting[p].apply(v_sensor)``).
    """

    recording: Recording
    truth: WalkerTruth
    params: WalkerParams
    mounting: Mapping[str, Rotation] = field(default_factory=dict)


# ------------------------------------------------------------------------------------------- public helpers
def default_mounting() -> dict[str, Rotation]:
    """Plausible sensor-to-segment rotations: sensor x along the segment, pointing up.

    * pelvis (sacrum): x up (si), y left (ml), z backwards (out of the skin), like an XSens MTw on L5/S1;
    * left thigh (lateral): x up, y forward (ap), z left (out of the skin);
    * right thigh (lateral): x up, y backwards, z right (out of the skin).

    Returns
    -------
    dict of str to Rotation
        ``v_segment = rotation.apply(v_sensor)`` per placement.
    """
    columns = {  # sensor x, y, z axes expressed in the segment frame (ap, ml, si)
        PELVIS: ((0.0, 0.0, 1.0), (0.0, 1.0, 0.0), (-1.0, 0.0, 0.0)),
        LEFT_THIGH: ((0.0, 0.0, 1.0), (1.0, 0.0, 0.0), (0.0, 1.0, 0.0)),
        RIGHT_THIGH: ((0.0, 0.0, 1.0), (-1.0, 0.0, 0.0), (0.0, -1.0, 0.0)),
    }
    return {name: Rotation.from_matrix(np.array(cols).T) for name, cols in columns.items()}


def body_angular_velocity_dps(orientation: Rotation, sampling_rate_hz: float) -> FloatArray:
    """Body-frame angular velocity from a sequence of orientations (what a gyroscope fixed to the body measures).

    Central differences on the rotation group: ``ω_k = rotvec(R_{k-1}^{-1} R_{k+1}) · fs / 2`` (one-sided at both
    ends). Exact for a constant body rate; second-order accurate otherwise.

    Parameters
    ----------
    orientation : Rotation, length n_samples (≥ 2)
        Body-to-world orientations at uniform sample times.
    sampling_rate_hz : float
        Sampling rate of the sequence, in Hz.

    Returns
    -------
    ndarray, shape (n_samples, 3)
        Angular velocity in the body frame, in deg/s.
    """
    n = len(orientation)
    if n < 2:
        raise SimulatorError(f"orientation: expected at least 2 orientations, got {n}")
    out = np.empty((n, 3), dtype=np.float64)
    out[1:-1] = (orientation[:-2].inv() * orientation[2:]).as_rotvec() * (0.5 * sampling_rate_hz)
    out[0] = (orientation[0].inv() * orientation[1]).as_rotvec() * sampling_rate_hz
    out[-1] = (orientation[-2].inv() * orientation[-1]).as_rotvec() * sampling_rate_hz
    return np.degrees(out)


def sample_linear(x: ArrayLike, sampling_rate_hz: float, t_s: ArrayLike, *, axis: int = -2) -> FloatArray:
    """Linearly interpolate uniformly sampled data at arbitrary times.

    Parameters
    ----------
    x : array_like, shape (..., n_samples, ...) with time on ``axis``
        Samples at ``k / sampling_rate_hz``, k = 0 … n_samples − 1.
    sampling_rate_hz : float
        Sampling rate of ``x``, in Hz.
    t_s : array_like, shape (m,)
        Query times in s, within ``[0, (n_samples − 1) / sampling_rate_hz]`` (clipped to it).
    axis : int
        Time axis of ``x``.

    Returns
    -------
    ndarray
        ``x`` with the time axis replaced by ``m`` interpolated samples (same position).
    """
    arr = np.moveaxis(np.asarray(x, dtype=np.float64), axis, 0)
    n = arr.shape[0]
    pos = np.clip(np.asarray(t_s, dtype=np.float64) * sampling_rate_hz, 0.0, n - 1.0)
    left = np.minimum(np.floor(pos).astype(np.int64), max(n - 2, 0))
    right = np.minimum(left + 1, n - 1)
    w = (pos - left).reshape((-1,) + (1,) * (arr.ndim - 1))
    out = arr[left] * (1.0 - w) + arr[right] * w
    return np.moveaxis(out, 0, axis)


# --------------------------------------------------------------------------------------------- internals
def _smootherstep(x: FloatArray) -> FloatArray:
    """C2 step from 0 (x ≤ 0) to 1 (x ≥ 1): 6x⁵ − 15x⁴ + 10x³."""
    c = np.clip(x, 0.0, 1.0)
    return np.asarray(c**3 * (c * (6.0 * c - 15.0) + 10.0), dtype=np.float64)


def _build_hip_template() -> tuple[CubicSpline, float, float]:
    knots = np.array(_HIP_TEMPLATE_KNOTS)
    spline = CubicSpline(knots[:, 0], knots[:, 1], bc_type="periodic")
    dense = spline(np.linspace(0.0, 1.0, 2001))
    return spline, float(dense.min()), float(dense.max())


_HIP_SPLINE, _HIP_MIN_DEG, _HIP_MAX_DEG = _build_hip_template()


def _hip_template(u: FloatArray) -> FloatArray:
    """Normalised sagittal hip curve over the cycle: 0 at peak extension, 1 at peak flexion; ``u`` in cycles."""
    value = _HIP_SPLINE(np.mod(u, 1.0))
    return np.asarray((value - _HIP_MIN_DEG) / (_HIP_MAX_DEG - _HIP_MIN_DEG), dtype=np.float64)


def _phase_warp(stance_fraction: float) -> Callable[[FloatArray], FloatArray]:
    """Smooth periodic time warp of the cycle that moves toe-off from ``stance_fraction`` to the template's 0.60."""
    offset = _HIP_TEMPLATE_STANCE_FRACTION - stance_fraction
    spline = CubicSpline([0.0, stance_fraction, 1.0], [0.0, offset, 0.0], bc_type="periodic")

    def warp(phase: FloatArray) -> FloatArray:
        frac = np.mod(phase, 1.0)
        return np.asarray(frac + spline(frac), dtype=np.float64)

    return warp


def _transient_kernel(transient: _Transient, fine_rate_hz: float) -> FloatArray:
    """Displacement kernel (unit peak acceleration) of one foot-contact transient, on the fine grid.

    The acceleration is a damped oscillation with a smooth onset, plus a slow correction that makes the net
    velocity and displacement changes zero, so the transient is a local wobble and the trajectory is unchanged
    outside it. The kernel is its double integral: positions, not accelerations, are what the model adds.
    """
    dt = 1.0 / fine_rate_hz
    t = np.arange(0.0, transient.duration_s, dt)
    acc = (
        np.sin(2.0 * np.pi * transient.frequency_hz * t)
        * np.exp(-t / transient.decay_s)
        * (1.0 - np.exp(-t / transient.rise_s)) ** 2
    )
    window = np.sin(np.pi * t / t[-1]) ** 2
    gram = np.array([[np.sum(window), np.sum(window * t)], [np.sum(window * t), np.sum(window * t * t)]])
    alpha, beta = np.linalg.solve(gram, -np.array([np.sum(acc), np.sum(acc * t)]))
    acc = acc + (alpha + beta * t) * window
    acc /= np.abs(acc).max()
    vel = np.cumsum(acc) * dt
    return np.asarray(np.cumsum(vel) * dt, dtype=np.float64)


def _wobble_kernel(transient: _Transient, fine_rate_hz: float) -> FloatArray:
    """Angle kernel (unit peak angular rate, in deg per deg/s) of the soft-tissue wobble of a sensor after an IC.

    A damped oscillation of the angle itself with a smooth onset: it starts and ends at zero, so the sensor returns
    to the bone's orientation; its rate is continuous.
    """
    t = np.arange(0.0, transient.duration_s, 1.0 / fine_rate_hz)
    angle = (
        np.sin(2.0 * np.pi * transient.frequency_hz * t)
        * np.exp(-t / transient.decay_s)
        * (1.0 - np.exp(-t / transient.rise_s)) ** 2
    )
    return np.asarray(angle / (np.abs(np.diff(angle)).max() * fine_rate_hz), dtype=np.float64)


@dataclass(frozen=True)
class _Bout:
    """Step timing of one walking bout (consecutive walk/turn segments)."""

    start_s: float
    end_s: float
    ic_s: FloatArray  # all ICs in order
    ic_is_left: BoolArray
    fc_left_s: FloatArray
    fc_right_s: FloatArray
    stride_s: float  # nominal stride time at walking speed
    ramp_up_end_s: float
    ramp_down_start_s: float
    ramp_down_end_s: float


def _generate_bout(
    start_s: float,
    end_s: float,
    p: WalkerParams,
    cadence_at: Callable[[float], float],
    rng: np.random.Generator,
) -> _Bout:
    """Step timing of one bout: alternating ICs with random step-time variability, FCs from stance fractions."""
    stride_s = 120.0 / p.steady_cadence_spm
    if end_s - start_s < 2.0 * stride_s + 0.5:
        raise SimulatorError(
            f"schedule: expected walking bouts of at least {2.0 * stride_s + 0.5:.1f} s (two strides), got one "
            f"from {start_s:.2f} s to {end_s:.2f} s"
        )
    stance = {True: p.stance_fraction_left, False: p.stance_fraction_right}
    step_fraction = {True: p.step_time_ratio / (1.0 + p.step_time_ratio), False: 1.0 / (1.0 + p.step_time_ratio)}
    lead_is_left = bool(rng.random() < 0.5)
    first_toe_off_s = start_s + _FIRST_TOE_OFF_DELAY_S
    ic_s = [first_toe_off_s + (1.0 - stance[lead_is_left]) * 120.0 / cadence_at(first_toe_off_s)]
    ic_is_left = [lead_is_left]
    last_allowed_s = end_s - 0.25 * stride_s - 0.05
    while True:
        side = not ic_is_left[-1]
        step_s = step_fraction[side] * 120.0 / cadence_at(ic_s[-1])
        step_s *= 1.0 + p.step_time_cv * float(rng.standard_normal())
        nxt = ic_s[-1] + step_s
        if nxt > last_allowed_s:
            break
        ic_s.append(nxt)
        ic_is_left.append(side)
    ics = np.array(ic_s)
    is_left = np.array(ic_is_left, dtype=bool)
    fcs: dict[bool, FloatArray] = {}
    for side in (True, False):
        t_ic = ics[is_left == side]
        prev = np.empty_like(t_ic)
        prev[1:] = t_ic[:-1]
        if t_ic.size:
            prev[0] = t_ic[0] - 120.0 / cadence_at(float(t_ic[0]))
        fcs[side] = t_ic - (1.0 - stance[side]) * (t_ic - prev)
    ramp_s = min(stride_s, (end_s - start_s) / 3.0)
    ramp_down_end_s = min(float(ics[-1]) + 0.25 * stride_s, end_s)
    return _Bout(
        start_s=start_s,
        end_s=end_s,
        ic_s=ics,
        ic_is_left=is_left,
        fc_left_s=fcs[True],
        fc_right_s=fcs[False],
        stride_s=stride_s,
        ramp_up_end_s=start_s + ramp_s,
        ramp_down_start_s=max(ramp_down_end_s - ramp_s, start_s + ramp_s),
        ramp_down_end_s=ramp_down_end_s,
    )


def _phase_spline(times_s: FloatArray, period_s: float) -> CubicSpline:
    """C2 cumulative phase through ``(times_s[k], k)``, extended by two virtual periods at both ends."""
    n = times_s.size
    before = times_s[0] - period_s * np.array([2.0, 1.0])
    after = times_s[-1] + period_s * np.array([1.0, 2.0])
    knots_t = np.concatenate([before, times_s, after])
    knots_phase = np.arange(-2.0, n + 2.0)
    return CubicSpline(knots_t, knots_phase, bc_type="natural")


@dataclass(frozen=True)
class _GaitState:
    """Gait phases and envelopes on the fine grid."""

    envelope: FloatArray  # 0 standing … 1 steady walking
    step_phase: FloatArray  # cumulative, integer at every IC
    left_starts_step: BoolArray  # True while the current step started at a left IC
    stride_phase: FloatArray  # cumulative, integer at left IC, half-integer at right IC
    side_phase: FloatArray  # (2, n): cumulative per-side phase [left, right], integer at that side's IC


def _gait_state(t_s: FloatArray, bouts: Sequence[_Bout]) -> _GaitState:
    n = t_s.size
    envelope = np.zeros(n)
    step_phase = np.zeros(n)
    left_starts = np.zeros(n, dtype=bool)
    stride_phase = np.zeros(n)
    side_phase = np.zeros((2, n))
    for bout in bouts:
        sel = (t_s >= bout.start_s) & (t_s <= bout.end_s)
        t = t_s[sel]
        up = _smootherstep((t - bout.start_s) / (bout.ramp_up_end_s - bout.start_s))
        down = _smootherstep((t - bout.ramp_down_start_s) / (bout.ramp_down_end_s - bout.ramp_down_start_s))
        envelope[sel] = up * (1.0 - down)
        s = _phase_spline(bout.ic_s, 0.5 * bout.stride_s)(t)
        if np.any(np.diff(s) <= 0):  # pragma: no cover - guarded by the step-time limits
            raise SimulatorError("step_time_cv: step times vary too much for a monotonic gait phase")
        step_phase[sel] = s
        first_left = 0 if bout.ic_is_left[0] else 1
        k = np.floor(s).astype(np.int64)
        left_starts[sel] = (k - first_left) % 2 == 0
        stride_phase[sel] = (s - first_left) / 2.0
        for row, is_left in enumerate((True, False)):
            side_ics = bout.ic_s[bout.ic_is_left == is_left]
            side_phase[row, sel] = _phase_spline(side_ics, bout.stride_s)(t)
    return _GaitState(envelope, step_phase, left_starts, stride_phase, side_phase)


@dataclass(frozen=True)
class _Kinematics:
    """Positions (world, m) and orientations (segment to world) on the fine grid."""

    site_m: dict[str, FloatArray]  # placement -> (n, 3) sensor site
    orientation: dict[str, Rotation]  # placement -> segment (bone) orientation
    sensor_orientation: dict[str, Rotation]  # placement -> orientation of the skin under the sensor (+ wobble)
    pelvis_angles_deg: FloatArray  # (n, 3) tilt, obliquity, rotation
    hip_flexion_deg: FloatArray  # (2, n)
    hip_abduction_deg: FloatArray  # (2, n)
    heading_rad: FloatArray  # (n,)


def _kinematics(
    t_s: FloatArray,
    fine_rate_hz: float,
    p: WalkerParams,
    gait: _GaitState,
    bouts: Sequence[_Bout],
    speed_factor: FloatArray,
    heading_rad: FloatArray,
    sitting: FloatArray,
) -> _Kinematics:
    n = t_s.size
    env = gait.envelope
    two_pi = 2.0 * np.pi
    scale = p.height_m / _REFERENCE_HEIGHT_M
    sensor_height_m = p.sensor_height_resolved_m
    step_frac = gait.step_phase - np.floor(gait.step_phase)
    theta = gait.stride_phase

    # --- pelvis translation: speed, pendulum vertical excursion, lateral sway
    target_speed = p.speed_mps * speed_factor
    cadence = p.steady_cadence_spm * np.sqrt(speed_factor)
    speed = target_speed * env
    step_length = 60.0 * speed / cadence
    excursion = pendulum_excursion_m(
        step_length_m=step_length, sensor_height_m=sensor_height_m, pendulum_k=p.pendulum_k
    )
    # Inverted-pendulum energy exchange: ½(v_max² − v_min²) = g h  ⇒  Δv ≈ g h / v.
    speed_swing = np.minimum(GRAVITY_MPS2 * excursion / np.maximum(speed, 1e-6), _MAX_SPEED_OSCILLATION * speed)
    y_v = two_pi * (step_frac - _STEP_PHASE_FASTEST)
    forward_speed = speed + 0.5 * speed_swing * (np.cos(y_v) + _SPEED_SECOND_HARMONIC * np.cos(2.0 * y_v))
    y_z = two_pi * (step_frac - _STEP_PHASE_LOWEST)
    vertical = sensor_height_m - 0.5 * excursion * (1.0 + np.cos(y_z) + _VERTICAL_SECOND_HARMONIC * np.cos(2.0 * y_z))
    seated = bool(sitting.any())
    if seated:
        vertical = vertical - scale * _SIT_SACRUM_DROP_M * sitting
    y_l = two_pi * (theta - _STRIDE_PHASE_SWAY_LEFT)
    sway = env * _SWAY_AMPLITUDE_PER_HEIGHT * p.height_m * (np.cos(y_l) - np.cos(3.0 * y_l) / 27.0) / (1.0 - 1.0 / 27.0)
    cos_h, sin_h = np.cos(heading_rad), np.sin(heading_rad)
    dt = 1.0 / fine_rate_hz
    vx, vy = forward_speed * cos_h, forward_speed * sin_h
    x = np.concatenate([[0.0], np.cumsum(0.5 * (vx[1:] + vx[:-1])) * dt])
    y = np.concatenate([[0.0], np.cumsum(0.5 * (vy[1:] + vy[:-1])) * dt])
    pelvis = np.stack([x - sway * sin_h, y + sway * cos_h, vertical], axis=-1)

    # --- foot-contact transients (sacrum: vertical, braking, medial; thigh of the contact side: vertical)
    impulses = np.zeros((2, n))  # per side [left, right]: IC impulses weighted by envelope and speed
    for bout in bouts:
        idx = np.clip(np.rint((bout.ic_s - t_s[0]) * fine_rate_hz).astype(np.int64), 0, n - 1)
        weight = p.contact_transient_scale * env[idx] * np.sqrt(target_speed[idx] / _TRANSIENT_REFERENCE_SPEED_MPS)
        np.add.at(impulses, (np.where(bout.ic_is_left, 0, 1), idx), weight)
    thigh_wobble_m = np.zeros((2, n))
    thigh_wobble_deg = np.zeros((2, n))  # soft-tissue rotation of each thigh sensor about the thigh ML axis
    pelvis_wobble_deg = np.zeros((n, 2))  # rotation of the sacral sensor about the pelvis AP (roll), ML (pitch) axes
    for transient in _TRANSIENTS:
        kernel = _transient_kernel(transient, fine_rate_hz)
        wobble = signal.fftconvolve(impulses, kernel[None, :], mode="full", axes=-1)[:, :n]
        both = wobble.sum(axis=0)
        toward_left = wobble[1] - wobble[0]  # medial: to the right after a left IC, to the left after a right IC
        along = -transient.braking_mps2 * both
        across = transient.medial_mps2 * toward_left
        pelvis[:, 0] += along * cos_h - across * sin_h
        pelvis[:, 1] += along * sin_h + across * cos_h
        pelvis[:, 2] += transient.vertical_mps2 * both
        thigh_wobble_m += transient.thigh_vertical_mps2 * wobble
        turn = signal.fftconvolve(impulses, _wobble_kernel(transient, fine_rate_hz)[None, :], axes=-1)[:, :n]
        thigh_wobble_deg += transient.thigh_sagittal_dps * turn
        pelvis_wobble_deg[:, 0] -= transient.pelvis_roll_dps * (turn[1] - turn[0])
        pelvis_wobble_deg[:, 1] += transient.pelvis_pitch_dps * turn.sum(axis=0)

    # --- pelvis orientation: heading, rotation, obliquity, tilt (Baker 2001 order)
    tilt = env * (p.mean_tilt_deg + p.tilt_amplitude_deg * np.cos(two_pi * (step_frac - _STEP_PHASE_ANTERIOR_TILT)))
    if seated:
        tilt = tilt + _SIT_PELVIS_TILT_DEG * sitting
    y_o = two_pi * (theta - _STRIDE_PHASE_LEFT_UP)
    obliquity_shape = (np.cos(y_o) + _OBLIQUITY_THIRD_HARMONIC * np.cos(3.0 * y_o)) / (1.0 + _OBLIQUITY_THIRD_HARMONIC)
    # Trendelenburg drop: a smooth bump over the step during which that side bears weight (its IC to the opposite
    # IC), peaking at 30 % of the step (end of loading response, where the contralateral drop normally peaks), so
    # the peak drop grows by ≈ pelvic_drop_*_deg. Beta-shaped σ³(1 − σ)⁷: C2 at both ends.
    bump = step_frac**3 * (1.0 - step_frac) ** 7 / (0.3**3 * 0.7**7)
    drop = bump * np.where(gait.left_starts_step, p.pelvic_drop_left_deg, -p.pelvic_drop_right_deg)
    obliquity = env * (p.obliquity_amplitude_deg * obliquity_shape + drop)
    rotation = -env * p.rotation_amplitude_deg * np.cos(two_pi * (theta - _STRIDE_PHASE_LEFT_BACK))
    pelvis_rot = Rotation.from_euler(
        "ZXY", np.stack([np.degrees(heading_rad) + rotation, obliquity, tilt], axis=-1), degrees=True
    )

    # --- hips and thighs
    hip_flex = np.zeros((2, n))
    hip_abd = np.zeros((2, n))
    sites: dict[str, FloatArray] = {PELVIS: pelvis}
    orientations: dict[str, Rotation] = {PELVIS: pelvis_rot}
    sensor_orientations: dict[str, Rotation] = {
        PELVIS: pelvis_rot * Rotation.from_euler("XY", pelvis_wobble_deg, degrees=True)
    }
    for row, (name, ml_sign, stance, ext, flex) in enumerate(
        (
            (LEFT_THIGH, 1.0, p.stance_fraction_left, p.hip_peak_extension_left_deg, p.hip_peak_flexion_left_deg),
            (
                RIGHT_THIGH,
                -1.0,
                p.stance_fraction_right,
                p.hip_peak_extension_right_deg,
                p.hip_peak_flexion_right_deg,
            ),
        )
    ):
        u = _phase_warp(stance)(gait.side_phase[row])
        hip_flex[row] = env * (-ext + (flex + ext) * _hip_template(u))
        if seated:
            hip_flex[row] += _SIT_HIP_FLEXION_DEG * sitting
        hip_abd[row] = env * p.hip_abduction_amplitude_deg * np.cos(two_pi * (u - _HIP_ABDUCTION_PEAK_PHASE))
        hip_rot = Rotation.from_euler("YX", np.stack([-hip_flex[row], ml_sign * hip_abd[row]], axis=-1), degrees=True)
        thigh_rot = pelvis_rot * hip_rot
        hip_offset = scale * np.array(_HIP_FROM_SACRUM_M) * np.array([1.0, ml_sign, 1.0])
        sensor_offset = scale * np.array(_THIGH_SENSOR_FROM_HIP_M) * np.array([1.0, ml_sign, 1.0])
        site = pelvis + pelvis_rot.apply(hip_offset) + thigh_rot.apply(sensor_offset)
        site[:, 2] += thigh_wobble_m[row]
        sites[name] = site
        orientations[name] = thigh_rot
        sensor_orientations[name] = thigh_rot * Rotation.from_euler("Y", thigh_wobble_deg[row][:, None], degrees=True)
    return _Kinematics(
        site_m=sites,
        orientation=orientations,
        sensor_orientation=sensor_orientations,
        pelvis_angles_deg=np.stack([tilt, obliquity, rotation], axis=-1),
        hip_flexion_deg=hip_flex,
        hip_abduction_deg=hip_abd,
        heading_rad=heading_rad,
    )


def _thigh_inclination_deg(thigh: Rotation, heading_rad: FloatArray) -> FloatArray:
    """Thigh long axis against the vertical in the heading-vertical plane, knee forward positive, in degrees."""
    proximal = thigh.apply(np.array([0.0, 0.0, 1.0]))  # long axis pointing to the hip
    forward = proximal[:, 0] * np.cos(heading_rad) + proximal[:, 1] * np.sin(heading_rad)
    return np.asarray(np.degrees(np.arctan2(-forward, proximal[:, 2])), dtype=np.float64)


@dataclass(frozen=True)
class _Profiles:
    """What the schedule prescribes on a time grid."""

    speed_factor: FloatArray  # walking speed / params.speed_mps (turn dips and segment speed factors)
    heading_rad: FloatArray
    walking: BoolArray
    turning: BoolArray
    sitting: FloatArray  # sitting posture, 0 (standing) … 1 (seated)
    bouts: list[tuple[float, float]]  # (start, end) of each walking bout


def _sitting_profile(t_s: FloatArray, schedule: Sequence[Segment]) -> FloatArray:
    """Sitting posture (0 … 1): C2 transitions inside the first and last ``_SIT_TRANSITION_S`` of each sitting period.

    A period that touches the start or the end of the schedule has no transition there (the posture continues
    beyond it), so a long sitting period can be simulated in pieces.
    """
    posture = np.zeros_like(t_s)
    total = float(sum(seg.duration_s for seg in schedule))
    start = 0.0
    periods: list[list[float]] = []
    previous: Segment | None = None
    for seg in schedule:
        end = start + float(seg.duration_s)
        if seg.kind == "sit":
            if previous is not None and previous.kind == "sit":
                periods[-1][1] = end
            else:
                if previous is not None and not previous.still:
                    raise SimulatorError(f"schedule: expected standing between walking and sitting, at {start:.2f} s")
                periods.append([start, end])
        elif previous is not None and previous.kind == "sit" and not seg.still:
            raise SimulatorError(f"schedule: expected standing between sitting and walking, at {start:.2f} s")
        previous = seg
        start = end
    edge = 1e-9
    for a, b in periods:
        ramps = int(a > edge) + int(b < total - edge)
        if b - a < ramps * _SIT_TRANSITION_S:
            raise SimulatorError(
                f"schedule: expected a sitting period of at least {ramps * _SIT_TRANSITION_S:g} s (sitting down and "
                f"getting up take {_SIT_TRANSITION_S:g} s each), got {b - a:.2f} s at {a:.2f} s"
            )
        up = _smootherstep((t_s - a) / _SIT_TRANSITION_S) if a > edge else np.ones_like(t_s)
        down = _smootherstep((t_s - b) / _SIT_TRANSITION_S + 1.0) if b < total - edge else np.zeros_like(t_s)
        posture += up * (1.0 - down)
    return posture


def _schedule_profiles(t_s: FloatArray, schedule: Sequence[Segment]) -> _Profiles:
    """Speed factor, heading, walking and turning masks, sitting posture on a time grid, and the bouts."""
    speed_factor = np.ones_like(t_s)
    heading_rad = np.zeros_like(t_s)
    walking = np.zeros(t_s.shape, dtype=bool)
    turning = np.zeros(t_s.shape, dtype=bool)
    bouts: list[tuple[float, float]] = []
    segment_speed = np.ones_like(t_s)
    start = 0.0
    for seg in schedule:
        end = start + float(seg.duration_s)
        inside = (t_s >= start) & (t_s < end)
        if not seg.still and seg.speed_factor != 1.0:
            # One transition width for every segment, so the windows of consecutive segments add up to one.
            w = _TURN_TRANSITION_S
            window = _smootherstep((t_s - start) / w + 0.5) - _smootherstep((t_s - end) / w + 0.5)
            segment_speed += (seg.speed_factor - 1.0) * window
        if not seg.still:
            walking |= inside
            if bouts and abs(bouts[-1][1] - start) < 1e-9:
                bouts[-1] = (bouts[-1][0], end)
            else:
                bouts.append((start, end))
        if seg.kind == "turn":
            turning |= inside
            heading_rad += np.radians(seg.turn_deg) * _smootherstep((t_s - start) / (end - start))
            width = min(_TURN_TRANSITION_S, float(seg.duration_s))
            dip = _smootherstep((t_s - start) / width + 0.5) - _smootherstep((t_s - end) / width + 0.5)
            speed_factor -= (1.0 - _TURN_SPEED_FRACTION) * dip
        start = end
    if any(not seg.still and seg.speed_factor != 1.0 for seg in schedule):
        speed_factor = speed_factor * segment_speed
    return _Profiles(speed_factor, heading_rad, walking, turning, _sitting_profile(t_s, schedule), bouts)


def _resolve_mounting(
    placements: Sequence[str],
    mounting: Mapping[str, Rotation] | None,
    random_mounting: bool,
    rng: np.random.Generator,
) -> dict[str, Rotation]:
    if mounting is not None and random_mounting:
        raise SimulatorError("mounting/random_mounting: expected at most one of them, got both")
    defaults = default_mounting()
    if random_mounting:
        drawn = {name: Rotation.random(rng=rng) for name in PLACEMENTS}
        return {name: drawn[name] for name in placements}
    given = dict(mounting or {})
    unknown = sorted(set(given) - set(placements))
    if unknown:
        raise SimulatorError(f"mounting: expected keys among the placements {tuple(placements)}, got {unknown}")
    out: dict[str, Rotation] = {}
    for name in placements:
        rot = given.get(name, defaults[name])
        if not isinstance(rot, Rotation) or not rot.single:
            raise SimulatorError(f"mounting[{name!r}]: expected a single scipy Rotation, got {rot!r}")
        out[name] = rot
    return out


# ------------------------------------------------------------------------------------------------ simulation
def simulate_session(
    params: WalkerParams,
    *,
    schedule: Sequence[Segment] = DEFAULT_SCHEDULE,
    sampling_rate_hz: float = 100.0,
    placements: Sequence[str] = PLACEMENTS,
    mounting: Mapping[str, Rotation] | None = None,
    random_mounting: bool = False,
    seed: int = 0,
) -> SimulatedSession:
    """Simulate a recording of the pelvis and thigh IMUs of a walking subject, with its ground truth.

    Parameters
    ----------
    params : WalkerParams
        The subject and the sensor errors.
    schedule : sequence of Segment
        What the subject does, in order. Walking bouts (consecutive walk/turn segments) need at least two strides.
    sampling_rate_hz : float
        Output sampling rate in Hz (10 … 2000).
    placements : sequence of str
        Which sensors to produce, in this order; each one of ``"pelvis"``, ``"left_thigh"``, ``"right_thigh"``.
    mounting : Mapping[str, Rotation], optional
        Sensor-to-segment rotation per placement (``v_segment = R.apply(v_sensor)``); missing placements get
        :func:`default_mounting`.
    random_mounting : bool
        Draw a uniformly random mounting per placement instead (seeded). Exclusive with ``mounting``.
    seed : int
        Seed of every random choice (step times, leading foot, mounting, sensor errors); identical inputs give
        identical outputs.

    Returns
    -------
    SimulatedSession
        The :class:`~gait.recording.Recording` (``frame="sensor"``, shape (n_sensors, n_samples, 3) with
        ``n_samples = round(total duration · fs)``), the :class:`WalkerTruth` on the same grid, the parameters and
        the mounting used.

    Raises
    ------
    SimulatorError
        When an argument is out of range (the message names it).
    """
    if not isinstance(params, WalkerParams):
        raise SimulatorError(f"params: expected WalkerParams, got {type(params).__name__}")
    rate_hz = float(sampling_rate_hz)
    if not math.isfinite(rate_hz) or not 10.0 <= rate_hz <= 2000.0:
        raise SimulatorError(f"sampling_rate_hz: expected a rate between 10 and 2000 Hz, got {sampling_rate_hz!r}")
    segments = tuple(schedule)
    if not segments or not all(isinstance(s, Segment) for s in segments):
        raise SimulatorError(f"schedule: expected a non-empty sequence of Segment, got {schedule!r}")
    names = tuple(placements)
    if not names or len(set(names)) != len(names) or any(p not in PLACEMENTS for p in names):
        raise SimulatorError(f"placements: expected unique names among {PLACEMENTS}, got {names}")

    gait_rng, mount_rng, error_rng = np.random.default_rng(seed).spawn(3)
    mount = _resolve_mounting(names, mounting, random_mounting, mount_rng)

    # Fine grid: an integer multiple of the output rate, padded with standing on both sides.
    factor = max(1, math.ceil(_MIN_FINE_RATE_HZ / rate_hz))
    fine_rate_hz = rate_hz * factor
    total_s = float(sum(s.duration_s for s in segments))
    n_out = round(total_s * rate_hz)
    if n_out < 2:
        raise SimulatorError(f"schedule: expected at least two output samples, got a {total_s} s session")
    pad = round(_PAD_S * rate_hz) * factor
    n_fine = (n_out - 1) * factor + 1 + 2 * pad
    t_fine = (np.arange(n_fine) - pad) / fine_rate_hz

    profiles = _schedule_profiles(t_fine, segments)
    speed_factor, heading_rad = profiles.speed_factor, profiles.heading_rad
    walking_fine, turning_fine, bout_spans = profiles.walking, profiles.turning, profiles.bouts
    _check_segment_speeds(params, segments)
    cadence_fine = params.steady_cadence_spm * np.sqrt(speed_factor)

    def cadence_at(time_s: float) -> float:
        return float(np.interp(time_s, t_fine, cadence_fine))

    bouts = [_generate_bout(a, b, params, cadence_at, gait_rng) for a, b in bout_spans]
    gait = _gait_state(t_fine, bouts)
    kin = _kinematics(t_fine, fine_rate_hz, params, gait, bouts, speed_factor, heading_rad, profiles.sitting)

    # Sensor signals on the fine grid: specific force and angular rate in each sensor frame.
    dt = 1.0 / fine_rate_hz
    gravity_up = np.array([0.0, 0.0, GRAVITY_MPS2])  # a − g_vec with g_vec = (0, 0, −g)
    channels = np.empty((len(names), n_fine, 6))
    for i, name in enumerate(names):
        sensor_to_world = kin.sensor_orientation[name] * mount[name]
        acc_world = np.gradient(np.gradient(kin.site_m[name], dt, axis=0), dt, axis=0)
        channels[i, :, :3] = sensor_to_world.inv().apply(acc_world + gravity_up)
        channels[i, :, 3:] = body_angular_velocity_dps(sensor_to_world, fine_rate_hz)
    sos = signal.butter(4, _ANTI_ALIAS_FRACTION * rate_hz, btype="low", fs=fine_rate_hz, output="sos")
    channels = signal.sosfiltfilt(sos, channels, axis=-2)

    # Sample at the output times (nominal + jitter), then add the sensor errors.
    nominal_s = np.arange(n_out) / rate_hz
    jitter_s = params.timing_jitter_s * error_rng.standard_normal(n_out)
    sampled = sample_linear(channels, fine_rate_hz, nominal_s + jitter_s - t_fine[0], axis=-2)
    errors = SensorErrorModel.draw(params, len(names), rate_hz, error_rng)
    acc, gyr, _ = errors.apply(sampled[..., :3], sampled[..., 3:], error_rng)

    recording = Recording(
        acc_mps2=acc,
        gyr_dps=gyr,
        sampling_rate_hz=rate_hz,
        placements=names,
        frame="sensor",
        start_time_s=0.0,
        source=f"hardware.simulator (seed {seed})",
    )
    take = slice(pad, pad + (n_out - 1) * factor + 1, factor)
    truth = _truth(params, rate_hz, n_out, take, fine_rate_hz, bouts, kin, walking_fine[take], turning_fine[take])
    return SimulatedSession(recording=recording, truth=truth, params=params, mounting=MappingProxyType(mount))


def _check_segment_speeds(params: WalkerParams, schedule: Sequence[Segment]) -> None:
    """Every walking segment's speed must be a walking speed the pendulum model can make."""
    for seg in schedule:
        if seg.still or seg.speed_factor == 1.0:
            continue
        speed = params.speed_mps * seg.speed_factor
        step_length = params.steady_step_length_m * math.sqrt(seg.speed_factor)
        if not 0.2 <= speed <= 2.5 or step_length / (2.0 * params.pendulum_k) >= 0.8 * params.sensor_height_resolved_m:
            raise SimulatorError(
                f"speed_factor: {seg.speed_factor} gives {speed:.2f} m/s with {step_length:.2f} m steps, outside the "
                f"model's walking range (0.2–2.5 m/s, steps the {params.sensor_height_resolved_m:.2f} m pendulum "
                "can make)"
            )


@dataclass(frozen=True, eq=False)
class SensorErrorModel:
    """The errors of one set of sensors: constant scale and bias, plus white noise and a gyro bias random walk.

    Drawn once per recording (:meth:`draw`) and applied to the error-free signals, in one go or block by block
    (:meth:`apply` carries the random walk from one block to the next).

    Attributes
    ----------
    params : WalkerParams
        Noise densities and the drift intensity.
    sampling_rate_hz : float
    acc_scale, gyr_scale : ndarray, shape (n_sensors, 1, 3)
        1 + per-axis scale-factor error.
    acc_bias_mps2, gyr_bias_dps : ndarray, shape (n_sensors, 1, 3)
        Constant bias per axis.
    """

    params: WalkerParams
    sampling_rate_hz: float
    acc_scale: FloatArray
    gyr_scale: FloatArray
    acc_bias_mps2: FloatArray
    gyr_bias_dps: FloatArray

    @classmethod
    def draw(
        cls, params: WalkerParams, n_sensors: int, sampling_rate_hz: float, rng: np.random.Generator
    ) -> SensorErrorModel:
        """Draw the constant errors of ``n_sensors`` sensors from ``params`` (scale, then bias)."""
        shape = (n_sensors, 1, 3)
        acc_scale = 1.0 + params.scale_error * rng.standard_normal(shape)
        gyr_scale = 1.0 + params.scale_error * rng.standard_normal(shape)
        acc_bias = params.acc_bias_mps2 * rng.standard_normal(shape)
        gyr_bias = params.gyr_bias_dps * rng.standard_normal(shape)
        return cls(params, float(sampling_rate_hz), acc_scale, gyr_scale, acc_bias, gyr_bias)

    def apply(
        self,
        acc_mps2: FloatArray,
        gyr_dps: FloatArray,
        rng: np.random.Generator,
        drift_dps: FloatArray | None = None,
    ) -> tuple[FloatArray, FloatArray, FloatArray]:
        """Corrupt error-free signals of shape (n_sensors, n_samples, 3).

        Parameters
        ----------
        acc_mps2, gyr_dps : ndarray, shape (n_sensors, n_samples, 3)
        rng : numpy.random.Generator
            Source of the noise and of the random-walk increments.
        drift_dps : ndarray, shape (n_sensors, 3), optional
            Gyro bias drift at the end of the previous block (zero at the start of a recording).

        Returns
        -------
        acc_mps2, gyr_dps : ndarray, shape (n_sensors, n_samples, 3)
        drift_dps : ndarray, shape (n_sensors, 3)
            The drift at the last sample, for the next block.
        """
        p = self.params
        n_sensors, n_samples, _ = acc_mps2.shape
        drift_step = p.gyr_bias_drift_dps_per_sqrt_s * math.sqrt(1.0 / self.sampling_rate_hz)
        drift = np.cumsum(drift_step * rng.standard_normal((n_sensors, n_samples, 3)), axis=-2)
        if drift_dps is not None:
            drift = drift + drift_dps[:, None, :]
        acc_noise = p.acc_noise_mps2 * rng.standard_normal((n_sensors, n_samples, 3))
        gyr_noise = p.gyr_noise_dps * rng.standard_normal((n_sensors, n_samples, 3))
        acc = acc_mps2 * self.acc_scale + self.acc_bias_mps2 + acc_noise
        gyr = gyr_dps * self.gyr_scale + self.gyr_bias_dps + drift + gyr_noise
        if n_samples:
            end = drift[:, -1, :].copy()
        else:
            end = np.zeros((n_sensors, 3)) if drift_dps is None else np.array(drift_dps, dtype=np.float64)
        return acc, gyr, end


def _truth(
    p: WalkerParams,
    rate_hz: float,
    n_out: int,
    take: slice,
    fine_rate_hz: float,
    bouts: Sequence[_Bout],
    kin: _Kinematics,
    walking: BoolArray,
    turning: BoolArray,
) -> WalkerTruth:
    """Ground truth on the output grid; ``take`` selects the nominal output samples from the fine grid."""

    def events(times: list[FloatArray]) -> IntArray:
        t = np.sort(np.concatenate(times)) if times else np.zeros(0)
        idx = np.rint(t * rate_hz).astype(np.int64)
        return idx[(idx >= 0) & (idx < n_out)]

    # Forward speed of the sacral site along the heading, moving-averaged over one steady stride.
    velocity = np.gradient(kin.site_m[PELVIS], 1.0 / fine_rate_hz, axis=0)
    forward = velocity[:, 0] * np.cos(kin.heading_rad) + velocity[:, 1] * np.sin(kin.heading_rad)
    stride_s = 120.0 / p.steady_cadence_spm
    speed = uniform_filter1d(forward, size=max(1, round(stride_s * fine_rate_hz)), mode="nearest")
    inclination = np.stack(
        [_thigh_inclination_deg(kin.orientation[name], kin.heading_rad) for name in (LEFT_THIGH, RIGHT_THIGH)]
    )
    step_length_m = p.steady_step_length_m
    return WalkerTruth(
        ic_left_idx=events([b.ic_s[b.ic_is_left] for b in bouts]),
        ic_right_idx=events([b.ic_s[~b.ic_is_left] for b in bouts]),
        fc_left_idx=events([b.fc_left_s for b in bouts]),
        fc_right_idx=events([b.fc_right_s for b in bouts]),
        walking=walking,
        turning=turning,
        pelvis_angles_deg=kin.pelvis_angles_deg[take],
        hip_flexion_deg=kin.hip_flexion_deg[:, take],
        hip_abduction_deg=kin.hip_abduction_deg[:, take],
        thigh_inclination_deg=inclination[:, take],
        speed_mps=speed[take],
        heading_deg=np.degrees(kin.heading_rad[take]),
        step_length_m=step_length_m,
        stride_length_m=2.0 * step_length_m,
        cadence_spm=p.steady_cadence_spm,
        sensor_height_m=p.sensor_height_resolved_m,
        vertical_excursion_m=p.vertical_excursion_m,
        sampling_rate_hz=rate_hz,
    )
