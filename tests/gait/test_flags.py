"""Compensation flags F1–F9 on simulated walkers: each pattern fires its flag, the baseline arm needs persistence,
too little data is "insufficient data", and the rules file is the single source of the thresholds."""

from __future__ import annotations

import copy
import dataclasses
from collections.abc import Callable, Mapping
from typing import Any

import numpy as np
import pytest

from gait.errors import GaitError
from gait.flags import FLAG_IDS, Baseline, FlagEvaluator, SessionMetrics
from gait.norms import CLINICAL_RULES, REFERENCE_BANDS, RulesError, parse_rules
from gait.pipeline import GaitPipeline
from gait.recording import PELVIS
from gait.report import add_flags, build_report
from hardware.simulator import (
    Segment,
    WalkerParams,
    antalgic,
    anterior_tilt_compensation,
    pelvic_drop,
    reduced_hip_extension,
    simulate_session,
    slow_short_steps,
)

# Quiet standing (calibration), 25 s of walking (≥ 20 strides per side at normal speed), standing.
SCHEDULE = (
    Segment(kind="stand", duration_s=3.0),
    Segment(kind="walk", duration_s=25.0),
    Segment(kind="stand", duration_s=2.0),
)
# Follow-up sessions: 20 s of walking (about 16 strides per side: flags capped at "low", which is enough here).
SHORT_SCHEDULE = (
    Segment(kind="stand", duration_s=3.0),
    Segment(kind="walk", duration_s=20.0),
    Segment(kind="stand", duration_s=1.0),
)
Report = dict[str, Any]


def analyse(params: WalkerParams, *, seed: int = 1, schedule: tuple[Segment, ...] = SCHEDULE, **kw: Any) -> Report:
    session = simulate_session(params, schedule=schedule, random_mounting=True, seed=seed)
    recording = session.recording
    if kw.pop("pelvis_only", False):
        recording = recording.select([PELVIS])
    return build_report(GaitPipeline(height_m=params.height_m).run(recording), **kw)


def flags_of(report: Mapping[str, Any]) -> dict[str, dict[str, Any]]:
    return {f["id"]: f for f in report["flags"]}


PATTERNS: dict[str, tuple[Callable[[], WalkerParams], str, str | None, set[str]]] = {
    # name: (walker, matching flag, its side, related flags allowed to fire as well)
    "reduced hip extension, right": (lambda: reduced_hip_extension(side="right"), "F1", "right", set()),
    "reduced hip extension with anterior tilt": (anterior_tilt_compensation, "F2", None, {"F1"}),
    "pelvic drop, left stance": (lambda: pelvic_drop(side="left"), "F4", "left", {"F3"}),
    "pelvic drop, right stance": (lambda: pelvic_drop(side="right", drop_deg=4.0), "F4", "right", {"F3"}),
    "antalgic, right": (lambda: antalgic(side="right"), "F5", "right", set()),
    "slow short steps": (slow_short_steps, "F6", None, set()),
}


@pytest.fixture(scope="module")
def reports() -> dict[str, Report]:
    out = {name: analyse(make()) for name, (make, _, _, _) in PATTERNS.items()}
    out["healthy"] = analyse(WalkerParams())
    return out


@pytest.mark.parametrize("name", list(PATTERNS))
def test_pattern_fires_its_flag_and_unrelated_flags_stay_off(reports: dict[str, Report], name: str) -> None:
    _, expected, side, related = PATTERNS[name]
    flags = flags_of(reports[name])
    assert list(flags) == list(FLAG_IDS)
    hit = flags[expected]
    assert hit["status"] == "flagged", hit["message"]
    assert hit["level"] in ("low", "moderate", "high")
    if side is not None:
        assert hit["side"] == side
    assert hit["message"].startswith("Pattern consistent with") and "Review recommended" in hit["message"]
    assert "diagnos" not in hit["message"].lower()
    others = {fid for fid, f in flags.items() if f["status"] == "flagged"} - {expected} - related
    assert not others, {fid: flags[fid]["message"] for fid in others}


def test_healthy_walker_raises_nothing_above_low(reports: dict[str, Report]) -> None:
    flags = flags_of(reports["healthy"])
    assert all(f["level"] in ("none", "low", "insufficient data") for f in flags.values())
    assert not [f for f in flags.values() if f["status"] == "flagged"]
    # Without earlier sessions the trend-only and composite-of-changes flags cannot be judged.
    assert flags["F7"]["status"] == flags["F8"]["status"] == "insufficient data"
    assert "baseline" in flags["F7"]["message"]


def test_flag_entries_follow_the_contract(reports: dict[str, Report]) -> None:
    f1 = flags_of(reports["reduced hip extension, right"])["F1"]
    for key in ("id", "name", "side", "level", "value", "reference", "message", "confidence", "evidence"):
        assert key in f1
    assert f1["unit"] == "deg" and f1["value"] is not None and f1["value"] < 1.0
    assert "right peak hip extension" in f1["message"] and "°" in f1["message"]
    assert "reference" in f1["reference"] and "CLINICAL.md" in f1["reference"]
    met = [e for e in f1["evidence"] if e["met"]]
    assert met and all(e["arm"] == "norm" for e in met)
    report = reports["reduced hip extension, right"]
    assert report["caveats"] == list(CLINICAL_RULES.caveats)
    assert any("not a diagnosis" in c for c in report["caveats"])
    assert report["norms_version"] == CLINICAL_RULES.version


def test_pelvic_drop_metric_names_the_weak_stance_side(reports: dict[str, Report]) -> None:
    drop = reports["pelvic drop, left stance"]["kinematics"]["pelvis"]["contralateral_drop_deg"]
    assert drop["left"]["value"] - drop["right"]["value"] > 3.0
    healthy = reports["healthy"]["kinematics"]["pelvis"]["contralateral_drop_deg"]
    assert abs(healthy["left"]["value"] - healthy["right"]["value"]) < 1.0


# ------------------------------------------------------------------------------------------- insufficient data
def test_too_few_strides_gives_insufficient_data() -> None:
    short = (Segment(kind="stand", duration_s=3.0), Segment(kind="walk", duration_s=7.0))
    flags = flags_of(analyse(reduced_hip_extension(side="right"), schedule=short))
    for fid in ("F1", "F3", "F4", "F5", "F6"):
        assert flags[fid]["status"] == "insufficient data", flags[fid]
        assert flags[fid]["level"] == "insufficient data"
        assert "valid strides per side" in flags[fid]["message"]


def test_no_thigh_sensors_gives_insufficient_data_for_hip_flags() -> None:
    flags = flags_of(analyse(reduced_hip_extension(side="right"), pelvis_only=True))
    for fid in ("F1", "F2", "F9"):
        assert flags[fid]["status"] == "insufficient data", flags[fid]["message"]
    assert "no left thigh sensor" in flags["F1"]["message"]
    assert flags["F6"]["status"] == "not flagged"  # spatiotemporal flags still work


def test_failed_calibration_gives_insufficient_data(reports: dict[str, Report]) -> None:
    report = copy.deepcopy(reports["reduced hip extension, right"])
    kin = report["kinematics"]
    for side in ("left", "right"):
        kin["hip"][side] = {"available": False, "absolute": False}
        kin["calibration"][f"{side}_thigh"] = {
            "method": "walking",
            "quality": 0.1,
            "notes": ["no dominant flexion axis"],
        }
    flags = {f.id: f for f in FlagEvaluator().evaluate(SessionMetrics.from_report(report))}
    assert flags["F1"].status == "insufficient data" and "no dominant flexion axis" in flags["F1"].message
    kin["pelvis"] = {"available": False}
    flags = {f.id: f for f in FlagEvaluator().evaluate(SessionMetrics.from_report(report))}
    for fid in ("F2", "F3", "F4"):
        assert flags[fid].status == "insufficient data", flags[fid].message


def test_poor_calibration_caps_the_level(reports: dict[str, Report]) -> None:
    report = copy.deepcopy(reports["reduced hip extension, right"])
    report["kinematics"]["calibration"]["right_thigh"]["quality"] = 0.4
    f1 = {f.id: f for f in FlagEvaluator().evaluate(SessionMetrics.from_report(report))}["F1"]
    assert f1.flagged and f1.level == "low"
    assert any("right thigh quality 0.40" in r for r in f1.reasons)


def test_without_standing_no_mean_tilt_flag_and_hip_rom_only() -> None:
    walk_only = (Segment(kind="walk", duration_s=28.0),)
    flags = flags_of(analyse(reduced_hip_extension(side="right"), schedule=walk_only))
    assert flags["F2"]["status"] == "insufficient data" and "standing" in flags["F2"]["message"]
    assert flags["F1"]["status"] == "flagged" and flags["F1"]["side"] == "right"
    assert any("hip ROM only" in r for r in flags["F1"]["confidence"]["reasons"])


# ------------------------------------------------------------------------------------------------ baseline arm
def _session(k: int, *, changed: bool) -> Report:
    rng = np.random.default_rng(100 + k)
    params = WalkerParams(
        speed_mps=float(1.25 + rng.uniform(-0.03, 0.03)),
        hip_peak_flexion_right_deg=32.0,
        hip_peak_extension_right_deg=6.0 if changed else 14.0,
    )
    return analyse(params, seed=k, schedule=SHORT_SCHEDULE, session={"date": f"2026-01-{1 + k:02d}"})


@pytest.fixture(scope="module")
def sessions() -> list[Report]:
    """Ten sessions of one patient: the same body, new sensor placements and noise each time."""
    return [_session(k, changed=False) for k in range(10)]


@pytest.fixture(scope="module")
def changed() -> list[Report]:
    """The right hip loses 8° of extension (more than the 5° MDC, still above the norm cut-off) from session 5."""
    return [_session(k, changed=True) for k in range(4, 7)]


def _evaluate(current: Report, earlier: list[Report], plateau: int | None = None) -> dict[str, Any]:
    baseline = Baseline.of([SessionMetrics.from_report(r) for r in earlier], plateau_sessions=plateau)
    return {f.id: f for f in FlagEvaluator().evaluate(SessionMetrics.from_report(current), baseline)}


def test_noise_alone_over_ten_sessions_fires_nothing(sessions: list[Report]) -> None:
    for k in range(1, len(sessions)):
        flags = _evaluate(sessions[k], sessions[:k])
        fired = {fid: f.message for fid, f in flags.items() if f.status in ("flagged", "pending")}
        assert not fired, (k, fired)
        baseline_evidence = [e for f in flags.values() for e in f.evidence if e.arm == "baseline" and e.evaluated]
        assert baseline_evidence
        assert not any(e.met or e.pending for e in baseline_evidence)


def test_baseline_flag_fires_only_once_the_change_persists(sessions: list[Report], changed: list[Report]) -> None:
    plateau, history = sessions[:4], sessions[:4]
    first = _evaluate(changed[0], history)  # the change appears at session 5
    assert first["F1"].status == "pending", first["F1"].message
    assert "persists" in first["F1"].message
    assert not [e for e in first["F1"].evidence if e.arm == "norm" and e.met]  # the norm arm alone sees nothing
    second = _evaluate(changed[1], [*history, changed[0]])
    assert second["F1"].status == "flagged" and second["F1"].side == "right"
    assert second["F1"].arms == ("baseline",) and second["F1"].persistent
    third = _evaluate(changed[2], [*plateau, changed[0], changed[1]], plateau=4)
    assert third["F1"].flagged and third["F1"].level in ("low", "moderate", "high")
    others = {fid for fid, f in second.items() if f.flagged} - {"F1"}
    assert not others


def test_report_carries_the_baseline_trend(sessions: list[Report], changed: list[Report]) -> None:
    report = add_flags(changed[1], baselines=[*sessions[:4], changed[0]])
    trend = {t["metric"]: t for t in report["baseline"]["trend"]}
    ext = trend["hip_peak_extension_right_deg"]
    assert len(ext["sessions"]) == 6 and ext["sessions"][-1]["current"]
    assert ext["delta"] < -5.0 and ext["mdc"] == 5.0
    assert report["baseline"]["plateau_sessions"] == 4


def test_plateau_must_fit_the_sessions(sessions: list[Report]) -> None:
    with pytest.raises(GaitError, match="plateau_sessions"):
        Baseline.of([SessionMetrics.from_report(r) for r in sessions[:2]], plateau_sessions=3)


# ------------------------------------------------------------------------------------------------ rules file
def test_every_number_in_the_rules_has_a_source() -> None:
    for name, band in REFERENCE_BANDS.items():
        assert band.source, name
        assert band.low <= band.high, name
    for name, mdc in CLINICAL_RULES.mdc.items():
        assert mdc.source and mdc.value > 0, name
    for fid in FLAG_IDS:
        entry = CLINICAL_RULES.flags[fid]
        assert entry["name"] and any("source" in k for k in entry), fid
    obliquity = REFERENCE_BANDS["obliquity_rom_deg"]
    assert obliquity.at_speed(0.6).mean == 6.9 and obliquity.at_speed(1.2).mean == 8.2
    assert obliquity.at_speed(1.6).mean == 9.7
    assert obliquity.at_speed(1.05).mean == pytest.approx((6.9 + 8.2) / 2)  # interpolated, no jump at bin edges


def test_malformed_rules_are_refused_with_the_entry_named() -> None:
    with pytest.raises(RulesError, match="not valid TOML"):
        parse_rules("version = ")
    with pytest.raises(RulesError, match="speed"):
        parse_rules('version = "x"')


def test_thresholds_come_from_the_rules(reports: dict[str, Report]) -> None:
    from importlib import resources

    text = resources.files("gait").joinpath("data", "clinical_rules.toml").read_text(encoding="utf-8")
    text = text.replace("hip_rom_min_deg = 35.0", "hip_rom_min_deg = 25.0")
    strict = parse_rules(text.replace("peak_extension_max_deg = 0.0", "peak_extension_max_deg = -2.0"))
    metrics = SessionMetrics.from_report(reports["reduced hip extension, right"])
    flags = {f.id: f for f in FlagEvaluator(rules=strict).evaluate(metrics)}
    assert not flags["F1"].flagged
    assert dataclasses.replace(metrics, label="x").label == "x"


def test_high_needs_persistence(reports: dict[str, Report]) -> None:
    report = reports["reduced hip extension, right"]
    alone = flags_of(report)["F1"]
    assert alone["level"] == "moderate" and alone["confidence"]["persistent"] is None
    again = flags_of(add_flags(report, baselines=[report]))["F1"]
    assert again["level"] == "high" and again["confidence"]["persistent"] is True
    assert any("previous session" in r for r in again["confidence"]["reasons"])
