"""A Recording as one Parquet table (long format), and back, exactly.

One row per sensor and sample, sensors one after the other in the Recording's order::

    placement (string)  sample_idx (int64)  t_s (float64, POSIX or relative seconds)
    acc_x_mps2 acc_y_mps2 acc_z_mps2  gyr_x_dps gyr_y_dps gyr_z_dps (float64; NaN in gaps)  valid (bool)

The long layout is what pandas, polars, R's arrow and DuckDB users filter and pivot most easily. The schema's
key-value metadata ``fusiongait`` holds the rest of the Recording as JSON (``schema: "fusiongait.recording/1"``,
``sampling_rate_hz``, ``start_time_s``, ``placements``, ``frame``, ``source``, ``n_samples``), so reading gives back
the same Recording bit for bit (float64 throughout; ``t_s`` is informative, the time base comes from the metadata).
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any, Final

import numpy as np

from firmware_bridge.errors import BridgeError, InputFileError
from gait.errors import RecordingError
from gait.recording import Recording

__all__ = ["PARQUET_MAGIC", "RECORDING_SCHEMA", "read_recording_parquet", "write_recording_parquet"]

PathLike = str | os.PathLike[str]
PARQUET_MAGIC: Final = b"PAR1"
RECORDING_SCHEMA: Final = "fusiongait.recording/1"
_VALUES: Final = (
    "acc_x_mps2",
    "acc_y_mps2",
    "acc_z_mps2",
    "gyr_x_dps",
    "gyr_y_dps",
    "gyr_z_dps",
)


def write_recording_parquet(recording: Recording, path: PathLike, *, compression: str = "zstd") -> Path:
    """Write ``recording`` as a Parquet file (see the module docstring).

    Parameters
    ----------
    recording : Recording
    path : str or os.PathLike
        File to create (overwritten).
    compression : str
        Parquet codec (``"zstd"``, ``"snappy"``, ``"none"``...).

    Returns
    -------
    pathlib.Path

    Raises
    ------
    BridgeError
        When the file cannot be written.
    """
    import pyarrow as pa  # noqa: PLC0415 - heavy; only for Parquet
    import pyarrow.parquet as pq  # noqa: PLC0415

    file_path = Path(path)
    n, k = recording.n_samples, recording.n_sensors
    idx = np.tile(np.arange(n, dtype=np.int64), k)
    columns: dict[str, Any] = {
        "placement": pa.DictionaryArray.from_arrays(
            np.repeat(np.arange(k, dtype=np.int32), n), pa.array(list(recording.placements), pa.string())
        ),
        "sample_idx": idx,
        "t_s": recording.start_time_s + np.tile(recording.time_s, k),
    }
    for j, name in enumerate(_VALUES):
        source = recording.acc_mps2 if j < 3 else recording.gyr_dps
        columns[name] = source[:, :, j % 3].reshape(-1)
    columns["valid"] = recording.valid.reshape(-1)
    meta = {
        "schema": RECORDING_SCHEMA,
        "sampling_rate_hz": recording.sampling_rate_hz,
        "start_time_s": recording.start_time_s,
        "placements": list(recording.placements),
        "frame": recording.frame,
        "source": recording.source,
        "n_samples": n,
        "units": {"t_s": "s", "acc": "m/s^2", "gyr": "deg/s"},
    }
    table = pa.table(columns).replace_schema_metadata({"fusiongait": json.dumps(meta)})
    try:
        pq.write_table(table, file_path, compression=None if compression == "none" else compression)
    except OSError as exc:
        raise BridgeError(f"{file_path}: cannot write: {exc}") from None
    return file_path


def read_recording_parquet(path: PathLike) -> Recording:
    """Read a Parquet file written by :func:`write_recording_parquet`.

    Raises
    ------
    InputFileError
        Missing or unreadable file, a Parquet file without FusionGait's metadata, missing columns, rows that do not
        match the metadata, or data the Recording refuses.
    """
    import pyarrow as pa  # noqa: PLC0415
    import pyarrow.parquet as pq  # noqa: PLC0415

    file_path = Path(path)
    if not file_path.is_file():
        raise InputFileError("file not found", path=file_path)
    try:
        table = pq.read_table(file_path)
    except (OSError, pa.ArrowException) as exc:
        raise InputFileError(f"not a readable Parquet file ({exc})", path=file_path) from None
    raw = (table.schema.metadata or {}).get(b"fusiongait")
    if raw is None:
        raise InputFileError(
            "a Parquet file without FusionGait's metadata: only recordings exported by `fusiongait export --to "
            "parquet` can be read back (give other tables as CSV with t_s, acc_*_mps2, gyr_*_dps columns)",
            path=file_path,
        )
    try:
        meta = json.loads(raw)
        placements = tuple(meta["placements"])
        n = int(meta["n_samples"])
        if meta.get("schema") != RECORDING_SCHEMA:
            raise ValueError(f"schema {meta.get('schema')!r}, expected {RECORDING_SCHEMA!r}")
    except (ValueError, KeyError, TypeError) as exc:
        raise InputFileError(f"FusionGait metadata unreadable: {exc}", path=file_path) from None
    missing = [c for c in ("placement", "sample_idx", *_VALUES, "valid") if c not in table.column_names]
    if missing:
        raise InputFileError(f"missing column(s) {', '.join(missing)}", path=file_path)
    k = len(placements)
    if table.num_rows != n * k:
        raise InputFileError(
            f"{table.num_rows} rows, expected {n} samples × {k} sensors = {n * k}", path=file_path, column="sample_idx"
        )
    column = table.column("placement").combine_chunks()
    if pa.types.is_dictionary(column.type):
        names = [str(x) for x in column.dictionary.to_pylist()]
        codes = column.indices.to_numpy(zero_copy_only=False)
    else:
        uniq, codes = np.unique(column.to_numpy(zero_copy_only=False).astype(str), return_inverse=True)
        names = [str(x) for x in uniq]
    code_of = {name: i for i, name in enumerate(names)}
    expected = np.repeat(np.array([code_of.get(p, -1) for p in placements]), n)
    idx = table.column("sample_idx").to_numpy()
    wrong = (codes != expected) | (idx != np.tile(np.arange(n), k))
    if wrong.any():
        bad = int(np.argmax(wrong))
        raise InputFileError(
            f"row {bad}: expected sensor {placements[bad // n]!r} sample {bad % n}, got {names[int(codes[bad])]!r} "
            f"sample {idx[bad]} (rows must stay in the order written)",
            path=file_path,
            column="sample_idx",
        )
    values = np.stack([table.column(c).to_numpy() for c in _VALUES], axis=-1).reshape(k, n, 6)
    try:
        return Recording(
            acc_mps2=values[..., :3],
            gyr_dps=values[..., 3:],
            sampling_rate_hz=float(meta["sampling_rate_hz"]),
            placements=placements,
            valid=table.column("valid").to_numpy().reshape(k, n),
            frame=meta.get("frame", "sensor"),
            start_time_s=float(meta["start_time_s"]),
            source=str(meta.get("source") or file_path),
        )
    except RecordingError as exc:
        raise InputFileError(str(exc), path=file_path) from None
