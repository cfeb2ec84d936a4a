"""LiveAnalysis: the offline pipeline followed over a growing recording reports each stride once, and its last pass
is the offline analysis."""

from __future__ import annotations

import numpy as np
import pytest

from gait.errors import GaitError
from gait.live import TRACE_CHANNELS, LiveAnalysis, stride_records
from gait.pipeline import GaitPipeline
from hardware.simulator import Segment, WalkerParams, simulate_session

SCHEDULE = (
    Segment(kind="stand", duration_s=4.0),
    Segment(kind="walk", duration_s=20.0),
    Segment(kind="turn", duration_s=3.0, turn_deg=180.0),
    Segment(kind="walk", duration_s=15.0),
)


@pytest.fixture(scope="module")
def walk():  # type: ignore[no-untyped-def]
    return simulate_session(
        WalkerParams(height_m=1.75, speed_mps=1.15), schedule=SCHEDULE, random_mounting=True, seed=11
    ).recording


@pytest.mark.parametrize("window_s", [None, 12.0], ids=["full passes", "quick windowed passes"])
def test_each_stride_is_reported_once_and_the_last_pass_is_the_offline_analysis(walk, window_s) -> None:  # type: ignore[no-untyped-def]
    pipeline = GaitPipeline(height_m=1.75)
    live = LiveAnalysis(pipeline=pipeline)
    fs = walk.sampling_rate_hz
    chunk = int(0.5 * fs)
    reported: list[dict[str, object]] = []
    trace_end = 0
    for k, start in enumerate(range(0, walk.n_samples, chunk)):
        live.append(walk.slice(start, min(start + chunk, walk.n_samples)))
        if window_s is not None and k % 8 != 7:  # quick passes over the newest seconds, a full one every 4 s
            update = live.analyze(window_s=window_s)
            assert update.trace_start_idx >= trace_end - 1
            if update.result is not None:
                trace_end = update.n_samples
                reported += stride_records(update.result, update.new_stride_rows, offset_idx=update.offset_idx)
        elif (start // chunk) % 3 == 2 or start + chunk >= walk.n_samples:  # a pass every 1.5 s, and at the end
            update = live.analyze()
            assert update.trace_start_idx >= trace_end - 1
            if update.result is not None:
                assert set(update.trace) == set(TRACE_CHANNELS)
                lengths = {v.shape for v in update.trace.values()}
                assert lengths == {(update.n_samples - update.trace_start_idx,)}
                assert update.n_samples - update.trace_start_idx <= int(10 * fs)
                trace_end = update.n_samples
                reported += stride_records(update.result, update.new_stride_rows)
        elif window_s is not None:
            update = live.analyze()
            trace_end = update.n_samples
            if update.result is not None:
                reported += stride_records(update.result, update.new_stride_rows)
    offline = pipeline.run(walk)
    final = live.analyze()
    assert final.result is not None
    np.testing.assert_array_equal(final.result.ic_idx, offline.ic_idx)
    np.testing.assert_array_equal(final.result.strides.start_idx, offline.strides.start_idx)
    assert final.new_stride_rows.size == 0  # nothing new in a pass over the same data

    n_final = offline.strides.start_idx.size
    assert n_final > 20
    starts = np.array([r["start_s"] for r in reported])
    sides = [r["side"] for r in reported]
    for i in range(n_final):  # every offline stride was reported live, once
        t = offline.strides.start_idx[i] / fs
        side = {0: "left", 1: "right"}.get(int(offline.strides.side[i]))
        match = [j for j in range(len(reported)) if sides[j] == side and abs(starts[j] - t) <= 0.03]
        assert len(match) == 1, f"stride at {t:.2f} s ({side}) reported {len(match)} times"
    assert len(reported) - n_final <= 2  # at most a couple reported at an edge that later analyses dropped


def test_chunks_must_match_the_first(walk) -> None:  # type: ignore[no-untyped-def]
    live = LiveAnalysis()
    live.append(walk.slice(0, 100))
    with pytest.raises(GaitError, match="placements"):
        live.append(walk.select(["pelvis"]).slice(100, 200))


def test_standing_only_gives_no_strides_and_empty_traces(walk) -> None:  # type: ignore[no-untyped-def]
    live = LiveAnalysis()
    assert live.analyze().reason == "no data yet"
    live.append(walk.slice(0, int(3 * walk.sampling_rate_hz)))  # standing only
    update = live.analyze()
    assert update.result is not None and update.new_stride_rows.size == 0
    assert any("no walking" in w for w in update.result.warnings)
    assert all(np.isnan(v).all() for v in update.trace.values())


def test_every_prefix_of_a_walk_is_analysed_or_refused_cleanly(walk) -> None:  # type: ignore[no-untyped-def]
    """A live analysis starts on a few samples: the pipeline answers or refuses with AnalysisError, never crashes."""
    live = LiveAnalysis()
    fs = walk.sampling_rate_hz
    for stop in (3, 16, 60, int(fs), int(1.5 * fs), int(4.5 * fs), int(6 * fs)):
        live = LiveAnalysis()
        live.append(walk.slice(0, stop))
        update = live.analyze()
        assert (update.result is None) == (stop < fs), (stop, update.reason)
        if update.result is None:
            assert "too short" in update.reason


def test_expected_stride_ends_per_side_at_the_newest_and_the_steady_duration(walk) -> None:  # type: ignore[no-untyped-def]
    live = LiveAnalysis(pipeline=GaitPipeline(height_m=1.75))
    assert live.expected_stride_ends(ahead=2).shape == (0, 4)
    live.append(walk.slice(0, int(30 * walk.sampling_rate_hz)))  # into the turn
    update = live.analyze()
    assert update.result is not None
    st = update.result.strides
    ends = live.expected_stride_ends(ahead=2, steady_strides=6)
    assert ends.shape == (2, 4)
    order = np.argsort(st.stop_idx, kind="stable")
    durations = (st.stop_idx - st.start_idx)[order]
    newest, steady = int(durations[-1]), int(np.percentile(durations[-6:], 25))
    for row, side in zip(ends, (0, 1), strict=True):
        mine = order[st.side[order] == side]
        last_end, last_duration = int(st.stop_idx[mine[-1]]), int(st.stop_idx[mine[-1]] - st.start_idx[mine[-1]])
        recent = last_end + min(last_duration, newest)
        assert row.tolist() == [recent, last_end + steady, recent + steady, recent + 2 * steady]
