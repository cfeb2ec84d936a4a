"""Per-stride metrics as a table (CSV or Parquet), one row per stride of either side.

Columns (units in the names, as everywhere in FusionGait):

* ``stride``, ``side`` (``left``/``right``/``unknown``), ``bout``, ``straight`` (not in a turn),
  ``start_s``, ``end_s`` (initial contacts bounding the stride, seconds from the recording's start),
  ``start_time_s`` (the same as POSIX time when the recording has one);
* spatiotemporal: ``stride_time_s``, ``stride_length_m``, ``speed_mps``, ``stance_pct``, ``swing_pct``,
  ``double_support_pct``, ``harmonic_ratio_ap``, ``harmonic_ratio_ml``, ``harmonic_ratio_si``;
* kinematics (when computed): ``tilt_rom_deg``, ``obliquity_rom_deg``, ``rotation_rom_deg``, ``mean_tilt_deg``,
  ``pelvic_drop_deg``, ``hip_peak_flexion_deg``, ``hip_peak_extension_deg``, ``hip_sagittal_rom_deg``,
  ``hip_frontal_rom_deg``, ``thigh_peak_extension_deg``, ``thigh_rom_deg``, ``pelvic_contribution_deg``, and whether
  the stride went into the report's averages (``pelvis_used``, ``hip_used``) or why not (``pelvis_reason``,
  ``hip_reason``).

Values not computed are empty in CSV and null in Parquet.
"""

from __future__ import annotations

import csv
import os
from pathlib import Path
from typing import Any, Final

import numpy as np

from firmware_bridge.errors import BridgeError
from gait.pipeline import GaitResult

__all__ = ["stride_table", "write_strides_csv", "write_strides_parquet"]

PathLike = str | os.PathLike[str]
_SIDE: Final = {0: "left", 1: "right"}
_KINEMATIC_FLOATS: Final = (
    "tilt_rom_deg",
    "obliquity_rom_deg",
    "rotation_rom_deg",
    "mean_tilt_deg",
    "pelvic_drop_deg",
    "hip_peak_flexion_deg",
    "hip_peak_extension_deg",
    "hip_sagittal_rom_deg",
    "hip_frontal_rom_deg",
    "thigh_peak_extension_deg",
    "thigh_rom_deg",
    "pelvic_contribution_deg",
)


def stride_table(result: GaitResult) -> dict[str, Any]:
    """The per-stride table of a pipeline result: column name → numpy array (or list of str), equal lengths."""
    st = result.strides
    fs = result.sampling_rate_hz
    m = int(st.start_idx.size)
    hr = np.asarray(st.harmonic_ratio, dtype=np.float64).reshape(m, 3) if m else np.empty((0, 3))
    table: dict[str, Any] = {
        "stride": np.arange(m, dtype=np.int64),
        "side": [_SIDE.get(int(s), "unknown") for s in st.side],
        "bout": np.asarray(st.bout, dtype=np.int64),
        "straight": np.asarray(st.straight, dtype=bool),
        "start_s": st.start_idx / fs,
        "end_s": st.stop_idx / fs,
        "start_time_s": result.start_time_s + st.start_idx / fs,
        "stride_time_s": np.asarray(st.time_s, dtype=np.float64),
        "stride_length_m": np.asarray(st.length_m, dtype=np.float64),
        "speed_mps": np.asarray(st.speed_mps, dtype=np.float64),
        "stance_pct": np.asarray(st.stance_pct, dtype=np.float64),
        "swing_pct": np.asarray(st.swing_pct, dtype=np.float64),
        "double_support_pct": np.asarray(st.double_support_pct, dtype=np.float64),
        "harmonic_ratio_ap": hr[:, 0],
        "harmonic_ratio_ml": hr[:, 1],
        "harmonic_ratio_si": hr[:, 2],
    }
    k = result.kinematics
    if k is not None and k.strides.start_idx.size == m:
        ks = k.strides
        for name in _KINEMATIC_FLOATS:
            table[name] = np.asarray(getattr(ks, name), dtype=np.float64)
        table["pelvis_used"] = np.asarray(ks.pelvis_used, dtype=bool)
        table["hip_used"] = np.asarray(ks.hip_used, dtype=bool)
        table["pelvis_reason"] = list(ks.pelvis_reason)
        table["hip_reason"] = list(ks.hip_reason)
    return table


def _cell(value: Any) -> str:
    if isinstance(value, bool | np.bool_):
        return "true" if value else "false"
    if isinstance(value, float | np.floating):
        return "" if not np.isfinite(value) else f"{float(value):.6g}"
    return str(value)


def write_strides_csv(result: GaitResult, path: PathLike) -> Path:
    """Write :func:`stride_table` as CSV (header row; empty cells where a value is not computed).

    Raises
    ------
    BridgeError
        When the file cannot be written.
    """
    table = stride_table(result)
    file_path = Path(path)
    names = list(table)
    n = len(table["stride"])
    try:
        with file_path.open("w", encoding="utf-8", newline="") as fh:
            writer = csv.writer(fh, lineterminator="\n")
            writer.writerow(names)
            for i in range(n):
                writer.writerow([_cell(table[c][i]) for c in names])
    except OSError as exc:
        raise BridgeError(f"{file_path}: cannot write: {exc.strerror or exc}") from None
    return file_path


def write_strides_parquet(result: GaitResult, path: PathLike) -> Path:
    """Write :func:`stride_table` as Parquet (NaN values become nulls).

    Raises
    ------
    BridgeError
        When the file cannot be written.
    """
    import pyarrow as pa  # noqa: PLC0415 - heavy; only for Parquet
    import pyarrow.parquet as pq  # noqa: PLC0415

    table = stride_table(result)
    columns = {}
    for name, values in table.items():
        if isinstance(values, np.ndarray) and values.dtype.kind == "f":
            columns[name] = pa.array(values, mask=~np.isfinite(values))
        else:
            columns[name] = pa.array(values)
    file_path = Path(path)
    try:
        pq.write_table(pa.table(columns), file_path)
    except OSError as exc:
        raise BridgeError(f"{file_path}: cannot write: {exc}") from None
    return file_path
