"""The simulated day at home (hardware.simulator.day) and the schedule features it needs (sitting, segment speeds)."""

from __future__ import annotations

import numpy as np
import pytest

from hardware.simulator import Segment, SimulatorError, WalkerParams, simulate_session
from hardware.simulator.day import DayPlan, home_day_schedule, simulate_day

FS = 100.0


def test_home_day_schedule_has_the_structure_of_a_day() -> None:
    params = WalkerParams(speed_mps=1.1)
    schedule = home_day_schedule(DayPlan(wear_h=6.0), params, np.random.default_rng(1))
    assert sum(s.duration_s for s in schedule) == pytest.approx(6 * 3600.0, abs=0.2)
    kinds = [s.kind for s in schedule]
    assert kinds[0] == "sit" and kinds[-1] in ("sit", "stand")
    sits = [s.duration_s for s in schedule if s.kind == "sit"]
    assert len(sits) >= 8 and max(sits) <= 40 * 60.0 + 0.1
    walking = sum(s.duration_s for s in schedule if not s.still)
    assert 0.03 < walking / (6 * 3600.0) < 0.25
    # Walks (consecutive walk/turn segments): short ones of a few steps and long ones of minutes, with turns.
    walks: list[float] = []
    for previous, seg in zip((None, *schedule[:-1]), schedule, strict=True):
        if not seg.still:
            if previous is None or previous.still:
                walks.append(0.0)
                assert seg.kind == "walk"
            walks[-1] += seg.duration_s
        if seg.kind == "sit":
            assert previous is None or previous.still
    assert min(walks) < 10.0 and max(walks) > 100.0
    assert any(s.kind == "turn" for s in schedule)
    assert len({s.speed_factor for s in schedule if not s.still}) > 5
    short_pauses = [s for s in schedule if s.kind == "stand" and s.duration_s < 3.0]
    assert short_pauses


def test_sitting_posture_and_segment_speed() -> None:
    schedule = [
        Segment(kind="sit", duration_s=10.0),
        Segment(kind="stand", duration_s=4.0),
        Segment(kind="walk", duration_s=12.0, speed_factor=0.7),
        Segment(kind="walk", duration_s=12.0, speed_factor=1.2),
        Segment(kind="stand", duration_s=4.0),
        Segment(kind="sit", duration_s=8.0),
    ]
    session = simulate_session(WalkerParams(), schedule=schedule, seed=2)
    truth = session.truth
    # Seated: pelvis tilted back 25°, thighs horizontal (hip flexion 65° = 90° + tilt); standing in between.
    assert truth.pelvis_angles_deg[500, 0] == pytest.approx(-25.0)
    assert truth.hip_flexion_deg[:, 500] == pytest.approx([65.0, 65.0])
    assert truth.thigh_inclination_deg[:, 500] == pytest.approx([90.0, 90.0], abs=0.5)
    assert truth.pelvis_angles_deg[1200, 0] == pytest.approx(0.0, abs=1e-9)
    assert truth.pelvis_angles_deg[-100, 0] == pytest.approx(-25.0)
    # Speed follows the segments' factors; the cadence the walk ratio (∝ √factor).
    assert truth.speed_mps[1900] == pytest.approx(0.7 * 1.25, rel=0.05)
    assert truth.speed_mps[3300] == pytest.approx(1.2 * 1.25, rel=0.05)
    ic = np.sort(np.concatenate([truth.ic_left_idx, truth.ic_right_idx]))
    slow = np.diff(ic[(ic > 1700) & (ic < 2500)]).mean()
    fast = np.diff(ic[(ic > 3000) & (ic < 3700)]).mean()
    assert slow / fast == pytest.approx(np.sqrt(1.2 / 0.7), rel=0.05)
    # The sacral sensor sees gravity tilt by 25° between standing and sitting.
    acc = session.recording.acc_mps2[0]
    up_sit, up_stand = acc[300:700].mean(axis=0), acc[1150:1350].mean(axis=0)
    angle = np.degrees(np.arccos(up_sit @ up_stand / np.linalg.norm(up_sit) / np.linalg.norm(up_stand)))
    assert angle == pytest.approx(25.0, abs=1.0)


def test_schedule_errors_name_the_problem() -> None:
    with pytest.raises(SimulatorError, match="standing between"):
        simulate_session(
            WalkerParams(), schedule=[Segment(kind="sit", duration_s=5.0), Segment(kind="walk", duration_s=6)]
        )
    with pytest.raises(SimulatorError, match="sitting period"):
        simulate_session(
            WalkerParams(),
            schedule=[
                Segment(kind="stand", duration_s=5.0),
                Segment(kind="sit", duration_s=3.0),
                Segment(kind="stand", duration_s=5.0),
            ],
        )
    with pytest.raises(SimulatorError, match="speed_factor"):
        Segment(kind="walk", duration_s=5.0, speed_factor=3.0)
    with pytest.raises(SimulatorError, match="speed_factor"):
        simulate_session(WalkerParams(speed_mps=2.0), schedule=[Segment(kind="walk", duration_s=9.0, speed_factor=1.5)])


@pytest.fixture(scope="module")
def day_schedule() -> list[Segment]:
    return [
        Segment(kind="sit", duration_s=60.0),
        Segment(kind="stand", duration_s=5.0),
        Segment(kind="walk", duration_s=15.0, speed_factor=0.9),
        Segment(kind="turn", duration_s=2.0, turn_deg=90.0, speed_factor=0.9),
        Segment(kind="walk", duration_s=10.0, speed_factor=0.9),
        Segment(kind="stand", duration_s=30.0),
        Segment(kind="walk", duration_s=6.0, speed_factor=0.8),
        Segment(kind="stand", duration_s=2.0),
        Segment(kind="walk", duration_s=6.0, speed_factor=0.8),
        Segment(kind="stand", duration_s=6.0),
        Segment(kind="sit", duration_s=40.0),
    ]


def test_day_is_the_session_model_cut_at_still_periods(day_schedule: list[Segment]) -> None:
    params = WalkerParams(acc_noise_mps2=0.0, gyr_noise_dps=0.0, acc_bias_mps2=0.0, gyr_bias_dps=0.0,
                          gyr_bias_drift_dps_per_sqrt_s=0.0, scale_error=0.0)  # fmt: skip
    day = simulate_day(params, schedule=day_schedule, seed=4)
    whole = simulate_session(params, schedule=day_schedule, seed=4)
    rec = day.recording()
    assert rec.n_samples == whole.recording.n_samples == day.n_samples
    # Still stretches: the same signal as one simulated session (a still body is a constant).
    for a, b in ((200, 5500), (9700, 11700), (14700, 18100)):
        np.testing.assert_allclose(rec.acc_mps2[:, a:b], whole.recording.acc_mps2[:, a:b], atol=1e-6)
        np.testing.assert_allclose(rec.gyr_dps[:, a:b], whole.recording.gyr_dps[:, a:b], atol=1e-6)
    # The truth: three walks (the 2 s pause splits the last two), every contact inside its walk.
    t = day.truth
    assert t.walk_start_idx.size == 3
    ref = np.sort(np.concatenate([whole.truth.ic_left_idx, whole.truth.ic_right_idx]))
    assert t.ic_idx.size == pytest.approx(ref.size, abs=2)
    for w in range(3):
        mine = t.ic_idx[t.ic_walk == w]
        assert mine.size >= 6
        assert t.walk_start_idx[w] <= mine.min() and mine.max() < t.walk_stop_idx[w]
    assert set(np.unique(t.ic_side)) == {0, 1}
    assert t.sitting_s == 100.0 and t.walking_s == pytest.approx(39.0)
    assert t.walk_speed_mps.tolist() == pytest.approx([1.125, 1.0, 1.0])


def test_day_samples_do_not_depend_on_the_chunk_size(day_schedule: list[Segment]) -> None:
    day = simulate_day(WalkerParams(), schedule=day_schedule, random_mounting=True, seed=9, start_time_s=1000.0)
    whole = day.recording()
    chunks = list(day.chunks(chunk_s=17.3))
    assert [c.start_time_s for c in chunks[:2]] == pytest.approx([1000.0, 1017.3])
    joined = np.concatenate([c.acc_mps2 for c in chunks], axis=-2)
    np.testing.assert_array_equal(joined, whole.acc_mps2)
    np.testing.assert_array_equal(np.concatenate([c.gyr_dps for c in chunks], axis=-2), whole.gyr_dps)
    # The gyro bias drifts continuously: no jump at the 10 s error blocks or the still fills.
    still = whole.gyr_dps[:, 200:5500]
    assert np.abs(np.diff(still, axis=-2)).max() < 8 * WalkerParams().gyr_noise_dps
