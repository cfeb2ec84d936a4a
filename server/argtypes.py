"""Argument types shared by the ``fusiongait`` sub-commands (argparse ``type=`` callables)."""

from __future__ import annotations

import argparse

from firmware_bridge.session import PLACEMENT_IDS

__all__ = [
    "HEIGHT_RANGE_M",
    "SENSOR_HEIGHT_RANGE_M",
    "body_height_m",
    "positive_number",
    "sensor_height_m",
    "sensor_url",
]

#: Plausible body heights and sacral-sensor heights above the floor, in metres (the API's patient fields too).
HEIGHT_RANGE_M = (0.8, 2.5)
SENSOR_HEIGHT_RANGE_M = (0.4, 1.5)


def positive_number(text: str) -> float:
    """A number greater than 0 (seconds, speeds); refuses nan, zero and negatives with the text that came."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number, got {text!r}") from None
    if not value > 0:  # also refuses nan
        raise argparse.ArgumentTypeError(f"expected a positive number, got {text!r}")
    return value


def sensor_url(text: str) -> tuple[str, str]:
    """``PLACEMENT=URL`` of a sensor link (``fusiongait record`` and ``relay``), the placement checked."""
    placement, sep, url = text.partition("=")
    if not sep or not url or "://" not in url:
        raise argparse.ArgumentTypeError(f"expected PLACEMENT=URL (e.g. pelvis=ble://FG-pelvis), got {text!r}")
    if placement not in PLACEMENT_IDS:
        raise argparse.ArgumentTypeError(f"unknown placement {placement!r}; expected one of {', '.join(PLACEMENT_IDS)}")
    return placement, url


def _metres(text: str, what: str, low: float, high: float) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected {what} in metres, got {text!r}") from None
    if not low <= value <= high:  # also refuses nan
        raise argparse.ArgumentTypeError(f"expected {what} between {low:g} and {high:g} m, got {text}")
    return value


def body_height_m(text: str) -> float:
    """``--height-m``: a body height in :data:`HEIGHT_RANGE_M`."""
    return _metres(text, "a body height", *HEIGHT_RANGE_M)


def sensor_height_m(text: str) -> float:
    """``--sensor-height-m``: a sacral-sensor height in :data:`SENSOR_HEIGHT_RANGE_M`."""
    return _metres(text, "a sensor height", *SENSOR_HEIGHT_RANGE_M)
