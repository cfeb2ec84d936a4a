"""Writers of analysis results for the tools people use next (issue 11).

* :mod:`firmware_bridge.writers.opensim`: pelvis and hip angles as OpenSim motion (``.mot``) and storage (``.sto``)
  tables.
* :mod:`firmware_bridge.writers.strides`: per-stride metrics as CSV or Parquet.

The Recording itself is written by the readers' modules (Parquet: :mod:`firmware_bridge.readers.parquet_format`,
APDM-style HDF5: :mod:`firmware_bridge.readers.apdm_h5`, generic CSV: :mod:`firmware_bridge.readers.csv_format`), each
beside its reader so that the round trip is kept in one place.
"""

from __future__ import annotations

from firmware_bridge.writers.opensim import OPENSIM_COLUMNS, read_storage, write_cycle_curves_sto, write_motion_mot
from firmware_bridge.writers.strides import stride_table, write_strides_csv, write_strides_parquet

__all__ = [
    "OPENSIM_COLUMNS",
    "read_storage",
    "stride_table",
    "write_cycle_curves_sto",
    "write_motion_mot",
    "write_strides_csv",
    "write_strides_parquet",
]
