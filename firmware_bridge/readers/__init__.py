"""Readers and writers of recorded files.

* :mod:`firmware_bridge.readers.csv_format`: the generic CSV format, one file per sensor (DESIGN.md §4).
* :mod:`firmware_bridge.readers.capture_format`: the bridge's capture file (``.imucap``, hardware/PROTOCOL.md §5).
"""

from __future__ import annotations

from firmware_bridge.readers.capture_format import assemble_capture, read_capture
from firmware_bridge.readers.csv_format import (
    read_recording,
    read_sensor_csv,
    write_recording_csv,
    write_sensor_csv,
)

__all__ = [
    "assemble_capture",
    "read_capture",
    "read_recording",
    "read_sensor_csv",
    "write_recording_csv",
    "write_sensor_csv",
]
