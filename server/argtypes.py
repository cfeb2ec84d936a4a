"""Argument types shared by the ``fusiongait`` sub-commands (argparse ``type=`` callables)."""

from __future__ import annotations

import argparse
import datetime as dt

from firmware_bridge.session import PLACEMENT_IDS

__all__ = [
    "HEIGHT_RANGE_M",
    "SENSOR_HEIGHT_RANGE_M",
    "body_height_m",
    "iso_date",
    "positive_number",
    "sensor_height_m",
    "sensor_url",
    "start_time",
    "utc_offset_min",
    "wear_h",
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


def iso_date(text: str) -> dt.date:
    """A calendar date as ``YYYY-MM-DD`` (``--surgery-date``, ``--baseline-from``, ``--baseline-to``)."""
    try:
        return dt.date.fromisoformat(text.strip())
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a date as YYYY-MM-DD, got {text!r}") from None


def utc_offset_min(text: str) -> int:
    """``--utc-offset-min``: the patient's local time minus UTC, whole quarter hours between -840 and 840 minutes."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected whole minutes (e.g. 60 for UTC+01:00), got {text!r}") from None
    if not -14 * 60 <= value <= 14 * 60 or value % 15:
        raise argparse.ArgumentTypeError(
            f"expected a whole number of quarter hours between -840 and 840 minutes, got {value}"
        )
    return value


def wear_h(text: str) -> float:
    """``--min-wear-h``: the wear time a day needs, hours between 0.1 and 24."""
    try:
        value = float(text)
    except ValueError:
        value = float("nan")
    if not 0.1 <= value <= 24.0:
        raise argparse.ArgumentTypeError(f"expected hours between 0.1 and 24, got {text!r}")
    return value


def start_time(text: str) -> dt.datetime:
    """``--start-time``: an ISO-8601 date and time, with its UTC offset (``Z``, ``+01:00``) or without one (then the
    patient's local time, ``--utc-offset-min``)."""
    try:
        return dt.datetime.fromisoformat(text.strip())
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"expected an ISO-8601 date and time such as 2026-03-02T08:00 or 2026-03-02T07:00Z, got {text!r}"
        ) from None
