"""APDM Opal / Mobility Lab HDF5 files (format version 5): reader, and the APDM-style writer of a Recording.

The layout read (docs/interop.md lists the sources it was checked against)::

    /                                   attribute FileFormatVersion (5)
    /Sensors/<id>/Accelerometer         (n, 3) specific force, m/s² (attribute Units, when present, says so)
    /Sensors/<id>/Gyroscope             (n, 3) angular rate, rad/s
    /Sensors/<id>/Time                  (n,) uint64, microseconds since 1970-01-01 UTC
    /Sensors/<id>/Configuration         attributes "Label 0" (the monitor's label: Lumbar, Sacrum, Left Upper Leg,
                                        Right Upper Leg, Left Foot, Sternum, ...) and "Sample Rate" (Hz)

Labels name the placements (Lumbar and Sacrum → pelvis, Left/Right Upper Leg → thighs); sensors with other labels
(feet, sternum, wrists) are left out with a warning unless the user maps them. The units are checked against physics
(:func:`firmware_bridge.readers.sensor_data.resolve_units`).

:func:`write_apdm_h5` writes a Recording in the same layout, so tools that read Mobility Lab files read it, plus a
``FusionGait`` group per sensor and root attributes that let :func:`read_apdm_h5` give back the very same Recording
(the gyroscope in deg/s bit for bit, the valid mask, the exact start time and rate): rad/s and back is not exact in
floating point.
"""

from __future__ import annotations

import json
import math
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Final

import numpy as np
from numpy.typing import NDArray

from firmware_bridge.errors import BridgeError, InputFileError
from firmware_bridge.readers.sensor_data import RawSensor, assemble, place_sensors
from gait.errors import RecordingError
from gait.recording import LEFT_THIGH, PELVIS, RIGHT_THIGH, Recording

__all__ = ["HDF5_SIGNATURE", "read_apdm_h5", "read_apdm_sensors", "write_apdm_h5"]

PathLike = str | os.PathLike[str]

HDF5_SIGNATURE: Final = b"\x89HDF\r\n\x1a\n"
FORMAT_TAG: Final = "fusiongait.apdm-h5/1"
#: Labels written for the known placements (the ones Mobility Lab uses).
APDM_LABELS: Final = {PELVIS: "Lumbar", LEFT_THIGH: "Left Upper Leg", RIGHT_THIGH: "Right Upper Leg"}
_UNITS: Final[dict[str, str]] = {
    "m/s^2": "mps2",
    "m/s/s": "mps2",
    "m/s2": "mps2",
    "m/s²": "mps2",
    "g": "g",
    "rad/s": "rads",
    "deg/s": "dps",
    "degrees/s": "dps",
    "dps": "dps",
}


def _text(value: Any) -> str:
    if isinstance(value, bytes | np.bytes_):
        return bytes(value).decode("utf-8", "replace").rstrip("\x00").strip()
    if isinstance(value, np.ndarray) and value.size == 1:
        return _text(value.reshape(-1)[0])
    return str(value).strip()


def _open(path: Path) -> Any:
    import h5py  # noqa: PLC0415 - optional at import time; only needed for HDF5 files

    if not path.exists():
        raise InputFileError("file not found", path=path)
    try:
        return h5py.File(path, "r")
    except OSError as exc:
        text = str(exc)
        if "truncated" in text:
            raise InputFileError(
                f"the HDF5 file is truncated (cut short while copying or writing; HDF5 says: {text}); copy it again "
                "from the source",
                path=path,
            ) from None
        raise InputFileError(f"not a readable HDF5 file ({text})", path=path) from None


def _dataset(path: Path, group: Any, name: str, *, shape_tail: tuple[int, ...]) -> NDArray[Any]:
    where = f"{group.name}/{name}"
    if name not in group:
        raise InputFileError(f"missing dataset (found: {', '.join(sorted(group.keys()))})", path=path, column=where)
    try:
        data = np.asarray(group[name][()])
    except (OSError, RuntimeError, ValueError) as exc:
        raise InputFileError(
            f"cannot read the dataset: the file is damaged or truncated ({exc})", path=path, column=where
        ) from None
    if data.shape[1:] != shape_tail or data.ndim != 1 + len(shape_tail):
        expected = "(n,)" if not shape_tail else f"(n, {', '.join(map(str, shape_tail))})"
        raise InputFileError(f"expected shape {expected}, got {data.shape}", path=path, column=where)
    return data


def _unit(path: Path, ds: Any, default: str, kind: str) -> tuple[str, str]:
    raw = ds.attrs.get("Units")
    if raw is None:
        return default, "APDM's documentation (m/s² and rad/s)"
    text = _text(raw)
    unit = _UNITS.get(text.replace(" ", "").lower()) or _UNITS.get(text)
    allowed = ("mps2", "g") if kind == "acc" else ("dps", "rads")
    if unit not in allowed:
        raise InputFileError(
            f"unknown unit {text!r} in the Units attribute; expected one of m/s^2, g (accelerometer) or rad/s, "
            "deg/s (gyroscope)",
            path=path,
            column=ds.name,
        )
    return unit, "the file's Units attributes"


def read_apdm_sensors(path: PathLike) -> tuple[list[RawSensor], dict[str, str]]:
    """Every sensor of an APDM HDF5 file, as stored.

    Returns
    -------
    sensors : list of RawSensor
        One per ``/Sensors/<id>`` group, labelled with its ``Label 0`` (the id when there is none).
    fusiongait_placements : dict of label to placement
        The exact placements a file written by :func:`write_apdm_h5` records (empty for a vendor file).

    Raises
    ------
    InputFileError
        Missing, truncated or damaged file, an old (pre-version-5) layout, missing datasets, wrong shapes,
        datasets of different lengths, unknown units.
    """
    file_path = Path(path)
    sensors: list[RawSensor] = []
    exact: dict[str, str] = {}
    with _open(file_path) as h5:
        if "Sensors" not in h5:
            version = _text(h5.attrs.get("FileFormatVersion", "unknown"))
            raise InputFileError(
                f"no /Sensors group: not an APDM Opal file of format version 5 (FileFormatVersion {version}; top "
                f"level has {', '.join(sorted(h5.keys())) or 'nothing'}); export the recording again with a current "
                "Mobility Lab (or Moveo Explorer), which writes version 5",
                path=file_path,
            )
        for sensor_id in sorted(h5["Sensors"].keys()):
            group = h5["Sensors"][sensor_id]
            config = group.get("Configuration")
            label = _text(config.attrs.get("Label 0", sensor_id)) if config is not None else sensor_id
            label = label or sensor_id
            time_us = _dataset(file_path, group, "Time", shape_tail=())
            acc = _dataset(file_path, group, "Accelerometer", shape_tail=(3,))
            gyr = _dataset(file_path, group, "Gyroscope", shape_tail=(3,))
            for name, arr in (("Accelerometer", acc), ("Gyroscope", gyr)):
                if arr.shape[0] != time_us.shape[0]:
                    raise InputFileError(
                        f"{arr.shape[0]} samples but Time has {time_us.shape[0]}; the file is damaged or truncated",
                        path=file_path,
                        column=f"{group.name}/{name}",
                    )
            acc_unit, acc_source = _unit(file_path, group["Accelerometer"], "mps2", "acc")
            gyr_unit, gyr_source = _unit(file_path, group["Gyroscope"], "rads", "gyr")
            if config is not None and "FusionGait Placement" in config.attrs:
                exact[label] = _text(config.attrs["FusionGait Placement"])
            if not np.issubdtype(time_us.dtype, np.number):
                raise InputFileError(
                    f"expected numeric times in microseconds, got {time_us.dtype}",
                    path=file_path,
                    column=f"{group.name}/Time",
                )
            sensors.append(
                RawSensor(
                    label=label,
                    path=file_path,
                    t_s=time_us.astype(np.float64) / 1e6,
                    acc=acc.astype(np.float64),
                    gyr=gyr.astype(np.float64),
                    acc_unit=acc_unit,  # type: ignore[arg-type]
                    gyr_unit=gyr_unit,  # type: ignore[arg-type]
                    unit_source=acc_source if acc_source == gyr_source else f"{acc_source} / {gyr_source}",
                    time_column=f"{group.name}/Time",
                    acc_columns=(f"{group.name}/Accelerometer",) * 3,
                    gyr_columns=(f"{group.name}/Gyroscope",) * 3,
                )
            )
    if not sensors:
        raise InputFileError("the /Sensors group holds no sensor", path=file_path)
    return sensors, exact


def _read_exact(file_path: Path) -> Recording | None:
    """The Recording a file of :func:`write_apdm_h5` holds, bit for bit; None for any other file."""
    with _open(file_path) as h5:
        if _text(h5.attrs.get("FusionGait Format", "")) != FORMAT_TAG:
            return None
        meta = json.loads(_text(h5.attrs["FusionGait Recording"]))
        acc, gyr, valid = [], [], []
        for sensor_id in meta["sensor_ids"]:
            group = h5["Sensors"][sensor_id]
            acc.append(_dataset(file_path, group, "Accelerometer", shape_tail=(3,)))
            gyr.append(_dataset(file_path, group["FusionGait"], "gyr_dps", shape_tail=(3,)))
            valid.append(_dataset(file_path, group["FusionGait"], "valid", shape_tail=()))
    try:
        return Recording(
            acc_mps2=np.stack(acc),
            gyr_dps=np.stack(gyr),
            sampling_rate_hz=float(meta["sampling_rate_hz"]),
            placements=tuple(meta["placements"]),
            valid=np.stack(valid).astype(bool),
            frame=meta["frame"],
            start_time_s=float(meta["start_time_s"]),
            source=str(file_path),
        )
    except (RecordingError, KeyError, ValueError) as exc:
        raise InputFileError(f"the FusionGait data in this file are inconsistent: {exc}", path=file_path) from None


def read_apdm_h5(
    path: PathLike,
    *,
    placements: Mapping[str, str] | None = None,
    strict_units: bool = False,
    sampling_rate_hz: float | None = None,
) -> tuple[Recording, list[str]]:
    """Read an APDM Opal HDF5 file into a Recording.

    Parameters
    ----------
    path : str or os.PathLike
        The ``.h5`` file.
    placements : mapping of str to str, optional
        Labels → placements beyond the built-in ones (e.g. ``{"Sensor 3": "pelvis"}``).
    strict_units : bool
        Refuse instead of converting data that contradict their units.
    sampling_rate_hz : float, optional
        Rate of the common time base (default: the files' highest).

    Returns
    -------
    recording : Recording
    warnings : list of str

    Raises
    ------
    InputFileError
        See :func:`read_apdm_sensors`; also when no sensor's label names a placement.
    """
    file_path = Path(path)
    exact = _read_exact(file_path) if placements is None and sampling_rate_hz is None else None
    if exact is not None:
        return exact, []
    sensors, recorded = read_apdm_sensors(file_path)
    chosen, found = place_sensors(sensors, placements, file_path, fallback=lambda raw: recorded.get(raw.label))
    recording, more = assemble(chosen, strict_units=strict_units, sampling_rate_hz=sampling_rate_hz)
    return recording, found + more


def write_apdm_h5(recording: Recording, path: PathLike) -> Path:
    """Write ``recording`` as an APDM-style HDF5 file (see the module docstring).

    Gaps are NaN rows in Accelerometer and Gyroscope; Time is every grid time in microseconds (rounded).

    Parameters
    ----------
    recording : Recording
    path : str or os.PathLike
        File to create (overwritten).

    Returns
    -------
    pathlib.Path

    Raises
    ------
    BridgeError
        When the file cannot be written.
    """
    import h5py  # noqa: PLC0415

    file_path = Path(path)
    n = recording.n_samples
    t_s = recording.start_time_s + recording.time_s
    time_us = np.round(t_s * 1e6).astype(np.uint64) if recording.start_time_s >= 0 else np.round(t_s * 1e6)
    ids = [f"{k + 1:05d}" for k in range(recording.n_sensors)]
    meta = {
        "placements": list(recording.placements),
        "sensor_ids": ids,
        "sampling_rate_hz": recording.sampling_rate_hz,
        "start_time_s": recording.start_time_s,
        "frame": recording.frame,
    }
    try:
        with h5py.File(file_path, "w") as h5:
            h5.attrs["FileFormatVersion"] = np.int32(5)
            h5.attrs["FusionGait Format"] = FORMAT_TAG
            h5.attrs["FusionGait Recording"] = json.dumps(meta)
            sensors = h5.create_group("Sensors")
            for k, (sensor_id, placement) in enumerate(zip(ids, recording.placements, strict=True)):
                group = sensors.create_group(sensor_id)
                ds = group.create_dataset("Time", data=time_us)
                ds.attrs["Units"] = "us"
                ds = group.create_dataset("Accelerometer", data=recording.acc_mps2[k])
                ds.attrs["Units"] = "m/s^2"
                ds = group.create_dataset("Gyroscope", data=recording.gyr_dps[k] * (math.pi / 180.0))
                ds.attrs["Units"] = "rad/s"
                config = group.create_group("Configuration")
                config.attrs["Label 0"] = np.bytes_(APDM_LABELS.get(placement, placement))
                config.attrs["Sample Rate"] = np.float64(recording.sampling_rate_hz)
                config.attrs["FusionGait Placement"] = placement
                extra = group.create_group("FusionGait")
                extra.create_dataset("gyr_dps", data=recording.gyr_dps[k])
                extra.create_dataset("valid", data=recording.valid[k].astype(np.uint8))
            h5.attrs["FusionGait Samples"] = np.int64(n)
    except OSError as exc:
        raise BridgeError(f"{file_path}: cannot write: {exc}") from None
    return file_path
