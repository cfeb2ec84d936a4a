"""Put several sensors' samples on one uniform host time base: the :class:`~gait.recording.Recording` (pure).

Each sensor's samples carry their host times from the clock sync (:mod:`firmware_bridge.stream`). Their rates differ
by crystal error (±50 ppm) or more (a nominal 100 Hz part sampling at 104 Hz), so the sensors are resampled onto one
grid by linear interpolation between neighbouring samples. A grid point is valid only between two consecutive samples
of one segment: a gap or a reboot stays a gap (NaN, ``valid`` False), never bridged.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from numpy.typing import NDArray

from firmware_bridge.errors import BridgeError
from firmware_bridge.stream import SensorSamples
from gait.recording import Recording

__all__ = ["LiveGrid", "grid_for", "resample", "to_recording"]

FloatArray = NDArray[np.float64]


def resample(samples: SensorSamples, grid_us: FloatArray) -> tuple[FloatArray, FloatArray, NDArray[np.bool_]]:
    """One sensor's samples at the grid times.

    Parameters
    ----------
    samples : SensorSamples
    grid_us : ndarray of float64, shape (n,)
        Increasing host times, µs.

    Returns
    -------
    acc_mps2, gyr_dps : ndarray of float64, shape (n, 3)
        NaN where ``valid`` is False.
    valid : ndarray of bool, shape (n,)
    """
    host = samples.host_us
    n = grid_us.shape[0]
    acc = np.full((n, 3), np.nan)
    gyr = np.full((n, 3), np.nan)
    if host.size < 2:
        return acc, gyr, np.zeros(n, dtype=bool)
    j = np.searchsorted(host, grid_us, side="right") - 1
    # A grid point exactly on the last sample belongs to the pair before it.
    j[(j == host.size - 1) & (grid_us == host[-1])] = host.size - 2
    inside = (j >= 0) & (j < host.size - 1)
    valid = inside & samples.continues[np.clip(j, 0, host.size - 2)]
    at = grid_us[valid]
    for out, x in ((acc, samples.acc_mps2), (gyr, samples.gyr_dps)):
        for axis in range(3):
            out[valid, axis] = np.interp(at, host, x[:, axis])
    return acc, gyr, valid


def grid_for(samples: Sequence[SensorSamples], rate_hz: float | None = None) -> FloatArray:
    """The common grid (µs): from the first sample of any sensor to the last, at ``rate_hz``.

    ``rate_hz`` defaults to the highest nominal rate of the sensors.
    """
    spans = [(s.host_us[0], s.host_us[-1]) for s in samples if s.host_us.size >= 2]
    if not spans:
        raise BridgeError("no sensor has two samples: nothing to put on a time base")
    rate = float(rate_hz) if rate_hz is not None else max(s.rate_hz for s in samples if s.host_us.size >= 2)
    start = float(min(a for a, _ in spans))
    stop = float(max(b for _, b in spans))
    n = int(np.floor((stop - start) * rate / 1e6)) + 1
    grid: FloatArray = start + np.arange(n, dtype=np.float64) * (1e6 / rate)
    return grid


def to_recording(
    samples: Sequence[SensorSamples],
    *,
    rate_hz: float | None = None,
    wall_clock_offset_ns: int | None = None,
    source: str = "",
) -> Recording:
    """A Recording of the sensors on one grid (see :func:`grid_for`).

    Parameters
    ----------
    samples : sequence of SensorSamples
        One per sensor; their placements become the Recording's.
    rate_hz : float, optional
    wall_clock_offset_ns : int, optional
        Wall-clock minus host-monotonic time, ns (a capture's clock pair); sets ``start_time_s`` to POSIX time.
    source : str
    """
    usable = [s for s in samples if s.host_us.size >= 2]
    if not usable:
        raise BridgeError("no sensor has two samples: nothing to put on a time base")
    rate = float(rate_hz) if rate_hz is not None else max(s.rate_hz for s in usable)
    grid = grid_for(usable, rate)
    n = grid.shape[0]
    acc = np.full((len(usable), n, 3), np.nan)
    gyr = np.full((len(usable), n, 3), np.nan)
    valid = np.zeros((len(usable), n), dtype=bool)
    for i, s in enumerate(usable):
        acc[i], gyr[i], valid[i] = resample(s, grid)
    start_s = grid[0] / 1e6
    if wall_clock_offset_ns is not None:
        start_s += wall_clock_offset_ns / 1e9
    return Recording(
        acc,
        gyr,
        rate,
        tuple(s.placement for s in usable),
        valid=valid,
        start_time_s=start_s,
        source=source,
    )


class LiveGrid:
    """Cuts live streams into consecutive chunks on one fixed grid, for the live analysis.

    Each :meth:`read` returns the grid samples from where the previous read stopped up to the newest instant every
    active sensor has reached (a sensor silent for ``stale_s`` no longer holds the others back: its part is marked
    invalid). The grid starts at the first sample any sensor had and keeps its phase, so the chunks join into one
    uniform recording. Samples come from the streams' rings with their current clock fits.

    Parameters
    ----------
    rate_hz : float
        Rate of the grid.
    stale_s : float
        A sensor whose newest sample is older than this (relative to the others) stops holding the grid back.
    max_chunk_s : float
        Longest chunk returned by one read (the rest comes with the next).
    """

    def __init__(self, rate_hz: float, *, stale_s: float = 2.0, max_chunk_s: float = 10.0) -> None:
        if not rate_hz > 0:
            raise BridgeError(f"rate_hz: expected a positive rate, got {rate_hz!r}")
        self.rate_hz = float(rate_hz)
        self.period_us = 1e6 / self.rate_hz
        self.stale_us = float(stale_s) * 1e6
        self.max_chunk = max(1, int(max_chunk_s * self.rate_hz))
        self.start_us: float | None = None
        self.next_idx = 0

    def read(self, samples: Sequence[SensorSamples]) -> Recording | None:
        """The next chunk, or None when no new grid sample is ready yet."""
        ends = [float(s.host_us[-1]) for s in samples if s.host_us.size >= 2]
        if not ends:
            return None
        if self.start_us is None:
            self.start_us = min(float(s.host_us[0]) for s in samples if s.host_us.size >= 2)
        newest = max(ends)
        watermark = min(e for e in ends if newest - e <= self.stale_us)
        last_idx = int(np.floor((watermark - self.start_us) / self.period_us))
        stop = min(last_idx + 1, self.next_idx + self.max_chunk)
        if stop <= self.next_idx:
            return None
        grid = self.start_us + np.arange(self.next_idx, stop, dtype=np.float64) * self.period_us
        acc = np.full((len(samples), grid.size, 3), np.nan)
        gyr = np.full((len(samples), grid.size, 3), np.nan)
        valid = np.zeros((len(samples), grid.size), dtype=bool)
        for i, s in enumerate(samples):
            acc[i], gyr[i], valid[i] = resample(s, grid)
        self.next_idx = stop
        return Recording(
            acc,
            gyr,
            self.rate_hz,
            tuple(s.placement for s in samples),
            valid=valid,
            start_time_s=grid[0] / 1e6,
            source="live",
        )
