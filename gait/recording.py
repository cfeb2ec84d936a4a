"""The core data type: time-aligned IMU data of one or more sensors (DESIGN.md §2).

A :class:`Recording` holds accelerometer and gyroscope samples of ``n_sensors`` sensors on one uniform time base:

* ``acc_mps2`` and ``gyr_dps``: float64 arrays of shape ``(n_sensors, n_samples, 3)``;
* ``valid``: bool array ``(n_sensors, n_samples)``, False where a sample was lost (a gap). Gap samples hold NaN: they
  are never silently interpolated inside the Recording; the analysis decides how to treat them;
* ``placements``: one name per sensor (``"pelvis"``, ``"left_thigh"``, ``"right_thigh"``, ...);
* ``frame``: ``"sensor"`` (axes as mounted) or ``"body"`` (ap, ml, si of :mod:`gait.frames`).

The constructor validates once (DESIGN.md §5 rule 5) and freezes the arrays (read-only views of private copies).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Final, Literal

import numpy as np
from numpy.typing import ArrayLike, NDArray

from gait.errors import RecordingError

__all__ = ["KNOWN_PLACEMENTS", "PELVIS", "Recording"]

PELVIS: Final = "pelvis"
LEFT_THIGH: Final = "left_thigh"
RIGHT_THIGH: Final = "right_thigh"
#: Placements the analysis knows what to do with. Other names are carried along untouched.
KNOWN_PLACEMENTS: Final = (PELVIS, LEFT_THIGH, RIGHT_THIGH)

Frame = Literal["sensor", "body"]

# Plausibility limits for the boundary check: far beyond any IMU range used on a walking person.
_MAX_ABS_ACC_MPS2: Final = 16 * 9.80665 * 4
_MAX_ABS_GYR_DPS: Final = 2000.0 * 4


def _frozen_float(name: str, value: ArrayLike) -> NDArray[np.float64]:
    try:
        arr = np.array(value, dtype=np.float64, copy=True)
    except (TypeError, ValueError) as exc:
        raise RecordingError(f"{name}: expected a numeric array, got {type(value).__name__} ({exc})") from None
    arr.setflags(write=False)
    return arr


@dataclass(frozen=True, eq=False, slots=True)
class Recording:
    """IMU samples of several sensors on one uniform time base.

    Parameters
    ----------
    acc_mps2 : array_like, shape (n_sensors, n_samples, 3)
        Specific force in m/s² (gravity included: about +9.81 m/s² along "up" when still).
    gyr_dps : array_like, shape (n_sensors, n_samples, 3)
        Angular rate in deg/s.
    sampling_rate_hz : float
        Sampling rate of the common time base, in Hz.
    placements : sequence of str
        One unique, non-empty name per sensor.
    valid : array_like of bool, shape (n_sensors, n_samples), optional
        False for lost samples. Default: every sample whose six channels are finite.
    frame : {"sensor", "body"}
        Axes of the last dimension.
    start_time_s : float
        Time of sample 0 in seconds (POSIX time when known, else 0).
    source : str
        Free text naming where the data came from (file names), for messages.

    Raises
    ------
    RecordingError
        When a shape, value or name is not as described above. The message names the argument.
    """

    acc_mps2: NDArray[np.float64]
    gyr_dps: NDArray[np.float64]
    sampling_rate_hz: float
    placements: tuple[str, ...]
    valid: NDArray[np.bool_] = field(default=None)  # type: ignore[arg-type]
    frame: Frame = "sensor"
    start_time_s: float = 0.0
    source: str = ""

    def __post_init__(self) -> None:
        acc = _frozen_float("acc_mps2", self.acc_mps2)
        gyr = _frozen_float("gyr_dps", self.gyr_dps)
        if acc.ndim != 3 or acc.shape[-1] != 3:
            raise RecordingError(f"acc_mps2: expected shape (n_sensors, n_samples, 3), got {acc.shape}")
        if gyr.shape != acc.shape:
            raise RecordingError(f"gyr_dps: expected the shape of acc_mps2 {acc.shape}, got {gyr.shape}")
        n_sensors, n_samples, _ = acc.shape
        if n_sensors < 1 or n_samples < 1:
            raise RecordingError(f"acc_mps2: expected at least one sensor and one sample, got shape {acc.shape}")

        placements = tuple(self.placements)
        if len(placements) != n_sensors:
            raise RecordingError(
                f"placements: expected {n_sensors} names (one per sensor), got {len(placements)}: {placements}"
            )
        if any(not isinstance(p, str) or not p.strip() for p in placements):
            raise RecordingError(f"placements: expected non-empty strings, got {placements}")
        if len(set(placements)) != len(placements):
            raise RecordingError(f"placements: expected unique names, got {placements}")

        rate = float(self.sampling_rate_hz)
        if not np.isfinite(rate) or rate <= 0:
            raise RecordingError(f"sampling_rate_hz: expected a positive finite rate, got {self.sampling_rate_hz}")
        if self.frame not in ("sensor", "body"):
            raise RecordingError(f"frame: expected 'sensor' or 'body', got {self.frame!r}")
        start = float(self.start_time_s)
        if not np.isfinite(start):
            raise RecordingError(f"start_time_s: expected a finite time, got {self.start_time_s}")

        finite = np.isfinite(acc).all(axis=-1) & np.isfinite(gyr).all(axis=-1)
        if self.valid is None:
            valid = finite.copy()
        else:
            valid = np.array(self.valid, dtype=bool, copy=True)
            if valid.shape != (n_sensors, n_samples):
                raise RecordingError(f"valid: expected shape {(n_sensors, n_samples)}, got {valid.shape}")
            bad = valid & ~finite
            if bad.any():
                s, i = np.argwhere(bad)[0]
                raise RecordingError(
                    f"acc_mps2/gyr_dps: sample {i} of sensor {placements[s]!r} is marked valid but is not finite"
                )
        for name, arr, limit in (("acc_mps2", acc, _MAX_ABS_ACC_MPS2), ("gyr_dps", gyr, _MAX_ABS_GYR_DPS)):
            mag = np.where(valid[..., None], np.abs(arr), 0.0)
            if mag.size and mag.max() > limit:
                s, i, _ = np.unravel_index(int(np.argmax(mag)), mag.shape)
                raise RecordingError(
                    f"{name}: sample {i} of sensor {placements[s]!r} is {arr[s, i]} — beyond any plausible "
                    f"walking value (|x| ≤ {limit:g}); check the units"
                )
        valid.setflags(write=False)

        object.__setattr__(self, "acc_mps2", acc)
        object.__setattr__(self, "gyr_dps", gyr)
        object.__setattr__(self, "valid", valid)
        object.__setattr__(self, "placements", placements)
        object.__setattr__(self, "sampling_rate_hz", rate)
        object.__setattr__(self, "start_time_s", start)

    # ----------------------------------------------------------------- shape helpers
    @property
    def n_sensors(self) -> int:
        """Number of sensors."""
        return int(self.acc_mps2.shape[0])

    @property
    def n_samples(self) -> int:
        """Number of samples on the common time base."""
        return int(self.acc_mps2.shape[1])

    @property
    def duration_s(self) -> float:
        """Duration covered by the time base, in seconds."""
        return self.n_samples / self.sampling_rate_hz

    @property
    def time_s(self) -> NDArray[np.float64]:
        """Sample times relative to sample 0, shape (n_samples,), in seconds."""
        return np.arange(self.n_samples, dtype=np.float64) / self.sampling_rate_hz

    def has(self, placement: str) -> bool:
        """True when a sensor with this placement is present."""
        return placement in self.placements

    def index(self, placement: str) -> int:
        """Index of ``placement`` along the sensor axis.

        Raises
        ------
        RecordingError
            When there is no such sensor.
        """
        try:
            return self.placements.index(placement)
        except ValueError:
            raise RecordingError(
                f"placement: no sensor {placement!r} in this recording (has {', '.join(self.placements)})"
            ) from None

    def select(self, placements: Sequence[str]) -> Recording:
        """A new Recording with only the named sensors, in the given order."""
        idx = [self.index(p) for p in placements]
        return Recording(
            acc_mps2=self.acc_mps2[idx],
            gyr_dps=self.gyr_dps[idx],
            sampling_rate_hz=self.sampling_rate_hz,
            placements=tuple(placements),
            valid=self.valid[idx],
            frame=self.frame,
            start_time_s=self.start_time_s,
            source=self.source,
        )

    def slice(self, start_idx: int, stop_idx: int) -> Recording:
        """A new Recording with samples ``start_idx:stop_idx`` (start time shifted accordingly)."""
        start_idx, stop_idx, _ = slice(start_idx, stop_idx).indices(self.n_samples)
        if stop_idx <= start_idx:
            raise RecordingError(f"slice: empty sample range [{start_idx}, {stop_idx})")
        return Recording(
            acc_mps2=self.acc_mps2[:, start_idx:stop_idx],
            gyr_dps=self.gyr_dps[:, start_idx:stop_idx],
            sampling_rate_hz=self.sampling_rate_hz,
            placements=self.placements,
            valid=self.valid[:, start_idx:stop_idx],
            frame=self.frame,
            start_time_s=self.start_time_s + start_idx / self.sampling_rate_hz,
            source=self.source,
        )

    def gap_fraction(self) -> NDArray[np.float64]:
        """Fraction of lost samples per sensor, shape (n_sensors,)."""
        return np.asarray(1.0 - self.valid.mean(axis=-1), dtype=np.float64)

    def __repr__(self) -> str:
        return (
            f"Recording({self.n_sensors} sensors {list(self.placements)}, {self.n_samples} samples at "
            f"{self.sampling_rate_hz:g} Hz = {self.duration_s:.1f} s, frame={self.frame!r})"
        )
