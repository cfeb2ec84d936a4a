"""Readers and writers of recorded files.

* :mod:`firmware_bridge.readers.csv_format`: the generic CSV format, one file per sensor (DESIGN.md §4).
* :mod:`firmware_bridge.readers.capture_format`: the bridge's capture file (``.imucap``, hardware/PROTOCOL.md §5).
* Vendor formats (issue 11, docs/interop.md): :mod:`~.apdm_h5` (APDM Opal HDF5, with the APDM-style writer),
  :mod:`~.ximu3_csv`, :mod:`~.movella_csv`, :mod:`~.metawear_csv`, :mod:`~.tsdf_format`; :mod:`~.parquet_format`
  (a Recording as Parquet and back); their shared checks in :mod:`~.sensor_data`.
* :func:`open_recording` (:mod:`~.dispatch`): any of them, or a folder of one session's files, chosen by content.
"""

from __future__ import annotations

from firmware_bridge.readers.capture_format import assemble_capture, read_capture
from firmware_bridge.readers.csv_format import (
    read_recording,
    read_sensor_csv,
    write_recording_csv,
    write_sensor_csv,
)
from firmware_bridge.readers.dispatch import detect_format, open_recording, open_sensor_files

__all__ = [
    "assemble_capture",
    "detect_format",
    "open_recording",
    "open_sensor_files",
    "read_capture",
    "read_recording",
    "read_sensor_csv",
    "write_recording_csv",
    "write_sensor_csv",
]
