"""Readers and writers of recorded files.

* :mod:`firmware_bridge.readers.csv_format`: the generic CSV format, one file per sensor (DESIGN.md §4).
"""

from __future__ import annotations

from firmware_bridge.readers.csv_format import (
    read_recording,
    read_sensor_csv,
    write_recording_csv,
    write_sensor_csv,
)

__all__ = ["read_recording", "read_sensor_csv", "write_recording_csv", "write_sensor_csv"]
