"""Home trends (CLINICAL.md §5 rule 5): weekly medians, the personal MDC95 and the 2-week persistence rule."""

from __future__ import annotations

import numpy as np
import pytest

from gait.errors import GaitError
from gait.trends import TrendAnalyzer, rolling_median


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
