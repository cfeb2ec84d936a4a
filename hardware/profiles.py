"""Device profiles: what a sensor streams, how to reach it over BLE, and how its numbers map onto a Recording.

A :class:`DeviceProfile` is a frozen description of one sensor model: its placements, its BLE GATT service and
characteristics, its output rates and full-scale ranges with their scales (counts → g or deg/s), the units of the data
it sends on the wire and writes in its exported files, and the rotation from the device's own axes to the *sensor
frame* of a :class:`~gait.recording.Recording` (``frame="sensor"``: right-handed, axes as mounted; the analysis finds
the body axes itself).

Two pure functions turn raw arrays into Recording units in the sensor frame::

    acc_mps2 = acc_to_mps2(profile, raw_acc, unit="counts", range_g=16.0)
    gyr_dps = gyr_to_dps(profile, raw_gyr, unit="counts", range_dps=2000.0)

Arrays follow the project layout ``(..., n_samples, 3)`` with x, y, z last (DESIGN.md §2, §5 rule 2).

Profiles in the registry (:func:`get_profile`):

* ``"fusiongait-reference"``: the project's own sensor (nRF52840 + LSM6DS3/BMI270 class IMU), speaking PROTOCOL.md;
* ``"mbientlab-metamotion"``: MbientLab MetaMotionR/RL/S (MetaWear firmware), from MbientLab's SDK sources;
* ``"movesense-md"``: Movesense MD / Sensor, from the Movesense device-library API and GSP documentation.

Each profile's ``sources`` says where every number came from and ``verified`` says what was *not* confirmed. None of
the profiles was checked against a real device here; see ``docs/devices.md``.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Final, Literal

import numpy as np
from numpy.typing import ArrayLike, NDArray

from gait.frames import GRAVITY_MPS2, check_right_handed
from gait.recording import KNOWN_PLACEMENTS, LEFT_THIGH, PELVIS, RIGHT_THIGH
from hardware.errors import ProfileError
from hardware.protocol import ACC_RANGES_G, GYR_RANGES_DPS, OUTPUT_RATES_HZ

__all__ = [
    "IDENTITY_AXES",
    "MBIENTLAB_METAMOTION",
    "MOVESENSE_MD",
    "PROFILES",
    "REFERENCE_IMU",
    "AccUnit",
    "CfgSettings",
    "CharacteristicRole",
    "DeviceProfile",
    "GattCharacteristic",
    "GattService",
    "GyrUnit",
    "OutputRate",
    "RangeScale",
    "acc_to_mps2",
    "get_profile",
    "gyr_to_dps",
    "to_sensor_frame",
]

#: Accelerometer data units: raw int16 counts (scale from the full-scale range), g, or m/s².
AccUnit = Literal["counts", "g", "mps2"]
#: Gyroscope data units: raw int16 counts (scale from the full-scale range), deg/s, or rad/s.
GyrUnit = Literal["counts", "dps", "rads"]
#: What a GATT characteristic is for.
CharacteristicRole = Literal["data_notify", "command_write", "response_notify"]

_ACC_UNITS: Final = ("counts", "g", "mps2")
_GYR_UNITS: Final = ("counts", "dps", "rads")

#: Axis matrix of a device whose own axes are the sensor frame (a signed permutation, here the identity).
IDENTITY_AXES: Final = ((1, 0, 0), (0, 1, 0), (0, 0, 1))

AxisMatrix = tuple[tuple[int, int, int], tuple[int, int, int], tuple[int, int, int]]


def _canonical_uuid(what: str, value: str) -> str:
    try:
        parsed = uuid.UUID(value)
    except (TypeError, ValueError, AttributeError):
        raise ProfileError(f"{what}: expected a 128-bit UUID string, got {value!r}") from None
    if str(parsed) != value:
        raise ProfileError(f"{what}: expected the canonical lower-case UUID form {str(parsed)!r}, got {value!r}")
    return value


@dataclass(frozen=True, slots=True)
class GattCharacteristic:
    """One BLE GATT characteristic of a device profile.

    Parameters
    ----------
    uuid : str
        128-bit UUID, canonical lower-case ``8-4-4-4-12`` form.
    role : {"data_notify", "command_write", "response_notify"}
        What the host does with it: subscribe for sensor data, write commands, or subscribe for command replies.
    description : str
        Payload and command format, in words, with the source.
    """

    uuid: str
    role: CharacteristicRole
    description: str

    def __post_init__(self) -> None:
        _canonical_uuid("GattCharacteristic.uuid", self.uuid)


@dataclass(frozen=True, slots=True)
class GattService:
    """A BLE GATT service and the characteristics the project uses in it.

    Parameters
    ----------
    uuid : str
        128-bit service UUID, canonical lower-case form.
    characteristics : tuple of GattCharacteristic
        The characteristics the bridge needs (not necessarily every one the device exposes).
    description : str
        What the service is, with the source.
    """

    uuid: str
    characteristics: tuple[GattCharacteristic, ...]
    description: str

    def __post_init__(self) -> None:
        _canonical_uuid("GattService.uuid", self.uuid)

    def characteristic(self, role: CharacteristicRole) -> GattCharacteristic:
        """Return the first characteristic with ``role``; :class:`ProfileError` if there is none."""
        for char in self.characteristics:
            if char.role == role:
                return char
        have = sorted({c.role for c in self.characteristics})
        raise ProfileError(f"service {self.uuid}: no characteristic with role {role!r}; it has {have}")


@dataclass(frozen=True, slots=True)
class RangeScale:
    """One selectable full-scale range of an accelerometer or gyroscope.

    Parameters
    ----------
    full_scale : float
        ± full scale, in g (accelerometer) or deg/s (gyroscope).
    counts_per_unit : float or None
        Raw int16 counts per g or per deg/s at this range; None when the device never exposes raw counts.
    code : int or None
        The device's own code for this range (the ``cfg`` field of PROTOCOL.md for the reference sensor, the SDK
        enum value for vendors); None when there is none.
    """

    full_scale: float
    counts_per_unit: float | None = None
    code: int | None = None

    def __post_init__(self) -> None:
        if not self.full_scale > 0:
            raise ProfileError(f"RangeScale.full_scale: expected > 0, got {self.full_scale!r}")
        if self.counts_per_unit is not None and not self.counts_per_unit > 0:
            raise ProfileError(f"RangeScale.counts_per_unit: expected > 0 or None, got {self.counts_per_unit!r}")


@dataclass(frozen=True, slots=True)
class OutputRate:
    """One selectable output data rate.

    Parameters
    ----------
    rate_hz : float
        Samples per second.
    code : int or None
        The device's own code for this rate (the ``cfg`` field for the reference sensor), None when there is none.
    """

    rate_hz: float
    code: int | None = None


@dataclass(frozen=True, slots=True)
class CfgSettings:
    """Rate and ranges decoded from a ``cfg`` byte (PROTOCOL.md §1) with :meth:`DeviceProfile.settings_from_cfg`."""

    rate_hz: float
    acc: RangeScale
    gyr: RangeScale


@dataclass(frozen=True, slots=True)
class DeviceProfile:
    """What one sensor model is, for the bridge and the readers.

    Parameters
    ----------
    name : str
        Registry key, lower-case with dashes (``"movesense-md"``).
    vendor, model : str
        Maker and model names as the maker writes them.
    streams : tuple of str
        What the device streams that the project uses (``"acc"``, ``"gyr"``), and anything else worth knowing.
    placements : tuple of str
        Placements the profile supports (names of :mod:`gait.recording`).
    gatt : tuple of GattService
        BLE services and characteristics (data notify, command write, ...).
    rates : tuple of OutputRate
        Output data rates usable for both accelerometer and gyroscope.
    acc_ranges : tuple of RangeScale
        Accelerometer ranges (g) and their count scales.
    gyr_ranges : tuple of RangeScale
        Gyroscope ranges (deg/s) and their count scales.
    axes : 3×3 tuple of int
        Signed permutation ``R`` with ``v_sensor = R @ v_device``: row i says which device axis (and sign) becomes
        sensor axis i. Must be a proper rotation (det +1), so the sensor frame stays right-handed.
    rest_pose : str
        A pose named in the vendor's documentation (e.g. lying flat, face up).
    rest_up_axis : int
        The device axis (0, 1, 2 for x, y, z) that reads +1 g (specific force, gravity reaction) in ``rest_pose``.
    wire_acc_unit, wire_gyr_unit : str
        Units of the data as it arrives over BLE.
    export_acc_unit, export_gyr_unit : str
        Units of the data in the vendor's exported files.
    export_format : str
        What the exported files look like.
    export_acc_columns, export_gyr_columns : tuple of str
        Column (or field) names of x, y, z in the exported files; empty when there is no such export.
    sources : tuple of str
        Where each number came from.
    verified : str
        What was and was not confirmed, and against what. Never a real device here.
    """

    name: str
    vendor: str
    model: str
    streams: tuple[str, ...]
    placements: tuple[str, ...]
    gatt: tuple[GattService, ...]
    rates: tuple[OutputRate, ...]
    acc_ranges: tuple[RangeScale, ...]
    gyr_ranges: tuple[RangeScale, ...]
    axes: AxisMatrix
    rest_pose: str
    rest_up_axis: int
    wire_acc_unit: AccUnit
    wire_gyr_unit: GyrUnit
    export_acc_unit: AccUnit
    export_gyr_unit: GyrUnit
    export_format: str
    export_acc_columns: tuple[str, ...]
    export_gyr_columns: tuple[str, ...]
    sources: tuple[str, ...]
    verified: str
    _axis_matrix: NDArray[np.float64] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        where = f"profile {self.name!r}"
        matrix = np.array(self.axes, dtype=np.float64)
        if matrix.shape != (3, 3) or not np.all(np.isin(matrix, (-1.0, 0.0, 1.0))):
            raise ProfileError(f"{where}: axes must be a 3×3 signed permutation of -1/0/1, got {self.axes!r}")
        if not check_right_handed(matrix):
            raise ProfileError(f"{where}: axes must be a proper rotation (orthonormal, det +1), got {self.axes!r}")
        matrix.setflags(write=False)
        object.__setattr__(self, "_axis_matrix", matrix)
        if self.rest_up_axis not in (0, 1, 2):
            raise ProfileError(f"{where}: rest_up_axis must be 0, 1 or 2, got {self.rest_up_axis!r}")
        unknown = [p for p in self.placements if p not in KNOWN_PLACEMENTS]
        if unknown or not self.placements:
            raise ProfileError(f"{where}: placements must be among {KNOWN_PLACEMENTS}, got {self.placements!r}")
        for label, unit, allowed in (
            ("wire_acc_unit", self.wire_acc_unit, _ACC_UNITS),
            ("export_acc_unit", self.export_acc_unit, _ACC_UNITS),
            ("wire_gyr_unit", self.wire_gyr_unit, _GYR_UNITS),
            ("export_gyr_unit", self.export_gyr_unit, _GYR_UNITS),
        ):
            if unit not in allowed:
                raise ProfileError(f"{where}: {label} must be one of {allowed}, got {unit!r}")
        if not self.rates or not self.acc_ranges or not self.gyr_ranges:
            raise ProfileError(f"{where}: rates, acc_ranges and gyr_ranges must not be empty")

    @property
    def axis_matrix(self) -> NDArray[np.float64]:
        """``R`` of ``v_sensor = R @ v_device`` as a read-only float array, shape (3, 3)."""
        return self._axis_matrix

    @property
    def rates_hz(self) -> tuple[float, ...]:
        """The output data rates, in Hz."""
        return tuple(r.rate_hz for r in self.rates)

    def acc_scale(self, range_g: float) -> RangeScale:
        """Return the accelerometer :class:`RangeScale` of ``range_g``; :class:`ProfileError` if not offered."""
        return _find_range(self, "accelerometer", self.acc_ranges, range_g, "g")

    def gyr_scale(self, range_dps: float) -> RangeScale:
        """Return the gyroscope :class:`RangeScale` of ``range_dps``; :class:`ProfileError` if not offered."""
        return _find_range(self, "gyroscope", self.gyr_ranges, range_dps, "dps")

    def settings_from_cfg(self, cfg: int) -> CfgSettings:
        """Decode a PROTOCOL.md ``cfg`` byte with this profile's code tables.

        Bits 0-2: output-rate code, bits 3-4: accelerometer range code, bits 5-7: gyroscope range code.

        Raises
        ------
        ProfileError
            If ``cfg`` is not a byte, a code is reserved, or the profile has no ``cfg`` codes (vendor profiles).
        """
        if not isinstance(cfg, int) or isinstance(cfg, bool) or not 0 <= cfg <= 0xFF:
            raise ProfileError(f"cfg: expected an int in 0..255, got {cfg!r}")
        rate_code, acc_code, gyr_code = cfg & 0x07, (cfg >> 3) & 0x03, (cfg >> 5) & 0x07
        rate = next((r for r in self.rates if r.code == rate_code), None)
        acc = next((r for r in self.acc_ranges if r.code == acc_code), None)
        gyr = next((r for r in self.gyr_ranges if r.code == gyr_code), None)
        if rate is None or acc is None or gyr is None:
            raise ProfileError(
                f"cfg 0x{cfg:02x} for profile {self.name!r}: rate code {rate_code}, acc range code {acc_code}, "
                f"gyro range code {gyr_code}; known rate codes {[r.code for r in self.rates]}, "
                f"acc codes {[r.code for r in self.acc_ranges]}, gyro codes {[r.code for r in self.gyr_ranges]}"
            )
        return CfgSettings(rate_hz=rate.rate_hz, acc=acc, gyr=gyr)


def _find_range(
    profile: DeviceProfile, what: str, ranges: tuple[RangeScale, ...], full_scale: float, unit: str
) -> RangeScale:
    for r in ranges:
        if r.full_scale == full_scale:
            return r
    offered = [r.full_scale for r in ranges]
    raise ProfileError(f"profile {profile.name!r}: no {what} range ±{full_scale!r} {unit}; it offers {offered}")


def _raw_xyz(name: str, raw: ArrayLike) -> NDArray[np.float64]:
    try:
        arr = np.asarray(raw, dtype=np.float64)
    except (TypeError, ValueError) as exc:
        raise ProfileError(f"{name}: expected a numeric array, got {type(raw).__name__} ({exc})") from None
    if arr.ndim < 2 or arr.shape[-1] != 3:
        raise ProfileError(f"{name}: expected shape (..., n_samples, 3), got {arr.shape}")
    return arr


def _check_unit(profile: DeviceProfile, name: str, unit: str, wire: str, export: str, allowed: tuple[str, ...]) -> None:
    if unit not in allowed:
        raise ProfileError(f"{name}: unit must be one of {allowed}, got {unit!r}")
    if unit not in (wire, export):
        raise ProfileError(
            f"{name}: profile {profile.name!r} provides {wire!r} on the wire and {export!r} in its exports, "
            f"not {unit!r}"
        )


def _rotate(profile: DeviceProfile, values: NDArray[np.float64]) -> NDArray[np.float64]:
    # v_sensor = R @ v_device on the last axis, for any leading shape.
    rotated: NDArray[np.float64] = np.einsum("ij,...j->...i", profile.axis_matrix, values)
    return rotated


def _convert(
    profile: DeviceProfile,
    name: str,
    raw: ArrayLike,
    unit: str,
    wire: str,
    export: str,
    allowed: tuple[str, ...],
    *,
    full_scale: float | None,
    range_arg: str,
    range_unit: str,
    find: Callable[[float], RangeScale],
    factors: Mapping[str, float],
) -> NDArray[np.float64]:
    """Scale ``raw`` by its unit (counts through the range's scale; ``factors["counts"]`` per count-unit) and rotate."""
    arr = _raw_xyz(name, raw)
    _check_unit(profile, name, unit, wire, export, allowed)
    factor = factors[unit]
    if unit == "counts":
        if full_scale is None:
            raise ProfileError(
                f"{name}: unit='counts' needs {range_arg} (the full-scale range the counts were taken at)"
            )
        scale = find(full_scale)
        if scale.counts_per_unit is None:
            raise ProfileError(f"{name}: profile {profile.name!r} has no count scale for ±{full_scale} {range_unit}")
        factor /= scale.counts_per_unit
    return _rotate(profile, arr * factor)


def acc_to_mps2(
    profile: DeviceProfile, raw: ArrayLike, *, unit: AccUnit, range_g: float | None = None
) -> NDArray[np.float64]:
    """Convert accelerometer data of ``profile`` to m/s² in the Recording's sensor frame.

    Parameters
    ----------
    profile : DeviceProfile
        The device the data came from.
    raw : array_like, shape (..., n_samples, 3)
        Device-axis x, y, z: int16 counts, g or m/s² as ``unit`` says.
    unit : {"counts", "g", "mps2"}
        Unit of ``raw``; must be the profile's wire or export unit.
    range_g : float, optional
        Full-scale range the counts were taken at (required for ``unit="counts"``, ignored otherwise).

    Returns
    -------
    ndarray of float64, shape (..., n_samples, 3)
        Specific force in m/s², sensor frame (``v_sensor = R @ v_device``). A new array; ``raw`` is not modified.

    Raises
    ------
    ProfileError
        Wrong shape, a unit the profile does not provide, or counts without a known range.
    """
    return _convert(
        profile,
        "acc",
        raw,
        unit,
        profile.wire_acc_unit,
        profile.export_acc_unit,
        _ACC_UNITS,
        full_scale=range_g,
        range_arg="range_g",
        range_unit="g",
        find=profile.acc_scale,
        factors={"counts": GRAVITY_MPS2, "g": GRAVITY_MPS2, "mps2": 1.0},
    )


def gyr_to_dps(
    profile: DeviceProfile, raw: ArrayLike, *, unit: GyrUnit, range_dps: float | None = None
) -> NDArray[np.float64]:
    """Convert gyroscope data of ``profile`` to deg/s in the Recording's sensor frame.

    Parameters
    ----------
    profile : DeviceProfile
        The device the data came from.
    raw : array_like, shape (..., n_samples, 3)
        Device-axis x, y, z: int16 counts, deg/s or rad/s as ``unit`` says.
    unit : {"counts", "dps", "rads"}
        Unit of ``raw``; must be the profile's wire or export unit.
    range_dps : float, optional
        Full-scale range the counts were taken at (required for ``unit="counts"``, ignored otherwise).

    Returns
    -------
    ndarray of float64, shape (..., n_samples, 3)
        Angular rate in deg/s, sensor frame. A new array; ``raw`` is not modified.

    Raises
    ------
    ProfileError
        Wrong shape, a unit the profile does not provide, or counts without a known range.
    """
    return _convert(
        profile,
        "gyr",
        raw,
        unit,
        profile.wire_gyr_unit,
        profile.export_gyr_unit,
        _GYR_UNITS,
        full_scale=range_dps,
        range_arg="range_dps",
        range_unit="dps",
        find=profile.gyr_scale,
        factors={"counts": 1.0, "rads": float(np.rad2deg(1.0)), "dps": 1.0},
    )


def to_sensor_frame(
    profile: DeviceProfile,
    acc_raw: ArrayLike,
    gyr_raw: ArrayLike,
    *,
    acc_unit: AccUnit,
    gyr_unit: GyrUnit,
    range_g: float | None = None,
    range_dps: float | None = None,
) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    """Convert both channels at once: ``(acc_mps2, gyr_dps)``, each shaped like its input ``(..., n_samples, 3)``.

    See :func:`acc_to_mps2` and :func:`gyr_to_dps` for the parameters; the two arrays need not have the same shape
    (vendor exports keep accelerometer and gyroscope in separate files with their own timestamps).
    """
    return (
        acc_to_mps2(profile, acc_raw, unit=acc_unit, range_g=range_g),
        gyr_to_dps(profile, gyr_raw, unit=gyr_unit, range_dps=range_dps),
    )


# ----------------------------------------------------------------------------------------------------------------------
# The project's reference sensor (PROTOCOL.md).
# UUIDs were generated for this project (random base 7cef____-e4a0-47b9-a273-d142b845b5f4, one 16-bit slot per
# attribute, like the Nordic UART service); they are not registered anywhere and must match the firmware's GATT table.
_REF_BASE: Final = "-e4a0-47b9-a273-d142b845b5f4"
_REF_SERVICE_UUID: Final = "7cef0001" + _REF_BASE
_REF_DATA_UUID: Final = "7cef0002" + _REF_BASE
_REF_COMMAND_UUID: Final = "7cef0003" + _REF_BASE

# cfg code tables come from the codec (hardware/protocol.py), the one place they are defined.
# One LSB = full_scale / 32768, so counts_per_unit = 32768 / full_scale (±16 g → 0.488 mg/LSB, ±2000 → 0.061 dps/LSB).
_REF_RATES: Final = tuple(OutputRate(rate_hz=hz, code=c) for c, hz in enumerate(OUTPUT_RATES_HZ))
_REF_ACC: Final = tuple(RangeScale(float(g), 32768.0 / g, c) for c, g in enumerate(ACC_RANGES_G))
_REF_GYR: Final = tuple(RangeScale(float(d), 32768.0 / d, c) for c, d in enumerate(GYR_RANGES_DPS))

REFERENCE_IMU: Final = DeviceProfile(
    name="fusiongait-reference",
    vendor="FusionGait",
    model="FusionGait reference IMU (nRF52840 + LSM6DS3/BMI270 class 6-axis IMU)",
    streams=("acc", "gyr", "sync_reply", "status", "marker"),
    placements=(PELVIS, LEFT_THIGH, RIGHT_THIGH),
    gatt=(
        GattService(
            uuid=_REF_SERVICE_UUID,
            description="FusionGait IMU service (project-defined UUID base, see hardware/profiles.py).",
            characteristics=(
                GattCharacteristic(
                    uuid=_REF_DATA_UUID,
                    role="data_notify",
                    description=(
                        "Notify. One PROTOCOL.md v1 packet per notification (IMU6 batch 0x11, sync reply 0x12, "
                        "status 0x13, marker 0x14); a packet is never split, n is lowered for small MTUs."
                    ),
                ),
                GattCharacteristic(
                    uuid=_REF_COMMAND_UUID,
                    role="command_write",
                    description=(
                        "Write. START = [0x01] (send after subscribing to the data characteristic), STOP = [0x02], "
                        "SYNC = [0x21][token u32 little-endian]; the device answers SYNC with a 0x12 packet."
                    ),
                ),
            ),
        ),
    ),
    rates=_REF_RATES,
    acc_ranges=_REF_ACC,
    gyr_ranges=_REF_GYR,
    axes=IDENTITY_AXES,
    rest_pose="lying flat on a table, top of the enclosure (the side with the axis print) up",
    rest_up_axis=2,
    wire_acc_unit="counts",
    wire_gyr_unit="counts",
    export_acc_unit="counts",
    export_gyr_unit="counts",
    export_format=(
        "The .imucap capture file (PROTOCOL.md §5) keeps the raw packets, so exports are counts with cfg per packet; "
        "the generic CSV of DESIGN.md §4 is written after conversion (acc_x_mps2, gyr_x_dps, ...)."
    ),
    export_acc_columns=(),
    export_gyr_columns=(),
    sources=(
        "PROTOCOL.md §1 (packet, cfg bit fields, START/STOP/SYNC) and the lead's hardware/protocol.py cfg code tables.",
        "Scales: LSB = full_scale/32768 as agreed for the codec. This matches the accelerometers (LSM6DS3: 0.488 "
        "mg/LSB at ±16 g) and the Bosch gyros (16.4 LSB/dps at ±2000, 0.1 % off), but NOT the LSM6DS3 gyro: 70 "
        "mdps/LSB at ±2000 dps (STMicroelectronics/STMems_Standard_C_drivers, lsm6ds3_from_fs2000dps_to_mdps), "
        "14.7 % more than 2000/32768, and its ranges are 125/245/500/1000/2000 dps. Firmware on an LSM6DS3 must "
        "rescale to full_scale/32768 before packing.",
        "Axes: the firmware reports the IMU chip's axes unchanged and the enclosure is printed with them (project "
        "design decision; the board layer is not built yet).",
    ),
    verified=(
        "Not checked against hardware: the board layer of the firmware does not exist yet. GATT UUIDs are the "
        "project's own and must be kept equal to the firmware's table. The count scale full_scale/32768 is the "
        "protocol's definition; it equals the chip's own sensitivity only for Bosch gyros and for the "
        "accelerometers (see sources for the LSM6DS3 gyro), and real sensitivities carry a few percent of "
        "tolerance: calibrate per device."
    ),
)


# ----------------------------------------------------------------------------------------------------------------------
# MbientLab MetaMotionR / RL / S (MetaWear firmware). Sources are MbientLab's own SDKs (see `sources`).
_MW_SERVICE_UUID: Final = "326a9000-85cb-9195-d9dd-464cfbbae75a"
_MW_COMMAND_UUID: Final = "326a9001-85cb-9195-d9dd-464cfbbae75a"
_MW_NOTIFY_UUID: Final = "326a9006-85cb-9195-d9dd-464cfbbae75a"

# Accelerometer counts per g (BMI160_FSR_SCALE / BMI270_FSR_SCALE in accelerometer_bosch.cpp): exactly 32768/range.
# Gyroscope counts per deg/s (FSR_SCALE in gyro_bosch.cpp / gyro_bmi160.cpp): the datasheet nominal 16.4 LSB/dps at
# ±2000 dps (not 32768/2000 = 16.384), doubling per halving of the range. Codes are the SDK enum values
# (MblMwAccBoschRange: 2G=0 .. 16G=3; MblMwGyroBoschRange: 2000dps=0 .. 125dps=4).
_MW_ACC: Final = (
    RangeScale(2.0, 16384.0, 0),
    RangeScale(4.0, 8192.0, 1),
    RangeScale(8.0, 4096.0, 2),
    RangeScale(16.0, 2048.0, 3),
)
_MW_GYR: Final = (
    RangeScale(125.0, 262.4, 4),
    RangeScale(250.0, 131.2, 3),
    RangeScale(500.0, 65.6, 2),
    RangeScale(1000.0, 32.8, 1),
    RangeScale(2000.0, 16.4, 0),
)

MBIENTLAB_METAMOTION: Final = DeviceProfile(
    name="mbientlab-metamotion",
    vendor="MbientLab",
    model="MetaMotionR / MetaMotionRL (BMI160) and MetaMotionS (BMI270), MetaWear firmware",
    streams=("acc", "gyr", "mag", "sensor_fusion"),
    placements=(PELVIS, LEFT_THIGH, RIGHT_THIGH),
    gatt=(
        GattService(
            uuid=_MW_SERVICE_UUID,
            description="MetaWear service (CBUUID.metaWearService in MbientLab's Swift SDK).",
            characteristics=(
                GattCharacteristic(
                    uuid=_MW_NOTIFY_UUID,
                    role="data_notify",
                    description=(
                        "Notify (metaWearNotification). MetaWear module/register-prefixed responses; accelerometer "
                        "and gyro samples are int16 counts at the configured range (decoded by libmetawear)."
                    ),
                ),
                GattCharacteristic(
                    uuid=_MW_COMMAND_UUID,
                    role="command_write",
                    description=(
                        "Write (metaWearCommand). MetaWear module/register commands built by libmetawear "
                        "(mbl_mw_acc_*, mbl_mw_gyro_bmi160_*); the command bytes are not reproduced here."
                    ),
                ),
            ),
        ),
    ),
    # Rates both the BMI160/BMI270 accelerometer and gyroscope offer (SDK ODR enums). MbientLab's Swift SDK marks
    # 200 Hz and above "too fast to stream by Bluetooth Low Energy" (log on the device and download instead).
    rates=tuple(OutputRate(hz) for hz in (25.0, 50.0, 100.0, 200.0, 400.0, 800.0)),
    acc_ranges=_MW_ACC,
    gyr_ranges=_MW_GYR,
    axes=IDENTITY_AXES,
    rest_pose="lying flat, label up (MbientLab forum: x to the right, y away from the viewer, z up)",
    rest_up_axis=2,
    wire_acc_unit="counts",
    wire_gyr_unit="counts",
    export_acc_unit="g",
    export_gyr_unit="dps",
    export_format=(
        "MetaBase CSV, one file per sensor (…_Accelerometer.csv, …_Gyroscope.csv), each with its own timestamps: "
        "'epoch (ms)', 'time (<UTC offset>)', 'elapsed (s)', then the three axes. Some versions write 'epoc (ms)'; "
        "MetaBase 5 (Swift Combine SDK, MWDataConvertible.swift) writes 'Epoch', 'X', 'Y', 'Z' in the same units."
    ),
    export_acc_columns=("x-axis (g)", "y-axis (g)", "z-axis (g)"),
    export_gyr_columns=("x-axis (deg/s)", "y-axis (deg/s)", "z-axis (deg/s)"),
    sources=(
        "UUIDs: mbientlab/MetaWear-Swift-Combine-SDK, Sources/MetaWear/Cpp Bridging/CBUUID.swift (metaWearService "
        "326A9000-…, metaWearCommand 326A9001-…, metaWearNotification 326A9006-…); the same values as "
        "METAWEAR_SERVICE_NOTIFY_CHAR / METAWEAR_COMMAND_CHAR in mbientlab/MetaWear-SDK-Cpp.",
        "Accelerometer ranges and counts/g: mbientlab/MetaWear-SDK-Cpp src/metawear/sensor/accelerometer_bosch.h "
        "(MblMwAccBoschRange) and src/metawear/sensor/cpp/accelerometer_bosch.cpp (BMI160_FSR_SCALE, "
        "BMI270_FSR_SCALE = 16384/8192/4096/2048).",
        "Gyroscope ranges and counts/dps: mbientlab/MetaWear-SDK-Cpp src/metawear/sensor/gyro_bosch.h "
        "(MblMwGyroBoschRange, BMI160 and BMI270 on MMR/MMS) and FSR_SCALE = {16.4, 32.8, 65.6, 131.2, 262.4}.",
        "Rates: MblMwAccBmi160Odr, MblMwGyroBoschOdr (25..3200 Hz) in the same headers; streaming limit from "
        "MetaWear-Swift-Combine-SDK Sources/MetaWear/Cpp Bridging/Modules/Accelerometer.swift (SampleFrequency).",
        "Units: MbientLab C# SDK docs, Acceleration class ('values are represented in g's'); gyro docs (rotation "
        "rate 'in units of degrees per second').",
        "MetaBase CSV headers: not in MbientLab's published source; taken from the many third-party readers of "
        "MetaBase files (e.g. 'epoch (ms),time (-13:00),elapsed (s),x-axis (g),y-axis (g),z-axis (g)').",
        "Axes and rest pose: MbientLab community forum (mbientlab.com/community/discussion/comment/4761), a "
        "user's description of the default axes of a flat MetaMotionC, consistent with the Bosch BMI160 datasheet "
        "(+1 g on z when the chip lies face up). The SDK does not remap the chip's axes.",
    ),
    verified=(
        "UUIDs, range enums and count scales were read from MbientLab's own SDK source, not from a device. The "
        "MetaBase CSV column names come from third-party readers and the axis directions from a forum post; neither "
        "was confirmed with a real MetaMotion or a MetaBase export here. The gyro scale (16.4 LSB/dps at ±2000) is "
        "the SDK's, 0.1 % off full_scale/32768."
    ),
)


# ----------------------------------------------------------------------------------------------------------------------
# Movesense MD / Sensor (Movesense device library, GATT SensorData Protocol).
_MS_GSP_SERVICE_UUID: Final = "34802252-7185-4d5d-b431-630e7050e8f0"
_MS_GSP_WRITE_UUID: Final = "34800001-7185-4d5d-b431-630e7050e8f0"
_MS_GSP_NOTIFY_UUID: Final = "34800002-7185-4d5d-b431-630e7050e8f0"

MOVESENSE_MD: Final = DeviceProfile(
    name="movesense-md",
    vendor="Movesense",
    model="Movesense MD / Movesense Sensor (Meas/IMU6 over the GATT SensorData Protocol)",
    streams=("acc", "gyr", "mag", "ecg", "hr", "temp"),
    placements=(PELVIS, LEFT_THIGH, RIGHT_THIGH),
    gatt=(
        GattService(
            uuid=_MS_GSP_SERVICE_UUID,
            description=(
                "GATT SensorData Protocol (GSP) service; needs sensor firmware that includes GSP (the "
                "gatt_sensordata_app sample of movesense-device-lib)."
            ),
            characteristics=(
                GattCharacteristic(
                    uuid=_MS_GSP_WRITE_UUID,
                    role="command_write",
                    description=(
                        "Write. GSP commands (HELLO, SUBSCRIBE/UNSUBSCRIBE a Whiteboard resource such as "
                        "/Meas/IMU6/104) tagged with a client-chosen 8-bit reference code."
                    ),
                ),
                GattCharacteristic(
                    uuid=_MS_GSP_NOTIFY_UUID,
                    role="data_notify",
                    description=(
                        "Notify. Command responses and subscription data carrying the reference code; IMU6 data "
                        "are float32 x, y, z in m/s² (ArrayAcc) and deg/s (ArrayGyro). Delivery is not guaranteed."
                    ),
                ),
            ),
        ),
    ),
    rates=tuple(OutputRate(hz) for hz in (13.0, 26.0, 52.0, 104.0, 208.0, 416.0, 833.0, 1666.0)),
    acc_ranges=tuple(RangeScale(g) for g in (2.0, 4.0, 8.0, 16.0)),
    gyr_ranges=tuple(RangeScale(d) for d in (245.0, 500.0, 1000.0, 2000.0)),
    axes=IDENTITY_AXES,
    rest_pose="lying flat, logo side up (assumed; no axis drawing was found in the sources)",
    rest_up_axis=2,
    wire_acc_unit="mps2",
    wire_gyr_unit="dps",
    export_acc_unit="mps2",
    export_gyr_unit="dps",
    export_format=(
        "Whiteboard IMU6Data as JSON ({'Timestamp': ms, 'ArrayAcc': [{'x','y','z'}, ...], 'ArrayGyro': [...]}), "
        "the form the Movesense mobile library (MDS) delivers; app CSV exports vary and were not checked."
    ),
    export_acc_columns=("ArrayAcc.x", "ArrayAcc.y", "ArrayAcc.z"),
    export_gyr_columns=("ArrayGyro.x", "ArrayGyro.y", "ArrayGyro.z"),
    sources=(
        "GSP UUIDs: movesense.com/docs/esw/gatt_sensordata_protocol (revised from Movesense document GD-77 "
        "'GATT SensorData Protocol specification' v1.0): service 34802252-…, write 34800001-…, notify 34800002-….",
        "Resources and units: movesense-device-lib MovesenseCoreLib/resources/movesense-api/meas/imu.yaml, acc.yaml, "
        "gyro.yaml (IMU6Data: ArrayAcc x-unit m/s^2, ArrayGyro x-unit dps; AccConfig.GRange in g; "
        "GyroConfig.DPSRange in deg/s; sample rates and ranges are reported at run time by /Meas/IMU/Info).",
        "Rates and ranges: a /Meas/IMU/Info response logged in a third-party Android app (MoveSenseLog.java, "
        "package com.dippa2.movesenseLog): SampleRates [13, 26, 52, 104, 208, 416, 833, 1666], AccRanges "
        "[2, 4, 8, 16], GyroRanges [245, 500, 1000, 2000].",
    ),
    verified=(
        "UUIDs and units are from Movesense's published protocol and API definitions. Rates and ranges come from one "
        "third-party log of /Meas/IMU/Info, not from Movesense documentation; query /Meas/IMU/Info on the device. "
        "The axis directions relative to the enclosure and the sign convention at rest (+9.81 m/s² up) were NOT "
        "found in the sources: the identity mapping and rest_up_axis=z are assumptions to check on a device. Raw "
        "counts are never exposed, so there are no count scales."
    ),
)


_ALL: Final = (REFERENCE_IMU, MBIENTLAB_METAMOTION, MOVESENSE_MD)

#: Registry of known profiles by name (read-only).
PROFILES: Final[Mapping[str, DeviceProfile]] = MappingProxyType({p.name: p for p in _ALL})


def get_profile(name: str) -> DeviceProfile:
    """Return the registered profile called ``name`` (case-insensitive).

    Raises
    ------
    ProfileError
        If no profile has that name; the message lists the known names.
    """
    key = name.strip().lower() if isinstance(name, str) else name
    try:
        return PROFILES[key]
    except (KeyError, TypeError):
        raise ProfileError(f"unknown device profile {name!r}; known profiles: {', '.join(sorted(PROFILES))}") from None
