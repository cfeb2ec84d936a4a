"""Pelvis and hip angles as OpenSim tables, so a session can continue into OpenSim.

OpenSim's Storage format (``.mot`` for motions, ``.sto`` for other tables) is a text header ending in ``endheader``,
then a tab-separated table with a ``time`` column::

    fusiongait_motion
    version=1
    nRows=3600
    nColumns=8
    inDegrees=yes
    endheader
    time	pelvis_tilt	pelvis_list	pelvis_rotation	hip_flexion_r	hip_adduction_r	hip_flexion_l	hip_adduction_l
    0.000000	-3.212345	...

Column names and signs follow OpenSim's gait models (gait2392, Rajagopal 2015: ground X forward, Y up, Z right):

=================== =================================================== ======================================
OpenSim column      FusionGait angle                                    sign
=================== =================================================== ======================================
pelvis_tilt         pelvis tilt (anterior +)                            negated: OpenSim's is + for posterior
pelvis_list         pelvis obliquity (left side up +)                   same: + rotation about X (forward)
pelvis_rotation     pelvis rotation (turned left +)                     same: + rotation about Y (up)
hip_flexion_r/_l    hip flexion (+)                                     same
hip_adduction_r/_l  hip frontal angle (abduction +)                     negated: OpenSim's is + for adduction
=================== =================================================== ======================================

These are FusionGait's angles, relative to the session's standing calibration, under OpenSim's names: FusionGait
decomposes the pelvis as rotation, then obliquity, then tilt, OpenSim as tilt, list, rotation; for the small angles
of walking the two differ by products of angles (a fraction of a degree). Samples where an angle is not computed
(gaps, no thigh sensor, no walking to calibrate on) are ``NaN``; OpenSim's tools need them cut out or filled.

:func:`write_motion_mot` writes the angles of every sample over time; :func:`write_cycle_curves_sto` writes the
report's mean gait-cycle curves (0–100 % of the cycle as ``time``) with the same names and signs.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any, Final

import numpy as np
from numpy.typing import NDArray

from firmware_bridge.errors import BridgeError
from gait.pipeline import GaitResult

__all__ = ["OPENSIM_COLUMNS", "read_storage", "write_cycle_curves_sto", "write_motion_mot"]

PathLike = str | os.PathLike[str]
#: Columns of the motion file after ``time``.
OPENSIM_COLUMNS: Final = (
    "pelvis_tilt",
    "pelvis_list",
    "pelvis_rotation",
    "hip_flexion_r",
    "hip_adduction_r",
    "hip_flexion_l",
    "hip_adduction_l",
)


def _write_storage(path: PathLike, name: str, columns: Sequence[str], table: NDArray[np.float64]) -> Path:
    file_path = Path(path)
    header = "\n".join(
        [name, "version=1", f"nRows={table.shape[0]}", f"nColumns={len(columns)}", "inDegrees=yes", "endheader"]
    )
    try:
        with file_path.open("w", encoding="utf-8", newline="\n") as fh:
            fh.write(header + "\n" + "\t".join(columns) + "\n")
            np.savetxt(fh, table, fmt="%.6f", delimiter="\t")
    except OSError as exc:
        raise BridgeError(f"{file_path}: cannot write: {exc.strerror or exc}") from None
    return file_path


def read_storage(path: PathLike) -> tuple[list[str], NDArray[np.float64]]:
    """Read an OpenSim Storage table (``.mot``/``.sto``): its column names and values, shape (n_rows, n_columns).

    A plain reader (the header up to ``endheader``, then a tab-separated table), for checks and for users.
    """
    lines = Path(path).read_text(encoding="utf-8").splitlines()
    end = next(i for i, line in enumerate(lines) if line.strip().lower() == "endheader")
    columns = lines[end + 1].split("\t")
    values = np.loadtxt(lines[end + 2 :], delimiter="\t", ndmin=2) if len(lines) > end + 2 else np.empty((0, 0))
    return columns, values


def write_motion_mot(result: GaitResult, path: PathLike) -> Path:
    """Write the pelvis and hip angles of every sample as an OpenSim motion (see the module docstring).

    Parameters
    ----------
    result : GaitResult
        A pipeline result with kinematics.
    path : str or os.PathLike
        File to create (overwritten).

    Returns
    -------
    pathlib.Path

    Raises
    ------
    BridgeError
        When the result has no kinematics (no pelvis walking to calibrate on) or the file cannot be written.
    """
    k = result.kinematics
    if k is None:
        raise BridgeError("no joint angles to export: the analysis found no walking to compute kinematics on")
    n = k.pelvis_deg.shape[0]
    time_s = np.arange(n, dtype=np.float64) / result.sampling_rate_hz
    table = np.column_stack(
        [
            time_s,
            -k.pelvis_deg[:, 0],
            k.pelvis_deg[:, 1],
            k.pelvis_deg[:, 2],
            k.hip_flexion_deg[1],
            -k.hip_frontal_deg[1],
            k.hip_flexion_deg[0],
            -k.hip_frontal_deg[0],
        ]
    )
    return _write_storage(path, "fusiongait_motion", ("time", *OPENSIM_COLUMNS), table)


#: Report curve → (OpenSim name without side suffix, sign).
_CURVES: Final[Mapping[tuple[str, str], tuple[str, float]]] = {
    ("pelvis", "tilt"): ("pelvis_tilt", -1.0),
    ("pelvis", "obliquity"): ("pelvis_list", 1.0),
    ("pelvis", "rotation"): ("pelvis_rotation", 1.0),
    ("hip", "hip_flexion"): ("hip_flexion", 1.0),
    ("hip", "hip_frontal"): ("hip_adduction", -1.0),
}


def write_cycle_curves_sto(report: Mapping[str, Any], path: PathLike) -> Path:
    """Write the report's mean gait-cycle curves as an OpenSim storage table.

    ``time`` is the percentage of the gait cycle (0–100, 101 rows). For each side (``_l``, ``_r``: the cycle of that
    side, from its initial contact) the columns are ``pelvis_tilt``, ``pelvis_list``, ``pelvis_rotation``,
    ``hip_flexion`` and ``hip_adduction`` with OpenSim's signs (module docstring), e.g. ``pelvis_tilt_l``,
    ``hip_flexion_r``; curves the report does not have are NaN.

    Raises
    ------
    BridgeError
        When the report has no kinematics, or the file cannot be written.
    """
    kin = report.get("kinematics")
    if not isinstance(kin, Mapping) or not kin.get("pelvis"):
        raise BridgeError("no gait-cycle curves to export: the report has no kinematics")
    percent = None
    columns: list[str] = []
    values: list[NDArray[np.float64]] = []
    for side, suffix in (("left", "_l"), ("right", "_r")):
        for (segment, curve), (name, sign) in _CURVES.items():
            if segment == "pelvis":
                block = (kin["pelvis"].get("curves") or {}).get(side) or {}
            else:
                block = ((kin.get("hip") or {}).get(side) or {}).get("curves") or {}
            if percent is None and block.get("percent_cycle"):
                percent = np.asarray(block["percent_cycle"], dtype=np.float64)
            mean = block.get(curve, {}).get("mean_deg")
            arr = np.asarray([np.nan if v is None else v for v in mean], dtype=np.float64) if mean else None
            columns.append(name + suffix)
            values.append(sign * arr if arr is not None else np.full(101, np.nan))
    if percent is None:
        percent = np.linspace(0.0, 100.0, 101)
    table = np.column_stack([percent, *values])
    return _write_storage(path, "fusiongait_gait_cycle", ("time", *columns), table)
