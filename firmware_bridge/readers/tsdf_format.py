"""TSDF, the open Time Series Data Format (Claes et al., arXiv:2211.11294; reference implementation: ``tsdf`` on PyPI).

A TSDF recording is a JSON metadata file (named ``*meta.json``) beside raw binary files. The metadata is a tree: each
node may carry fields and a ``sensors`` list of child nodes; a leaf (a node with ``file_name``) inherits every field
of its ancestors. Mandatory fields (version 0.1) include ``metadata_version``, ``study_id``, ``subject_id``,
``device_id``, ``start_iso8601``, ``end_iso8601``, ``file_name``, ``channels``, ``units``, ``data_type``
(``int``/``float``), ``bits``, ``endianness`` (``little``/``big``) and ``rows``; a binary file is ``rows`` ×
``len(channels)`` values, row-major. Optional ``scale_factors`` multiply each channel.

FusionGait reads, for each group of leaves that share ``rows`` under one parent, a time leaf (one channel ``time``,
units ``s``/``ms``/``us`` or ``time_relative_ms``/``time_absolute_unix_ms``; ``time_encode: "difference"`` means each
value is the step from the previous one) and the accelerometer and gyroscope channels (``acceleration_x``,
``accelerometer_x``, ``acc_x``...; ``rotation_x``, ``gyroscope_x``, ``gyr_x``...; units ``m/s/s``, ``m/s^2``, ``g``,
``deg/s``, ``rad/s``). Relative times start at ``start_datetime_unix_ms`` or ``start_iso8601``. The sensor's label is
its ``placement`` (or ``body_location``/``sensor_location``) field, else its ``device_id``.
"""

from __future__ import annotations

import datetime
import json
import os
import re
from pathlib import Path
from typing import Any, Final

import numpy as np
from numpy.typing import NDArray

from firmware_bridge.errors import InputFileError
from firmware_bridge.readers.sensor_data import RawSensor

__all__ = ["looks_like_tsdf", "read_tsdf_sensors"]

PathLike = str | os.PathLike[str]
_ACC_RE: Final = re.compile(r"(?:acc|accel|accelerometer|acceleration)[_ ]?([xyz])", re.IGNORECASE)
_GYR_RE: Final = re.compile(r"(?:gyr|gyro|gyroscope|rotation|angular_velocity)[_ ]?([xyz])", re.IGNORECASE)
_ACC_UNITS: Final = {"m/s/s": "mps2", "m/s^2": "mps2", "m/s2": "mps2", "m/s²": "mps2", "g": "g"}
_GYR_UNITS: Final = {"deg/s": "dps", "degrees/s": "dps", "°/s": "dps", "rad/s": "rads"}
_TIME_UNITS: Final = {
    "s": 1.0,
    "ms": 1e-3,
    "us": 1e-6,
    "time_relative_s": 1.0,
    "time_relative_ms": 1e-3,
    "time_absolute_unix_s": 1.0,
    "time_absolute_unix_ms": 1e-3,
}
_LABEL_KEYS: Final = ("placement", "body_location", "sensor_location", "location")
_MANDATORY: Final = ("metadata_version", "file_name", "channels", "units", "data_type", "bits", "endianness", "rows")


def looks_like_tsdf(text: str) -> bool:
    """True for the start of a TSDF metadata file (JSON with ``metadata_version``)."""
    return text.lstrip().startswith("{") and '"metadata_version"' in text


def _leaves(node: dict[str, Any], inherited: dict[str, Any]) -> list[dict[str, Any]]:
    """Every leaf (a node naming a binary file) with the fields it inherits; children are lists of objects."""
    own = {k: v for k, v in node.items() if not (isinstance(v, list) and v and all(isinstance(c, dict) for c in v))}
    fields = {**inherited, **own}
    out: list[dict[str, Any]] = [fields] if "file_name" in own else []
    for value in node.values():
        if isinstance(value, list) and value and all(isinstance(c, dict) for c in value):
            for child in value:
                out += _leaves(child, fields)
    return out


def _load(meta_path: Path, leaf: dict[str, Any]) -> NDArray[np.float64]:
    where = str(leaf["file_name"])
    bin_path = meta_path.parent / where
    kinds = {"int": "i", "float": "f", "uint": "u"}
    try:
        kind = kinds[str(leaf["data_type"])]
        n_bytes = int(leaf["bits"]) // 8
        order = {"little": "<", "big": ">", "not applicable": "|"}[str(leaf["endianness"])]
        rows, cols = int(leaf["rows"]), len(leaf["channels"])
        dtype = np.dtype(f"{order}{kind}{n_bytes}")
    except (KeyError, ValueError, TypeError) as exc:
        raise InputFileError(
            f"unsupported data description (data_type {leaf.get('data_type')!r}, bits {leaf.get('bits')!r}, "
            f"endianness {leaf.get('endianness')!r}): {exc}",
            path=meta_path,
            column=where,
        ) from None
    if not bin_path.is_file():
        raise InputFileError("binary file not found (named by file_name in the metadata)", path=bin_path)
    expected = rows * cols * dtype.itemsize
    size = bin_path.stat().st_size
    if size != expected:
        raise InputFileError(
            f"{size} bytes, but the metadata describes {rows} rows × {cols} channels × {dtype.itemsize} bytes = "
            f"{expected}; the file is {'truncated' if size < expected else 'longer than described'}",
            path=bin_path,
        )
    data = np.fromfile(bin_path, dtype=dtype).reshape(rows, cols).astype(np.float64)
    scale = leaf.get("scale_factors")
    if scale is not None:
        factors = np.asarray(scale, dtype=np.float64)
        if factors.shape != (cols,):
            raise InputFileError(
                f"scale_factors: expected {cols} values (one per channel), got {len(scale)}",
                path=meta_path,
                column=where,
            )
        data = data * factors
    return data


def _start_s(meta_path: Path, leaf: dict[str, Any]) -> float:
    if "start_datetime_unix_ms" in leaf:
        return float(leaf["start_datetime_unix_ms"]) / 1e3
    text = str(leaf.get("start_iso8601", ""))
    try:
        stamp = datetime.datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise InputFileError(
            f"start_iso8601: expected an ISO 8601 time, got {text!r}", path=meta_path, column="start_iso8601"
        ) from None
    if stamp.tzinfo is None:
        stamp = stamp.replace(tzinfo=datetime.UTC)
    return stamp.timestamp()


def read_tsdf_sensors(path: PathLike) -> list[RawSensor]:
    """Every IMU sensor of a TSDF recording (its metadata file, or a folder holding one ``*meta.json``).

    Raises
    ------
    InputFileError
        Not JSON or not TSDF, an unsupported version, a leaf missing a mandatory field, a binary file missing or of
        the wrong size, channels and units of different lengths, unknown units, or no leaf group with time,
        accelerometer and gyroscope.
    """
    meta_path = Path(path)
    if meta_path.is_dir():
        found = sorted(meta_path.glob("*meta.json"))
        if len(found) != 1:
            raise InputFileError(
                f"expected one TSDF metadata file (*meta.json) in the folder, found {len(found)}", path=meta_path
            )
        meta_path = found[0]
    try:
        doc = json.loads(meta_path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise InputFileError(f"cannot read the file: {exc.strerror or exc}", path=meta_path) from None
    except (ValueError, UnicodeDecodeError) as exc:
        raise InputFileError(f"not a TSDF metadata file: not JSON ({exc})", path=meta_path) from None
    if not isinstance(doc, dict) or "metadata_version" not in doc:
        raise InputFileError("not a TSDF metadata file: no metadata_version", path=meta_path)
    if str(doc["metadata_version"]) != "0.1":
        raise InputFileError(
            f"TSDF metadata_version {doc['metadata_version']!r} is not supported (supported: 0.1)",
            path=meta_path,
            column="metadata_version",
        )
    groups: dict[tuple[str, ...], list[dict[str, Any]]] = {}
    for leaf in _leaves(doc, {}):
        missing = [k for k in _MANDATORY if k not in leaf]
        if missing:
            raise InputFileError(
                f"missing mandatory field(s) {', '.join(missing)}", path=meta_path, column=str(leaf.get("file_name"))
            )
        if len(leaf["channels"]) != len(leaf["units"]):
            raise InputFileError(
                f"{len(leaf['channels'])} channels but {len(leaf['units'])} units",
                path=meta_path,
                column=leaf["file_name"],
            )
        # The leaves of one sensor share their row count, device, placement and start (however the tree groups them).
        identity = (str(leaf["rows"]), str(leaf.get("device_id")), str(leaf.get("start_iso8601")))
        groups.setdefault(identity + tuple(str(leaf.get(k)) for k in _LABEL_KEYS), []).append(leaf)

    sensors: list[RawSensor] = []
    for group in groups.values():
        time_leaf = next((leaf for leaf in group if [str(c).lower() for c in leaf["channels"]] == ["time"]), None)
        acc: dict[str, tuple[dict[str, Any], int, str]] = {}
        gyr: dict[str, tuple[dict[str, Any], int, str]] = {}
        for leaf in group:
            for k, (channel, unit) in enumerate(zip(leaf["channels"], leaf["units"], strict=True)):
                name, unit_text = str(channel), str(unit).strip()
                if (m := _ACC_RE.fullmatch(name)) is not None:
                    if unit_text.lower() not in _ACC_UNITS:
                        raise InputFileError(
                            f"unknown accelerometer unit {unit_text!r} (expected m/s/s or g)",
                            path=meta_path,
                            column=name,
                        )
                    acc[m.group(1).lower()] = (leaf, k, _ACC_UNITS[unit_text.lower()])
                elif (m := _GYR_RE.fullmatch(name)) is not None:
                    if unit_text.lower() not in _GYR_UNITS:
                        raise InputFileError(
                            f"unknown gyroscope unit {unit_text!r} (expected deg/s or rad/s)",
                            path=meta_path,
                            column=name,
                        )
                    gyr[m.group(1).lower()] = (leaf, k, _GYR_UNITS[unit_text.lower()])
        if len(acc) < 3 or len(gyr) < 3 or time_leaf is None:
            continue
        for quantity, chans in (("accelerometer", acc), ("gyroscope", gyr)):
            if len({u for _, _, u in chans.values()}) > 1:
                listed = ", ".join(
                    f"{chans[a][0]['channels'][chans[a][1]]} ({chans[a][0]['units'][chans[a][1]]})" for a in "xyz"
                )
                raise InputFileError(f"the {quantity} channels mix units ({listed})", path=meta_path)
        time_unit = str(time_leaf["units"][0]).strip()
        if time_unit not in _TIME_UNITS:
            raise InputFileError(
                f"unknown time unit {time_unit!r} (expected one of {', '.join(_TIME_UNITS)})",
                path=meta_path,
                column=str(time_leaf["file_name"]),
            )
        loaded = {str(leaf["file_name"]): _load(meta_path, leaf) for leaf in group}

        def column(
            leaf: dict[str, Any], k: int, loaded: dict[str, NDArray[np.float64]] = loaded
        ) -> NDArray[np.float64]:
            return loaded[str(leaf["file_name"])][:, k]

        t = column(time_leaf, 0) * _TIME_UNITS[time_unit]
        if str(time_leaf.get("time_encode", "")).lower() == "difference":
            t = np.cumsum(t)
        if "absolute" not in time_unit:
            t = t + _start_s(meta_path, time_leaf)
        label = next((str(time_leaf[k]) for k in _LABEL_KEYS if k in time_leaf), str(time_leaf.get("device_id", "")))
        sensors.append(
            RawSensor(
                label=label or meta_path.stem,
                path=meta_path,
                t_s=t,
                acc=np.column_stack([column(*acc[a][:2]) for a in "xyz"]),
                gyr=np.column_stack([column(*gyr[a][:2]) for a in "xyz"]),
                acc_unit=acc["x"][2],  # type: ignore[arg-type]
                gyr_unit=gyr["x"][2],  # type: ignore[arg-type]
                unit_source="the TSDF units",
                time_column=f"{time_leaf['file_name']}: time",
                acc_columns=tuple(f"{acc[a][0]['file_name']}: {acc[a][0]['channels'][acc[a][1]]}" for a in "xyz"),  # type: ignore[arg-type]
                gyr_columns=tuple(f"{gyr[a][0]['file_name']}: {gyr[a][0]['channels'][gyr[a][1]]}" for a in "xyz"),  # type: ignore[arg-type]
            )
        )
    if not sensors:
        raise InputFileError(
            "no group of binary files with a time channel and accelerometer and gyroscope x, y, z channels "
            "(channels such as time, acceleration_x..., rotation_x...)",
            path=meta_path,
        )
    return sensors
