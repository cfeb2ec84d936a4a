"""Clock sync (PROTOCOL.md §4): the hull fit against a brute-force linear programme, and recovery of known clocks."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.optimize import linprog

from firmware_bridge.clocksync import ClockSync, _hull_edge, _window_minima
from firmware_bridge.errors import BridgeError


@pytest.mark.parametrize("upper", [True, False])
@pytest.mark.parametrize("seed", range(5))
def test_hull_edge_solves_the_envelope_linear_programme(upper: bool, seed: int) -> None:
    # Moon et al.: the line on one side of all points with the least summed distance to them.
    rng = np.random.default_rng(seed)
    x = np.sort(rng.uniform(0, 600e6, 200))
    y = 3e-5 * x + (-1 if upper else 1) * rng.exponential(5e3, x.size)
    slope, at_mean = _hull_edge(x, y, upper=upper)  # type: ignore[misc]
    xm = x.mean()
    # Variables (a, b) of y = a + b (x − mean): minimise ±n·a subject to the line staying on its side.
    sign = 1.0 if upper else -1.0
    res = linprog(
        c=[sign * x.size, 0.0],
        A_ub=np.column_stack([-sign * np.ones_like(x), -sign * (x - xm)]),
        b_ub=-sign * y,
        bounds=[(None, None), (None, None)],
    )
    assert res.success
    assert at_mean == pytest.approx(res.x[0], abs=1e-3)
    assert slope == pytest.approx(res.x[1], rel=1e-6, abs=1e-12)


def _clock_evidence(
    sync: ClockSync, rng: np.random.Generator, *, offset_us: float, skew: float, duration_s: float, pings: bool
) -> None:
    """Packets every 50 ms with latency ≥ 3 ms; pings every 2 s with random down/up delays ≥ 0.5 ms."""
    device = np.arange(0, duration_s * 1e6, 50e3) + 1e9
    host_of = lambda d: d + offset_us + skew * (d - 1e9)  # noqa: E731
    sync.add_packets(device, host_of(device) + 3e3 + rng.exponential(8e3, device.size))
    if pings:
        rx = np.arange(0, duration_s * 1e6, 2e6) + 1e9 + rng.uniform(0, 2e6)
        send = host_of(rx) - 0.5e3 - rng.uniform(0, 30e3, rx.size)
        tx = rx + 200
        recv = host_of(tx) + 0.5e3 + rng.uniform(0, 30e3, rx.size)
        sync.add_pings(send, rx, tx, recv)


@pytest.mark.parametrize("skew_ppm", [-48.0, 0.0, 31.0])
def test_pings_recover_offset_and_skew(skew_ppm: float) -> None:
    sync = ClockSync()
    _clock_evidence(sync, np.random.default_rng(3), offset_us=-5e8, skew=skew_ppm * 1e-6, duration_s=600, pings=True)
    fit = sync.fit()
    assert fit.method == "pings" and fit.uncertainty_us is not None
    d = np.linspace(1e9, 1e9 + 600e6, 50)
    truth = d - 5e8 + skew_ppm * 1e-6 * (d - 1e9)
    err = fit.host_us(d) - truth
    # The pings' one-way minimum (0.5 ms) stays in as a common bias; what varies over the session is < 1 ms.
    assert np.all(np.abs(err + 500) < 1000), err
    assert fit.skew * 1e6 == pytest.approx(skew_ppm, abs=2.0)


def test_without_pings_the_lower_envelope_is_used() -> None:
    sync = ClockSync()
    _clock_evidence(sync, np.random.default_rng(4), offset_us=7e6, skew=20e-6, duration_s=300, pings=False)
    fit = sync.fit()
    assert fit.method == "envelope" and fit.uncertainty_us is None and fit.n_pings == 0
    d = np.linspace(1e9, 1e9 + 300e6, 20)
    err = fit.host_us(d) - (d + 7e6 + 20e-6 * (d - 1e9))
    assert np.all((err > 2.5e3) & (err < 4e3)), err  # off by the smallest latency (3 ms), as documented


def test_short_segments_use_no_skew_and_windows_are_bounded() -> None:
    sync = ClockSync(window_s=1.0)
    _clock_evidence(sync, np.random.default_rng(5), offset_us=0.0, skew=40e-6, duration_s=10, pings=True)
    fit = sync.fit()
    assert fit.skew == 0.0 and fit.n_windows == 10


def test_adding_in_pieces_equals_adding_at_once() -> None:
    rng = np.random.default_rng(6)
    d = np.arange(0, 120e6, 50e3)
    h = d + 1e3 + rng.exponential(5e3, d.size)
    whole, parts = ClockSync(), ClockSync()
    whole.add_packets(d, h)
    for k in range(0, d.size, 7):
        parts.add_packets(d[k : k + 7], h[k : k + 7])
    assert whole.fit() == parts.fit()


@pytest.mark.parametrize("in_order", [True, False])
def test_window_minima_equals_a_loop_over_windows(in_order: bool) -> None:
    rng = np.random.default_rng(8)
    key = np.sort(rng.integers(0, 40, 500)).astype(np.float64)
    if not in_order:
        rng.shuffle(key)
    lag = rng.integers(0, 6, key.size).astype(np.float64)  # many equal lows: the first one is kept
    rows = np.stack([key, np.arange(key.size, dtype=np.float64), lag], axis=-1)
    want = []
    for k in np.unique(key):
        mine = np.flatnonzero(key == k)
        want.append(rows[mine[np.argmin(lag[mine])]])  # argmin: the first of equal lows
    np.testing.assert_array_equal(_window_minima(rows), np.array(want))


def test_no_evidence_is_an_error() -> None:
    with pytest.raises(BridgeError, match="no packet and no ping"):
        ClockSync().fit()
    with pytest.raises(BridgeError, match="window_s"):
        ClockSync(window_s=0)
