"""Everyday-walking analysis (gait.daily) against simulated days at home with known truth (hardware.simulator.day)."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest

from gait.daily import (
    DailyAnalyzer,
    DailyRules,
    still_epochs,
    walking_bout_table,
    walking_bouts,
)
from gait.errors import AnalysisError
from gait.norms import RulesError, parse_rules
from gait.pipeline import GaitPipeline
from gait.recording import Recording
from hardware.simulator import Segment, WalkerParams
from hardware.simulator.day import DayPlan, DayTruth, SimulatedDay, simulate_day
from tests.voisard import match_events

FS = 100.0


def truth_outcomes(truth: DayTruth, rules: DailyRules) -> tuple[int, float, int]:
    """Steps, walking time and WB count of the simulated truth under the same Mobilise-D rules."""
    wb = walking_bouts(truth.ic_idx, truth.ic_walk, FS, max_break_s=rules.max_break_s, min_strides=rules.min_strides)
    duration = sum((truth.ic_idx[wb == w][-1] - truth.ic_idx[wb == w][0]) / FS for w in range(int(wb.max()) + 1))
    return int(np.count_nonzero(wb >= 0)), float(duration), int(wb.max()) + 1


@pytest.fixture(scope="module")
def short_day() -> SimulatedDay:
    """About 25 minutes of a day at home: sitting, standing, walks of a few steps to a few minutes, turns."""
    plan = DayPlan(wear_h=0.42, sit_min=(1.0, 4.0), long_walk_probability=0.3)
    return simulate_day(WalkerParams(speed_mps=1.15, height_m=1.70), plan=plan, random_mounting=True, seed=11)


@pytest.fixture(scope="module")
def short_day_result(short_day: SimulatedDay) -> object:
    return DailyAnalyzer(pipeline=GaitPipeline(height_m=1.70)).run(short_day.chunks(chunk_s=45.0))


# ---------------------------------------------------------------------------------------- truth recovered
def test_steps_and_walking_time_match_truth(short_day: SimulatedDay, short_day_result: object) -> None:
    rules = DailyRules.from_rules()
    steps, walking_s, n_wb = truth_outcomes(short_day.truth, rules)
    assert n_wb >= 10
    (day,) = short_day_result.days  # type: ignore[attr-defined]
    assert day.steps == pytest.approx(steps, rel=0.03)
    assert day.walking_s == pytest.approx(walking_s, rel=0.05)
    assert abs(day.n_wb - n_wb) <= 2
    # The day's structure came through: walks over 10 s and over 30 s, speeds near the walker's.
    assert day.n_wb_longer[10.0] >= 2
    assert day.n_wb_longer[30.0] >= 1
    assert 0.7 <= day.walking_speed_median_mps <= 1.4
    assert day.walking_speed_p90_mps >= day.walking_speed_median_mps
    assert 80.0 <= day.cadence_spm <= 125.0
    assert day.wear_s == pytest.approx(short_day.duration_s, abs=2.0)
    assert day.non_wear_s == 0.0


def test_kinematics_of_long_bouts_are_speed_binned(short_day: SimulatedDay, short_day_result: object) -> None:
    (day,) = short_day_result.days  # type: ignore[attr-defined]
    k = day.kinematics
    assert k.n_bouts >= 1
    assert k.bins and 0 <= k.modal_bin < len(k.bins)
    modal = k.bins[k.modal_bin]
    assert modal.speed_high_mps - modal.speed_low_mps == pytest.approx(0.3)
    assert modal.n_strides_left > 5 and modal.n_strides_right > 5
    # The walker's hips extend 10° past neutral and its pelvis tilts ±1.5° (WalkerParams defaults).
    for side in ("left", "right"):
        assert modal.metrics[f"hip_peak_extension_{side}_deg"].median == pytest.approx(10.0, abs=2.5)
    assert modal.metrics["tilt_rom_deg"].median == pytest.approx(3.0, abs=1.0)
    assert modal.derived["stance_symmetry_ratio"] == pytest.approx(1.0, abs=0.05)


def test_result_is_json_ready(short_day_result: object) -> None:
    data = short_day_result.to_json()  # type: ignore[attr-defined]
    text = json.dumps(data, allow_nan=False)
    back = json.loads(text)
    assert back["schema"] == "fusiongait.daily/1"
    assert back["days"][0]["steps"] == short_day_result.days[0].steps  # type: ignore[attr-defined]
    assert back["rules"]["max_break_s"] == 3.0
    assert "min_wear" in back["rules"]["interim"]
    assert len(back["bouts"]) == short_day_result.bouts.n  # type: ignore[attr-defined]


# -------------------------------------------------------------------------------------------- chunk edges
def test_windows_neither_cut_nor_double_count_bouts(short_day: SimulatedDay) -> None:
    recording = short_day.recording()
    whole = GaitPipeline(with_kinematics=False).run(recording.select(["pelvis"]))
    long_windows = DailyAnalyzer(window_s=3600.0, with_kinematics=False).run(recording)
    for window_s, margin_s, chunk_s in ((60.0, 15.0, 37.3), (97.0, 20.0, 600.0)):
        result = DailyAnalyzer(window_s=window_s, margin_s=margin_s, context_s=10.0, with_kinematics=False).run(
            short_day.chunks(chunk_s=chunk_s)
        )
        # Many window edges fall inside walks...
        edges = np.arange(1, int(recording.duration_s // window_s) + 1) * window_s * FS
        b = result.bouts
        crossing = [(s, e) for s, e in zip(b.start_idx, b.stop_idx, strict=True) if np.any((edges > s) & (edges < e))]
        assert len(crossing) >= 2
        # ...yet every contact of the one-pass analysis is found once, within a sample, and nothing else is.
        matched = match_events(result.ic_idx, whole.ic_idx, tolerance=2)
        assert matched.size >= whole.ic_idx.size - 1
        assert result.ic_idx.size <= whole.ic_idx.size + 1
        assert np.diff(result.ic_idx).min() >= 0.15 * FS
        # The walking bouts are those of one long window: none cut in two at an edge, none counted twice.
        assert b.n == long_windows.bouts.n
        np.testing.assert_allclose(b.start_idx, long_windows.bouts.start_idx, atol=2)
        np.testing.assert_allclose(b.n_steps, long_windows.bouts.n_steps, atol=1)


def test_whole_recording_and_its_chunks_give_the_same_result(short_day: SimulatedDay) -> None:
    analyzer = DailyAnalyzer(window_s=300.0, with_kinematics=False)
    a = analyzer.run(short_day.recording())
    b = analyzer.run(short_day.chunks(chunk_s=123.4))
    np.testing.assert_array_equal(a.ic_idx, b.ic_idx)
    assert a.days[0].steps == b.days[0].steps
    assert a.days[0].wear_s == b.days[0].wear_s


def test_chunks_must_follow_each_other(short_day: SimulatedDay) -> None:
    chunks = list(short_day.chunks(chunk_s=60.0))[:3]
    with pytest.raises(AnalysisError, match="consecutive"):
        DailyAnalyzer(with_kinematics=False).run([chunks[0], chunks[2]])
    with pytest.raises(AnalysisError, match="pelvis"):
        DailyAnalyzer().run([chunks[0].select(["left_thigh"])])
    with pytest.raises(AnalysisError, match="no data"):
        DailyAnalyzer().run([])


# ----------------------------------------------------------------------------------------- sufficiency
def test_insufficient_days_are_marked_and_not_averaged_in() -> None:
    # Local midnight falls 10 minutes in: the first day holds one short walk, the second a three-minute walk.
    schedule = [
        Segment(kind="sit", duration_s=540.0),
        Segment(kind="stand", duration_s=5.0),
        Segment(kind="walk", duration_s=12.0),
        Segment(kind="stand", duration_s=5.0),
        Segment(kind="sit", duration_s=100.0),
        Segment(kind="stand", duration_s=5.0),
        Segment(kind="walk", duration_s=120.0),
        Segment(kind="turn", duration_s=2.5, turn_deg=180.0),
        Segment(kind="walk", duration_s=60.0),
        Segment(kind="stand", duration_s=5.0),
        Segment(kind="sit", duration_s=60.0),
    ]
    midnight = 20_000 * 86_400.0
    day = simulate_day(WalkerParams(), schedule=schedule, random_mounting=True, seed=3, start_time_s=midnight - 600.0)
    rules = DailyRules(min_wear_s=300.0, min_walking_s=60.0)
    result = DailyAnalyzer(rules=rules, with_kinematics=False).run(day.chunks(chunk_s=100.0))
    first, second = result.days
    assert (first.date, second.date) == ("2024-10-03", "2024-10-04")
    assert first.stop_idx == second.start_idx == 60_000
    assert not first.sufficient
    assert any("walking" in reason for reason in first.reasons)
    assert first.steps > 0
    assert second.sufficient, second.reasons
    summary = result.summary()
    assert (summary["n_days"], summary["n_sufficient_days"], summary["enough_days"]) == (2, 1, False)
    assert summary["steps"] == second.steps
    # With the shipped rules neither day is long enough to count.
    strict = DailyAnalyzer(with_kinematics=False).run(day.chunks(chunk_s=100.0))
    assert not any(d.sufficient for d in strict.days)
    assert all(any("worn" in reason for reason in d.reasons) for d in strict.days)
    assert math.isnan(strict.summary()["steps"])


def test_a_still_hour_counts_as_not_worn() -> None:
    n = int(2 * 3600 * FS)
    acc = np.zeros((1, n, 3))
    acc[0, :, 2] = 9.81
    gyr = np.zeros((1, n, 3))
    rng = np.random.default_rng(0)
    acc += rng.normal(0.0, 0.02, acc.shape)
    # Two hours on a table, with 20 minutes of slow swaying (moving, not walking) in the second hour.
    moving = slice(int(4800 * FS), int(6000 * FS))
    gyr[0, moving, 0] = 20.0 * np.sin(2.0 * np.pi * 0.1 * np.arange(moving.stop - moving.start) / FS)
    rec = Recording(acc_mps2=acc, gyr_dps=gyr, sampling_rate_hz=FS, placements=("pelvis",))
    result = DailyAnalyzer(with_kinematics=False).run(rec)
    (day,) = result.days
    assert day.recorded_s == pytest.approx(7200.0)
    # The first 80 minutes are one still run (≥ 60 min): not worn; the last 20 minutes are too short to be.
    assert day.non_wear_s == pytest.approx(4800.0, abs=2.0)
    assert day.wear_s == pytest.approx(2400.0, abs=2.0)
    assert day.steps == 0


def test_time_between_wear_periods_is_not_recorded_and_dropouts_are_lost(short_day: SimulatedDay) -> None:
    rec = short_day.recording()
    valid = rec.valid.copy()
    valid[:, 30_000:90_000] = False  # ten minutes off (not recorded: no warning for it)

    def run(v: np.ndarray) -> tuple[str, ...]:
        gap = Recording(acc_mps2=rec.acc_mps2, gyr_dps=rec.gyr_dps, sampling_rate_hz=FS, placements=rec.placements,
                        valid=v)  # fmt: skip
        return DailyAnalyzer(pipeline=GaitPipeline(height_m=1.70), with_kinematics=False).run(gap).warnings

    assert not [w for w in run(valid) if "lost" in w]
    # Dropped packets while recording: 20-sample holes every 200 samples, 10 % of what was recorded.
    dropped = valid.copy()
    for start in range(0, rec.n_samples, 200):
        dropped[:, start : start + 20] = False
    (lost,) = [w for w in run(dropped) if "lost" in w]  # one warning for the recording, not one per window
    recorded = int(valid[0].sum())
    share = 100 * (recorded - int(dropped[0].sum())) / recorded
    assert f"lost {share:.1f}% of its samples while recording" in lost, (lost, share)


# -------------------------------------------------------------------- Mobilise-D rules and vectorised parts
def test_walking_bout_rules() -> None:
    # Runs of ICs every 0.5 s; run ids as a pipeline would give them.
    def ics(start_s: float, n: int) -> list[int]:
        return [round((start_s + 0.5 * i) * FS) for i in range(n)]

    ic = np.array(ics(0, 6) + ics(5.5, 6) + ics(11.0, 6) + ics(20.0, 5) + ics(30.0, 2) + ics(32.0, 6))
    piece = np.repeat([0, 1, 2, 3, 4, 5], [6, 6, 6, 5, 2, 6])
    wb = walking_bouts(ic, piece, FS)
    # 0→1: break 3.0 s (≤ 3 s: one WB); 1→2: 3.0 s again; 2→3: 6.5 s (new WB); run 3 holds 3 strides (< 4: no
    # WB on its own); run 4 has 2 ICs (no stride: neither counted nor bridging), so run 5 stands alone.
    assert wb.tolist() == [0] * 18 + [-1] * 5 + [-1] * 2 + [1] * 6
    assert walking_bouts(ic, piece, FS, max_break_s=2.9).tolist()[:18] == [0] * 6 + [1] * 6 + [2] * 6


def _walking_bouts_loop(
    ic: np.ndarray, piece: np.ndarray, fs: float, max_break_s: float, min_strides: int
) -> list[int]:
    runs: list[list[int]] = []
    for i in range(ic.size):
        if i and piece[i] == piece[i - 1]:
            runs[-1].append(i)
        else:
            runs.append([i])
    out = [-1] * ic.size
    groups: list[list[list[int]]] = []
    for run in runs:
        if len(run) < 3:
            continue
        if groups and (ic[run[0]] - ic[groups[-1][-1][-1]]) / fs <= max_break_s:
            groups[-1].append(run)
        else:
            groups.append([run])
    number = 0
    for group in groups:
        if sum(len(run) - 2 for run in group) >= min_strides:
            for run in group:
                for i in run:
                    out[i] = number
            number += 1
    return out


def _random_contacts(seed: int) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    ic, piece, t = [], [], 0.0
    for p in range(int(rng.integers(1, 40))):
        t += float(rng.choice([0.8, 2.0, 3.0, 3.5, 10.0]))
        for _ in range(int(rng.integers(1, 25))):
            ic.append(round(t * FS))
            piece.append(p)
            t += float(rng.uniform(0.4, 0.7))
    ic_arr = np.asarray(ic, dtype=np.int64)
    length = rng.uniform(0.5, 0.8, ic_arr.size)
    length[rng.random(ic_arr.size) < 0.1] = np.nan
    straight = rng.random(ic_arr.size) > 0.2
    turns = np.sort(rng.integers(0, max(1, int(ic_arr.max(initial=1))), 6))
    return ic_arr, np.asarray(piece, dtype=np.int64), length, straight, turns


@pytest.mark.parametrize("seed", range(12))
def test_walking_bouts_equal_a_per_run_loop(seed: int) -> None:
    ic, piece, *_ = _random_contacts(seed)
    for max_break_s, min_strides in ((3.0, 4), (1.0, 2), (5.0, 10)):
        fast = walking_bouts(ic, piece, FS, max_break_s=max_break_s, min_strides=min_strides)
        assert fast.tolist() == _walking_bouts_loop(ic, piece, FS, max_break_s, min_strides)


@pytest.mark.parametrize("seed", range(12))
def test_walking_bout_table_equals_a_per_bout_loop(seed: int) -> None:
    ic, piece, length, straight, turns = _random_contacts(seed)
    wb = walking_bouts(ic, piece, FS)
    table = walking_bout_table(ic, piece, wb, length, straight, turns, FS, start_time_s=1e9, utc_offset_s=3600.0)
    assert table.n == (int(wb.max()) + 1 if wb.size else 0)
    for w in range(table.n):
        pos = np.flatnonzero(wb == w)
        steps = [j for j in pos[:-1] if piece[j + 1] == piece[j] and wb[j + 1] == w]
        strides = [j for j in pos[:-2] if piece[j + 2] == piece[j] and piece[j + 1] == piece[j]]
        step_time = [(ic[j + 1] - ic[j]) / FS for j in steps]
        with_len = [j for j in steps if np.isfinite(length[j + 1])]
        stride_time = np.array([(ic[j + 2] - ic[j]) / FS for j in strides])
        stride_len = np.array([length[j + 1] + length[j + 2] for j in strides])
        is_straight = np.array([straight[j + 1] and straight[j + 2] for j in strides], dtype=bool)
        sel = is_straight if is_straight.sum() >= 4 else np.ones(len(strides), dtype=bool)
        assert table.start_idx[w] == ic[pos[0]] and table.stop_idx[w] == ic[pos[-1]]
        assert table.n_steps[w] == pos.size and table.n_strides[w] == len(strides)
        assert table.duration_s[w] == pytest.approx((ic[pos[-1]] - ic[pos[0]]) / FS)
        assert table.cadence_spm[w] == pytest.approx(60.0 * len(steps) / sum(step_time))
        speed = sum(length[j + 1] for j in with_len) / sum((ic[j + 1] - ic[j]) / FS for j in with_len)
        assert table.walking_speed_mps[w] == pytest.approx(speed)
        assert table.stride_length_m[w] == pytest.approx(np.nanmean(stride_len))
        assert table.stride_time_s[w] == pytest.approx(stride_time[sel].mean())
        cv = 100.0 * stride_time[sel].std(ddof=1) / stride_time[sel].mean() if sel.sum() >= 2 else np.nan
        assert table.stride_time_cv_pct[w] == pytest.approx(cv, nan_ok=True)
        assert table.n_turns[w] == np.count_nonzero((turns >= ic[pos[0]]) & (turns <= ic[pos[-1]]))
        assert table.day[w] == math.floor((1e9 + ic[pos[0]] / FS + 3600.0) / 86400.0)


def test_still_epochs_equal_a_per_epoch_loop() -> None:
    rng = np.random.default_rng(4)
    n, epoch = 1037, 100
    acc = rng.normal(0.0, 0.05, (n, 3)) + np.array([0.0, 0.0, 9.81])
    gyr = rng.normal(0.0, 1.0, (n, 3))
    acc[300:400] += rng.normal(0.0, 1.0, (100, 3))  # moving epoch
    gyr[500:600, 0] += 20.0  # turning epoch
    valid = rng.random(n) > 0.05
    valid[700:760] = False  # mostly lost epoch
    acc[~valid] = np.nan
    gyr[~valid] = np.nan
    count, still = still_epochs(acc, gyr, valid, epoch)
    assert count.size == still.size == 11
    for e in range(11):
        sl = slice(e * epoch, min(n, (e + 1) * epoch))
        ok = valid[sl]
        norm = np.linalg.norm(acc[sl][ok], axis=-1)
        rate = np.linalg.norm(gyr[sl][ok], axis=-1)
        expected = ok.sum() * 2 >= epoch and norm.std() < 0.15 and rate.mean() < 8.0
        assert count[e] == ok.sum()
        assert still[e] == expected, e
    assert not still[3] and not still[5] and not still[7] and not still[10]


def test_rules_come_from_the_rules_file() -> None:
    rules = DailyRules.from_rules()
    assert (rules.min_strides, rules.max_break_s) == (4, 3.0)
    assert rules.duration_classes_s == (10.0, 30.0, 60.0)
    assert rules.kinematics_min_bout_s == 30.0 and rules.kinematics_trim_strides == 2
    assert rules.speed_bin_mps == pytest.approx(0.3)
    assert set(rules.interim) >= {"min_wear", "min_walking", "non_wear", "kinematics_min_strides"}
    assert "CLINICAL.md §5" in rules.sources["min_strides"] and "[72]" in rules.sources["max_break"]
    with pytest.raises(RulesError, match=r"daily\.\w+: expected"):
        DailyRules.from_rules(parse_rules(_RULES_WITHOUT_DAILY))


_RULES_WITHOUT_DAILY = (
    """
version = "x"
[speed]
reference_low_mps = 0.8
reference_high_mps = 1.6
reference_source = ""
baseline_bin_mps = 0.15
baseline_bin_source = ""
min_reliable_mps = 0.5
min_reliable_source = ""
[norms]
[mdc]
[confidence]
[flags]
"""
    + "".join(f'[flags.F{i}]\nname = "x"\nkind = "flag"\n' for i in range(1, 10))
    + "[caveats]\ntext = []\n"
)
