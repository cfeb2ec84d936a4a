"""Step detection at slow speed and at the edges of a walk (issues 2 and 9): one candidate per step, and the first
and last contacts of short slow walks, against simulated walkers with known truth and against loops."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from gait.bouts import BoutDetector, _one_per_step
from gait.events import PelvisEventDetector
from gait.pipeline import GaitPipeline
from hardware.simulator import Segment, simulate_session, slow_short_steps
from tests.voisard import match_events

FS = 100.0


def _one_per_step_loop(idx: np.ndarray, prominence: np.ndarray, min_gap: np.ndarray) -> np.ndarray:
    keep = np.ones(idx.size, dtype=bool)
    for i in range(idx.size):
        for j in range(idx.size):
            if i == j or abs(idx[j] - idx[i]) >= min(min_gap[i], min_gap[j]):
                continue
            # the later of two equal peaks goes
            if prominence[j] > prominence[i] or (prominence[j] == prominence[i] and j < i):
                keep[i] = False
    return keep


@pytest.mark.parametrize("seed", range(5))
def test_one_per_step_matches_a_loop(seed: int) -> None:
    rng = np.random.default_rng(seed)
    idx = np.cumsum(rng.integers(25, 120, size=60)).astype(np.int64)
    prominence = rng.choice([0.2, 0.5, 1.0, 1.5, 2.0, 3.0], size=idx.size)
    min_gap = rng.uniform(20.0, 90.0, size=idx.size)
    got = _one_per_step(idx, prominence, min_gap, max_gap=200)
    np.testing.assert_array_equal(got, _one_per_step_loop(idx, prominence, min_gap))


def _double_hump_walk(step_s: np.ndarray, hump: float) -> tuple[np.ndarray, np.ndarray]:
    """Vertical acceleration with a heel-strike peak per step and a second, smaller hump a third of a step later
    (slow walking), 2 s of stillness on either side; returns the signal and the true peaks."""
    ic_s = 2.0 + np.concatenate(([0.0], np.cumsum(step_s)))
    t = np.arange(0.0, ic_s[-1] + 2.0, 1.0 / FS)
    x = np.zeros_like(t)
    for k, t0 in enumerate(ic_s):
        period = step_s[min(k, step_s.size - 1)]
        x += 2.0 * np.exp(-0.5 * ((t - t0) / 0.05) ** 2)
        x += hump * 2.0 * np.exp(-0.5 * ((t - t0 - period / 3.0) / 0.05) ** 2)
    x -= x.mean()
    return x, np.round(ic_s * FS).astype(np.int64)


@pytest.mark.parametrize("step_s", [0.55, 0.75, 0.95])
def test_second_hump_of_a_slow_step_is_not_a_step(step_s: float) -> None:
    rng = np.random.default_rng(1)
    steps = step_s * (1.0 + 0.03 * rng.standard_normal(12))
    x, truth = _double_hump_walk(steps, hump=0.45)
    bd = BoutDetector()
    cand = bd.candidates(x, FS)
    walking = cand.idx[(cand.idx > truth[0] - 20) & (cand.idx < truth[-1] + 20)]
    assert walking.size == truth.size
    assert np.max(np.abs(walking - truth)) <= 3
    (bout,) = bd.bouts(cand, FS)
    assert bout.step_idx.size >= truth.size - 1
    if step_s > 3.0 * bd.min_step_s:
        # Without the rhythm rule a hump further than the minimum step time from its peak counted as a step, or
        # broke the walk into pieces (the defect this rule fixes).
        old = BoutDetector(rhythm_fraction=0.0)
        assert abs(sum(b.step_idx.size for b in old.bouts(old.candidates(x, FS), FS)) - truth.size) > 2


def test_step_period_follows_the_rhythm() -> None:
    steps = np.concatenate([np.full(10, 0.5), np.full(10, 0.9)])
    x, truth = _double_hump_walk(steps, hump=0.4)
    period = BoutDetector().step_period_s(x, truth, FS)
    assert np.median(period[2:8]) == pytest.approx(0.5, abs=0.03)
    assert np.median(period[13:19]) == pytest.approx(0.9, abs=0.05)


def test_opening_candidate_is_confirmed_by_its_rhythm_and_braking() -> None:
    """A heel strike one step before the first IC that brakes like the others is taken; a bump a swing time
    before it (toe-off) or one without braking is not."""
    step = 60
    ic = 300 + step * np.arange(8)
    t = np.arange(1200)

    def forward(extra: list[tuple[int, float]]) -> np.ndarray:
        fwd = np.zeros(t.size)
        for c, amp in [(int(i), 1.0) for i in ic] + extra:
            fwd += amp * np.exp(-0.5 * ((t - c + 2) / 3.0) ** 2) - amp * np.exp(-0.5 * ((t - c - 8) / 3.0) ** 2)
        return fwd

    ed = PelvisEventDetector()
    for opening, amp, accepted in [(ic[0] - step, 0.6, True), (ic[0] - 36, 0.6, False), (ic[0] - step, 0.2, False)]:
        fwd = forward([(int(opening), amp)])
        slope = np.gradient(fwd)
        steps_ic = ed.initial_contacts(fwd, slope, ic + 3, FS)
        got = ed.confirm_opening(fwd, slope, int(opening) + 3, steps_ic, FS)
        if accepted:
            assert abs(got - opening) <= 2
        else:
            assert got == -1
    assert ed.confirm_opening(fwd, slope, -1, ic, FS) == -1


@pytest.mark.parametrize(
    ("lead", "amp", "toe_off"),
    [
        (36, 0.2, True),  # a swing time before the first heel strike, barely braking: the toe-off
        (36, 0.9, False),  # as close, but brakes like a step: kept
        (60, 0.2, False),  # a whole step before, weak: a heel strike of a soft first step, kept
    ],
)
def test_first_ic_is_dropped_only_when_rhythm_and_braking_both_say_toe_off(
    lead: int, amp: float, toe_off: bool
) -> None:
    step = 60
    ic = 300 + step * np.arange(8)
    t = np.arange(1200)
    fwd = np.zeros(t.size)
    for c, a in [(int(i), 1.0) for i in ic] + [(int(ic[0]) - lead, amp)]:
        fwd += a * np.exp(-0.5 * ((t - c + 2) / 3.0) ** 2) - a * np.exp(-0.5 * ((t - c - 8) / 3.0) ** 2)
    ed = PelvisEventDetector()
    detected = ed.initial_contacts(fwd, np.gradient(fwd), np.concatenate(([ic[0] - lead], ic)) + 3, FS)
    assert abs(detected[0] - (ic[0] - lead)) <= 2
    assert ed.starts_with_toe_off(fwd, detected, FS) is toe_off
    assert ed.starts_with_toe_off(fwd, detected[:3], FS) is False  # too few steps to judge


@pytest.mark.parametrize(("speed_mps", "seed"), [(0.55, 21), (0.62, 22), (0.70, 23)])
def test_slow_short_walks_keep_their_first_and_last_contacts(speed_mps: float, seed: int) -> None:
    """Known truth: short slow walks (the slow walker of docs/validation.md), any mounting. Every contact, the
    first and last of each walk included, is found once."""
    params = dataclasses.replace(slow_short_steps(), speed_mps=speed_mps, height_m=1.62)
    schedule = (
        Segment(kind="stand", duration_s=3.0),
        Segment(kind="walk", duration_s=6.0, speed_factor=0.8),
        Segment(kind="stand", duration_s=5.0),
        Segment(kind="walk", duration_s=9.0, speed_factor=0.9),
        Segment(kind="stand", duration_s=5.0),
        Segment(kind="walk", duration_s=14.0),
        Segment(kind="stand", duration_s=3.0),
    )
    session = simulate_session(params, schedule=schedule, random_mounting=True, seed=seed)
    truth = session.truth
    result = GaitPipeline(height_m=params.height_m, with_kinematics=False).run(session.recording)
    ref = np.sort(np.concatenate([truth.ic_left_idx, truth.ic_right_idx]))
    err = match_events(result.ic_idx, ref, tolerance=25)
    assert err.size == ref.size, f"found {err.size} of {ref.size} contacts"
    assert result.ic_idx.size == ref.size
    assert len(result.bouts) == 3
    # Each walk is one bout that starts and ends at the walk's first and last contacts.
    gaps = np.flatnonzero(np.diff(ref) > 2.0 * FS)
    first = ref[np.concatenate(([0], gaps + 1))]
    last = ref[np.concatenate((gaps, [ref.size - 1]))]
    starts = np.array([b.start_idx for b in result.bouts])
    stops = np.array([b.stop_idx for b in result.bouts])
    assert np.max(np.abs(starts - first)) <= 12
    assert np.max(np.abs(stops - last)) <= 12
