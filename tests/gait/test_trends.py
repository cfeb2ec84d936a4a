"""Home trends (CLINICAL.md §5 rule 5): weekly medians, the personal MDC95 and the 2-week persistence rule."""

from __future__ import annotations

from datetime import date, timedelta

import numpy as np
import pytest

from gait.errors import GaitError
from gait.trends import TrendAnalyzer, home_baseline, rolling_median


def test_rolling_median_equals_a_loop_over_calendar_days() -> None:
    rng = np.random.default_rng(1)
    day = np.sort(rng.choice(np.arange(100, 160), size=45, replace=False))
    value = rng.normal(1.1, 0.05, day.size)
    valid = rng.random(day.size) > 0.2
    days, median, n_valid = rolling_median(day, value, valid)
    assert days[0] == day[0] and days[-1] == day[-1] and np.all(np.diff(days) == 1)
    for i, d in enumerate(days):  # the slow, obvious way
        inside = (day > d - 7) & (day <= d) & valid
        assert n_valid[i] == inside.sum()
        if inside.sum() >= 3:
            assert median[i] == pytest.approx(np.median(value[inside]))
        else:
            assert np.isnan(median[i])


def _series(change_from_day: int | None, *, seed: int, days: int = 56, step_mps: float = -0.15):
    rng = np.random.default_rng(seed)
    day = np.arange(days)
    value = 1.10 + rng.normal(0, 0.03, days)
    if change_from_day is not None:
        value[day >= change_from_day] += step_mps
    valid = rng.random(days) > 0.1  # a few days without enough walking
    baseline = day < 14  # a post-op plateau of two weeks
    return day, value, valid, baseline


def test_a_lasting_change_fires_after_two_weeks_and_not_before() -> None:
    day, value, valid, baseline = _series(28, seed=3)
    trend = TrendAnalyzer().run("walking_speed_mps", day, value, valid, baseline)
    assert trend.reason == ""
    assert trend.threshold == pytest.approx(max(trend.mdc95, 0.05))
    assert trend.first_persistent_day is not None
    # The weekly median crosses once most of a window is past the change (day 28 + 3..6); then 14 days must follow.
    assert 28 + 13 <= trend.first_persistent_day <= 28 + 6 + 13
    assert not trend.persistent[trend.days < 28 + 13].any()
    assert (trend.beyond[trend.persistent] == -1).all()


@pytest.mark.parametrize("seed", range(10))
def test_noise_alone_never_fires(seed: int) -> None:
    day, value, valid, baseline = _series(None, seed=seed)
    assert TrendAnalyzer().run("walking_speed_mps", day, value, valid, baseline).first_persistent_day is None


def test_a_change_that_does_not_last_two_weeks_does_not_fire() -> None:
    day, value, valid, baseline = _series(28, seed=4)
    value[day >= 36] -= -0.15  # back to baseline 8 days after the change
    trend = TrendAnalyzer().run("walking_speed_mps", day, value, valid, baseline)
    assert trend.beyond.any() and trend.first_persistent_day is None


def test_a_change_smaller_than_the_published_change_does_not_fire() -> None:
    day, value, valid, baseline = _series(20, seed=5, step_mps=-0.04)  # below 0.05 m/s [65], above the noise
    trend = TrendAnalyzer().run("walking_speed_mps", day, value, valid, baseline)
    assert trend.first_persistent_day is None


def test_without_enough_baseline_days_it_says_why() -> None:
    day, value, valid, baseline = _series(28, seed=6)
    trend = TrendAnalyzer().run("walking_speed_mps", day, value, valid & (day > 11), baseline)
    assert trend.first_persistent_day is None and "baseline has 2 valid days" in trend.reason
    with pytest.raises(GaitError, match="no published change"):
        TrendAnalyzer().run("cadence_spm", day, value, valid, baseline)


# ------------------------------------------------------------------------------------ HomeTrendReport
def _day(iso: str, *, speed: float, ext_left: float, sufficient: bool = True, strides: int = 40) -> dict:
    """A day entry as ``DailyResult.to_json`` writes it (only what the trend report reads)."""
    bin_ = {
        "speed_low_mps": 0.9,
        "speed_high_mps": 1.2,
        "n_strides": {"left": strides, "right": strides},
        "metrics": {
            "hip_peak_extension_left_deg": {"median": ext_left},
            "hip_peak_extension_right_deg": {"median": -12.0},
            "mean_tilt_deg": {"median": 10.0},
        },
        "derived": {"stance_symmetry_ratio": 1.01, "pelvic_drop_asymmetry_deg": 0.2},
    }
    return {
        "date": iso,
        "sufficient": sufficient,
        "steps": 5000,
        "walking_s": 3000.0,
        "walking_speed_median_mps": speed,
        "walking_speed_p90_mps": speed + 0.2,
        "kinematics": {"bins": [bin_]},
    }


def _home_days(n_days: int, change_day: int) -> list[dict]:
    import datetime as dt

    rng = np.random.default_rng(4)
    start = dt.date(2026, 3, 1)
    out = []
    for i in range(n_days):
        changed = i + 1 >= change_day
        out.append(
            _day(
                (start + dt.timedelta(days=i)).isoformat(),
                speed=1.10 + rng.normal(0, 0.01) - (0.15 if changed else 0.0),
                ext_left=-12.0 + rng.normal(0, 0.3),
            )
        )
    return out


def test_the_home_report_fires_f6_after_the_persistence_window_and_not_before() -> None:
    from gait.trends import HomeTrendReport

    # Baseline days 1-7; speed 0.15 m/s lower from day 8. The weekly median crosses on day 11 (4 of 7 days
    # changed); held 14 days in a row, the flag fires on day 24.
    days = _home_days(30, change_day=8)
    doc = HomeTrendReport().run(days, baseline=("2026-03-01", "2026-03-07"), baseline_source="test plateau")
    f6 = next(f for f in doc["flags"] if f["id"] == "F6")
    assert f6["status"] == "flagged" and f6["first_fired"] == "2026-03-24"
    assert f6["text"].startswith("Pattern consistent with") and "not a diagnosis" in f6["text"]
    speed = next(m for m in doc["metrics"] if m["metric"] == "walking_speed_median_mps")
    assert speed["first_persistent_date"] == "2026-03-24" and speed["unit"] == "m/s"
    assert speed["baseline_median"] == pytest.approx(1.10, abs=0.02)
    f1 = next(f for f in doc["flags"] if f["id"] == "F1")
    assert f1["status"] == "not flagged"  # hip extension did not change

    before = HomeTrendReport().run(days[:23], baseline=("2026-03-01", "2026-03-07"))
    f6_before = next(f for f in before["flags"] if f["id"] == "F6")
    assert f6_before["status"] == "pending" and f6_before["first_fired"] is None


def test_insufficient_days_and_thin_speed_bins_are_not_counted() -> None:
    from gait.trends import HomeTrendReport

    days = _home_days(10, change_day=99)
    days[2]["sufficient"] = False
    days[3] = _day(days[3]["date"], speed=1.1, ext_left=-30.0, strides=5)  # too few strides in the bin
    doc = HomeTrendReport().run(days, baseline=("2026-03-01", "2026-03-07"))
    assert doc["baseline"]["valid_days"] == 6
    ext = next(m for m in doc["metrics"] if m["metric"] == "hip_peak_extension_left_deg")
    assert [d["valid"] for d in ext["daily"][:4]] == [True, True, False, False]
    assert ext["baseline_days"] == 5
    with pytest.raises(GaitError, match="one entry per date"):
        HomeTrendReport().run(days + days[:1], baseline=("2026-03-01", "2026-03-07"))


def test_without_enough_baseline_days_the_flags_say_why() -> None:
    from gait.trends import HomeTrendReport

    doc = HomeTrendReport().run(_home_days(10, change_day=99), baseline=("2026-03-01", "2026-03-02"))
    f6 = next(f for f in doc["flags"] if f["id"] == "F6")
    assert f6["status"] == "insufficient data" and "at least 3 are needed" in f6["text"]


def _days(first: str, n: int, sufficient: bool = True) -> list[dict[str, object]]:
    start = date.fromisoformat(first)
    return [{"date": (start + timedelta(days=i)).isoformat(), "sufficient": sufficient} for i in range(n)]


def test_the_home_baseline_is_the_given_period_else_the_pre_op_week_else_the_first_week() -> None:
    days = _days("2026-03-01", 20)
    given = home_baseline(days, period=(date(2026, 3, 10), date(2026, 3, 16)), min_valid_days=3)
    assert given == ("2026-03-10", "2026-03-16", "baseline period given")
    # Surgery on the 12th: the week before holds 7 valid days (rule 4a).
    assert home_baseline(days, surgery_date=date(2026, 3, 12), min_valid_days=3) == (
        "2026-03-05",
        "2026-03-11",
        "pre-op home week (CLINICAL.md §5 rule 4a)",
    )
    # Surgery on the 3rd: two days before it, too few: the first week, with the hint to set the plateau (rule 4b).
    first, last, source = home_baseline(days, surgery_date=date(2026, 3, 3), min_valid_days=3, plateau_hint="do X")
    assert (first, last) == ("2026-03-01", "2026-03-07")
    assert source.startswith("first week of monitoring") and "do X" in source and "rule 4b" in source
    # Pre-op days that do not count are not a baseline either.
    few = _days("2026-03-05", 7, sufficient=False) + _days("2026-03-12", 5)
    assert home_baseline(few, surgery_date=date(2026, 3, 12), min_valid_days=3)[0] == "2026-03-05"
    assert home_baseline([], min_valid_days=3) is None
