"""Argument types shared by the ``fusiongait`` sub-commands (argparse ``type=`` callables)."""

from __future__ import annotations

import argparse

from firmware_bridge.session import PLACEMENT_IDS

__all__ = ["positive_number", "sensor_url"]


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
