"""Clock sync: map one device clock segment onto the host's monotonic clock (hardware/PROTOCOL.md §4), pure.

Every packet bounds the clock offset from above: it cannot arrive before its last sample was taken, so
``offset ≤ t_host_arrival − t_device_last_sample``. A sync ping bounds it from below: the device cannot receive the
ping before the host sent it, so ``offset ≥ t_host_send − t_device_rx`` (its reply bounds it from above like a
packet). The true offset line ``host − device = offset + skew · (device − ref)`` runs between the two clouds.

The packets' bound is off by the link's smallest latency, which differs between sensors; on BLE, when the packet
period is a multiple of the connection interval, every packet waits the same few ms for its connection event and the
packets' lower envelope is a slow sawtooth that never comes down to the offset. Pings leave the host at random phases,
so the upper edge of their lower bounds does come down to within a fraction of a millisecond of the offset (the
host's own send latency, the same for every sensor on that adapter, stays in).

The line is fitted as Moon, Skelly & Towsley (1999) fit delay envelopes: among the lines on the right side of all
bounds, the one closest to them on average, which is the edge of their convex hull above the mean device time. With
pings: the upper hull of the pings' lower bounds. Without (or with too few), the lower hull of the packets' upper
bounds (one minimum per second kept, so memory grows by 24 bytes per second of data). ``|skew|`` is held below
200 ppm. The bracket left between the fitted line and the packets' bound is reported as the fit's uncertainty.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final, Literal

import numpy as np
from numpy.typing import ArrayLike, NDArray

from firmware_bridge.errors import BridgeError

__all__ = ["ClockFit", "ClockSync"]

FloatArray = NDArray[np.float64]

#: Least span of evidence over which a skew is fitted; shorter segments use skew 0 (50 ppm × 30 s = 1.5 ms).
_MIN_SKEW_SPAN_US: Final = 30e6
#: How much closer (mean over pings, µs) the pings' own hull must sit to them before its slope replaces the packets'.
_SLOPE_SLACK_US: Final = 250.0
#: Least number of pings for a line through the pings alone.
_MIN_PINGS_FOR_LINE: Final = 3


def _hull_edge(x: FloatArray, y: FloatArray, *, upper: bool) -> tuple[float, float] | None:
    """The edge of the upper (lower) convex hull of the points above (below) the mean of ``x``.

    Returns ``(slope, value at mean x)``, or None when the points do not span two distinct ``x``.
    """
    order = np.lexsort((y, x))
    x, y = x[order], y[order]
    sign = -1.0 if upper else 1.0
    xs, ys = x.tolist(), y.tolist()  # the loop runs on Python floats (the same doubles, without numpy's scalar cost)
    hull: list[int] = []
    for i in range(len(xs)):  # Andrew's monotone chain (lower hull of (x, sign·y))
        while len(hull) >= 2:
            a, b = hull[-2], hull[-1]
            cross = (xs[b] - xs[a]) * (sign * ys[i] - sign * ys[a]) - (sign * ys[b] - sign * ys[a]) * (xs[i] - xs[a])
            if cross > 0:
                break
            hull.pop()
        hull.append(i)
    hx, hy = x[hull], y[hull]
    if hx.size < 2 or hx[-1] == hx[0]:
        return None
    mean_x = float(x.mean())
    k = int(np.clip(np.searchsorted(hx, mean_x, side="right") - 1, 0, hx.size - 2))
    slope = float((hy[k + 1] - hy[k]) / (hx[k + 1] - hx[k]))
    return slope, float(hy[k] + slope * (mean_x - hx[k]))


@dataclass(frozen=True, slots=True)
class ClockFit:
    """A device clock segment mapped onto the host clock.

    Attributes
    ----------
    ref_device_us : float
        Device time at which ``offset_us`` holds.
    offset_us : float
        Host minus device time at ``ref_device_us``, in µs.
    skew : float
        Rate error of the device clock relative to the host's (dimensionless; 1e-6 = 1 ppm).
    method : {"pings", "envelope"}
        Whether sync pings set the line, or only the packets' lower envelope did (off by the link's smallest
        latency).
    uncertainty_us : float or None
        Width of the bracket between the fitted line and the packets' upper bound (None without pings).
    n_windows, n_pings : int
        Envelope windows (one per second) and pings used.
    """

    ref_device_us: float
    offset_us: float
    skew: float
    method: Literal["pings", "envelope"]
    uncertainty_us: float | None
    n_windows: int
    n_pings: int

    def host_us(self, device_us: ArrayLike) -> FloatArray:
        """Host time (µs) of device times (µs, unwrapped)."""
        d = np.asarray(device_us, dtype=np.float64)
        return d + self.offset_us + self.skew * (d - self.ref_device_us)


class ClockSync:
    """Collects clock evidence for one device clock segment and fits it.

    Parameters
    ----------
    window_s : float
        Packets are reduced to their minimum lag per window of this width (default 1 s).
    max_skew_ppm : float
        Largest plausible skew; a fit beyond it is clamped (crystals are within ±50 ppm).
    keep_rtt_fraction : float
        Fraction of pings, those with the lowest round trip, that are used (PROTOCOL.md §4: 80 %).
    """

    def __init__(self, *, window_s: float = 1.0, max_skew_ppm: float = 200.0, keep_rtt_fraction: float = 0.8) -> None:
        if not window_s > 0:
            raise BridgeError(f"window_s: expected a positive width, got {window_s!r}")
        if not 0 < keep_rtt_fraction <= 1:
            raise BridgeError(f"keep_rtt_fraction: expected a fraction in (0, 1], got {keep_rtt_fraction!r}")
        self.window_us = float(window_s) * 1e6
        self.max_skew = float(max_skew_ppm) * 1e-6
        self.keep_rtt_fraction = float(keep_rtt_fraction)
        self._windows = np.zeros((0, 3))  # window key, device time, lag (host − device) of the window's minimum
        self._parts: list[NDArray[np.float64]] = []
        self._pings = np.zeros((0, 4))  # send_host, rx_device, tx_device, recv_host (µs)
        self._ping_parts: list[NDArray[np.float64]] = []
        self._fit: ClockFit | None = None  # the last fit, until new evidence comes

    @property
    def n_windows(self) -> int:
        """Envelope windows seen so far."""
        return int(self._consolidated().shape[0])

    @property
    def n_pings(self) -> int:
        """Pings seen so far."""
        return int(self._all_pings().shape[0])

    def add_packets(self, device_us: ArrayLike, host_us: ArrayLike) -> None:
        """Add packets: the device time of each packet's last sample and its arrival on the host (µs).

        Parameters
        ----------
        device_us, host_us : array_like of float, shape (n,)
        """
        d = np.asarray(device_us, dtype=np.float64).ravel()
        h = np.asarray(host_us, dtype=np.float64).ravel()
        if d.shape != h.shape:
            raise BridgeError(f"device_us, host_us: expected equal shapes, got {d.shape} and {h.shape}")
        if d.size:
            self._fit = None
            self._parts.append(_window_minima(np.stack([np.floor(d / self.window_us), d, h - d], axis=-1)))
            if len(self._parts) > 256:
                self._consolidated()

    def add_pings(
        self, send_host_us: ArrayLike, rx_device_us: ArrayLike, tx_device_us: ArrayLike, recv_host_us: ArrayLike
    ) -> None:
        """Add answered sync pings (µs; device times unwrapped onto this segment's clock).

        Parameters
        ----------
        send_host_us : array_like, shape (n,)
            Host clock just before the SYNC command was written.
        rx_device_us, tx_device_us : array_like, shape (n,)
            The reply's ``t_rx_us`` and ``t_tx_us``.
        recv_host_us : array_like, shape (n,)
            Host clock when the reply arrived.
        """
        given = (send_host_us, rx_device_us, tx_device_us, recv_host_us)
        cols = [np.asarray(a, dtype=np.float64).ravel() for a in given]
        if len({c.shape for c in cols}) != 1:
            raise BridgeError(f"pings: expected four arrays of one shape, got {[c.shape for c in cols]}")
        self._ping_parts.append(np.stack(cols, axis=-1))
        self._fit = None

    def _consolidated(self) -> NDArray[np.float64]:
        if self._parts:
            self._windows = _window_minima(np.concatenate([self._windows, *self._parts]))
            self._parts = []
        return self._windows

    def _all_pings(self) -> NDArray[np.float64]:
        if self._ping_parts:
            self._pings = np.concatenate([self._pings, *self._ping_parts])
            self._ping_parts = []
        return self._pings

    # ------------------------------------------------------------------------------------------------- fitting
    def _line(self, x: FloatArray, y: FloatArray, *, upper: bool, ref: float) -> tuple[float, float] | None:
        """(skew, offset at ``ref``) of the hull edge of the points, or None when they span too little time."""
        if x.size < 2 or x.max() - x.min() < _MIN_SKEW_SPAN_US:
            return None
        edge = _hull_edge(x, y, upper=upper)
        if edge is None:
            return None
        slope, at_mean = edge
        if abs(slope) > self.max_skew:
            return None
        return slope, at_mean + slope * (ref - float(x.mean()))

    def fit(self) -> ClockFit:
        """The current fit.

        Raises
        ------
        BridgeError
            When there is no evidence yet (no packet and no ping).
        """
        if self._fit is None:
            self._fit = self._fit_now()
        return self._fit

    def _fit_now(self) -> ClockFit:
        w = self._consolidated()
        p = self._all_pings()
        if not w.shape[0] and not p.shape[0]:
            raise BridgeError("clock sync: no packet and no ping yet")
        ref = float(w[0, 1]) if w.shape[0] else float(p[0, 1])
        d, lag = w[:, 1], w[:, 2]
        envelope = self._line(d, lag, upper=False, ref=ref)
        skew = envelope[0] if envelope else 0.0
        upper_us = float(np.min(lag - skew * (d - ref))) if d.size else np.inf
        if p.shape[0]:
            send, rx, tx, recv = p.T
            rtt = (recv - send) - (tx - rx)
            keep = rtt <= np.quantile(rtt, self.keep_rtt_fraction)
            lo, at = (send - rx)[keep], rx[keep]
            line = self._line(at, lo, upper=True, ref=ref) if keep.sum() >= _MIN_PINGS_FOR_LINE else None
            env_offset = float(np.max(lo - skew * (at - ref)))  # the envelope's skew, lifted onto the pings
            if line is not None and envelope is not None:
                # Both slopes are possible. The packets' is the more precise unless their envelope is a sawtooth
                # (packet period locked to the connection interval); then it sits visibly higher over the pings
                # than their own hull does. Keep the packets' slope while it costs less than _SLOPE_SLACK_US.
                extra = np.mean((env_offset + skew * (at - ref)) - (line[1] + line[0] * (at - ref)))
                if extra > _SLOPE_SLACK_US:
                    skew, env_offset = line
            elif line is not None:
                skew, env_offset = line
            offset = env_offset
            upper_us = float(np.min(lag - skew * (d - ref))) if d.size else np.inf
            upper_us = min(upper_us, float(np.min(((recv - tx) - skew * (tx - ref))[keep])))
            if offset <= upper_us:
                return ClockFit(ref, offset, skew, "pings", upper_us - offset, int(d.size), int(keep.sum()))
        if not np.isfinite(upper_us):
            raise BridgeError("clock sync: the pings contradict each other and there is no packet")
        offset = envelope[1] if envelope else upper_us
        return ClockFit(ref, offset, skew, "envelope", None, int(d.size), 0)


def _window_minima(rows: NDArray[np.float64]) -> NDArray[np.float64]:
    """Rows ``(key, device, lag)`` reduced to the one with the lowest lag per key, sorted by key.

    Of equal lows the first row is kept. Rows come in key order as packets arrive in order; then no sort is needed.
    """
    if not rows.shape[0]:
        return rows
    key, lag = rows[:, 0], rows[:, 2]
    if bool((key[1:] >= key[:-1]).all()) and not np.isnan(lag).any():
        starts = np.flatnonzero(np.diff(key, prepend=key[0] - 1))
        low = np.minimum.reduceat(lag, starts)
        hits = np.flatnonzero(lag == np.repeat(low, np.diff(starts, append=key.size)))
        # The first hit of each window (every window has one: its minimum).
        first_hit = hits[np.flatnonzero(np.diff(np.searchsorted(starts, hits, side="right"), prepend=0))]
        return rows[first_hit]
    order = np.lexsort((lag, key))
    rows = rows[order]
    first = np.flatnonzero(np.diff(rows[:, 0], prepend=rows[0, 0] - 1))
    return rows[first]
