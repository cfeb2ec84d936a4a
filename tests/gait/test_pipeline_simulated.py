"""The pipeline against simulated walkers with known truth (hardware.simulator), any sensor mounting."""

from __future__ import annotations

import numpy as np
import pytest

from gait.errors import AnalysisError
from gait.pipeline import GaitPipeline
from gait.recording import Recording
from gait.report import build_report
from hardware.simulator import WalkerParams, simulate_session
from tests.voisard import match_events


@pytest.mark.parametrize(("speed_mps", "seed"), [(0.8, 1), (1.2, 2), (1.5, 3)])
def test_events_and_cadence_match_truth_with_random_mounting(speed_mps: float, seed: int) -> None:
    session = simulate_session(WalkerParams(speed_mps=speed_mps), random_mounting=True, seed=seed)
    truth = session.truth
    result = GaitPipeline(height_m=session.params.height_m).run(session.recording)
    ref = np.sort(np.concatenate([truth.ic_left_idx, truth.ic_right_idx]))
    err = match_events(result.ic_idx, ref, tolerance=25)
    recall = err.size / ref.size
    precision = err.size / result.ic_idx.size
    assert recall >= 0.9, recall
    assert precision >= 0.97, precision
    # Timing is validated on real recordings (docs/validation.md: 18.8 ms MAE). On the simulator the detector is a
    # constant ~45 ms early: the model's forward-acceleration peak sits earlier before heel strike than in real
    # lower-back data, a known simulator limitation (docs/simulator.md). This gate checks consistency only.
    timing_ms = 1000.0 / session.recording.sampling_rate_hz * err
    assert np.mean(np.abs(timing_ms)) <= 60.0
    assert np.std(timing_ms) <= 15.0
    assert result.summary.value("cadence_spm") == pytest.approx(truth.cadence_spm, abs=2.0)
    # Sides: every matched IC carries the true side.
    left = set(truth.ic_left_idx.tolist())
    for ic, side in zip(result.ic_idx, result.side, strict=True):
        nearest = ref[np.argmin(np.abs(ref - ic))]
        if abs(nearest - ic) <= 5:
            assert side == (0 if nearest in left else 1)
    assert result.alignment.confidence > 0.5
    assert len(result.turns) >= 1


def test_pelvis_only_recording_with_lost_samples_reports_gaps() -> None:
    session = simulate_session(WalkerParams(), seed=5)
    rec = session.recording.select(["pelvis"])
    acc = np.array(rec.acc_mps2)
    acc[0, 2000:2060] = np.nan  # 0.6 s lost in the first walk
    lossy = Recording(acc_mps2=acc, gyr_dps=rec.gyr_dps, sampling_rate_hz=rec.sampling_rate_hz, placements=("pelvis",))
    result = GaitPipeline().run(lossy)
    assert not ((result.ic_idx >= 2000) & (result.ic_idx < 2060)).any()
    assert result.longest_gap_s == pytest.approx(0.6)
    assert any("sensor height" in w for w in result.warnings)
    report = build_report(result)
    assert report["schema"] == "fusiongait.report/1"
    assert report["quality"]["gaps"]["longest_gap_s"] == pytest.approx(0.6)
    assert {e["type"] for e in report["events"]} == {"initial_contact", "final_contact"}
    assert all(e["side"] in ("left", "right") for e in report["events"])


def test_standing_only_gives_no_walking_warning_not_garbage() -> None:
    from hardware.simulator import Segment

    session = simulate_session(WalkerParams(), schedule=(Segment(kind="stand", duration_s=20.0),), seed=1)
    result = GaitPipeline().run(session.recording)
    assert result.ic_idx.size == 0
    assert any("no walking found" in w for w in result.warnings)
    report = build_report(result)
    assert report["spatiotemporal"]["cadence_spm"] is None


def test_missing_pelvis_is_an_analysis_error() -> None:
    session = simulate_session(WalkerParams(), seed=1)
    with pytest.raises(AnalysisError, match="pelvis"):
        GaitPipeline().run(session.recording.select(["left_thigh", "right_thigh"]))


def test_body_frame_recording_skips_alignment_and_gives_the_same_events() -> None:
    session = simulate_session(WalkerParams(), random_mounting=True, seed=6)
    pelvis = session.recording.select(["pelvis"])
    in_sensor = GaitPipeline().run(pelvis)
    rot = in_sensor.alignment.rotation
    body = Recording(
        acc_mps2=pelvis.acc_mps2 @ rot.T, gyr_dps=pelvis.gyr_dps @ rot.T, sampling_rate_hz=pelvis.sampling_rate_hz,
        placements=("pelvis",), frame="body",
    )  # fmt: skip
    in_body = GaitPipeline().run(body)
    np.testing.assert_allclose(in_body.alignment.rotation, np.eye(3))
    assert in_body.alignment.confidence == 1.0
    assert np.max(np.abs(in_body.ic_idx - in_sensor.ic_idx)) <= 1
    assert np.array_equal(in_body.side, in_sensor.side)
