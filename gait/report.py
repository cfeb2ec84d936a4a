"""Report assembly: a :class:`~gait.pipeline.GaitResult` as the JSON contract of DESIGN.md §4.

``build_report`` returns plain JSON-ready data (dicts, lists, floats, None for a value that could not be computed);
writing it anywhere is the caller's business. Events become seconds here, at the report edge (DESIGN.md §2).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any, Final

import numpy as np

from gait.flags import Baseline, FlagEvaluator, SessionMetrics, metric_label
from gait.kinematics import SIDES, CycleCurves, KinematicsResult
from gait.norms import CLINICAL_RULES, NORMS_VERSION
from gait.pipeline import GaitResult
from gait.recording import PELVIS
from gait.summary import Metric, SpatiotemporalSummary, metric

__all__ = ["CAVEATS", "REPORT_SCHEMA", "TREND_METRICS", "add_flags", "build_report", "summary_text"]

REPORT_SCHEMA: Final = "fusiongait.report/1"
_SIDES: Final = {0: "left", 1: "right"}

#: CLINICAL.md §4 caveats (from the rules file); they must appear wherever flags are shown.
CAVEATS: Final = CLINICAL_RULES.caveats
#: Metrics whose trend against the baseline is reported (and drawn in the HTML report).
TREND_METRICS: Final = (
    "walking_speed_mps",
    "step_length_m",
    "cadence_spm",
    "hip_peak_extension_left_deg",
    "hip_peak_extension_right_deg",
    "hip_sagittal_rom_left_deg",
    "hip_sagittal_rom_right_deg",
    "mean_tilt_deg",
    "tilt_rom_deg",
    "obliquity_rom_deg",
    "rotation_rom_deg",
    "pelvic_drop_asymmetry_deg",
    "stance_symmetry_ratio",
    "swing_symmetry_ratio",
    "stride_time_sd_s",
)


def _num(x: float | None) -> float | None:
    return None if x is None or not math.isfinite(x) else round(float(x), 4)


def _metric_dict(m: Metric) -> dict[str, Any]:
    out: dict[str, Any] = {
        "value": _num(m.value),
        "unit": m.unit,
        "sd": _num(m.sd),
        "n": m.n,
        "ci95": _num(m.ci95),
    }
    if m.reference is not None:
        out["reference"] = {
            "low": m.reference.low,
            "high": m.reference.high,
            "source": m.reference.source,
            "interim": m.reference.interim,
        }
    else:
        out["reference"] = None
    return out


def _spatiotemporal(summary: SpatiotemporalSummary) -> dict[str, Any]:
    v = summary.value
    return {
        "cadence_spm": _num(v("cadence_spm")),
        "walking_speed_mps": _num(v("walking_speed_mps")),
        "stride_length_m": _num(v("stride_length_m")),
        "step_length_m": _num(v("step_length_m")),
        "stride_time_s": _num(v("stride_time_s")),
        "step_time_s": _num(v("step_time_s")),
        "stride_time_cv_pct": _num(v("stride_time_cv_pct")),
        "step_time_asymmetry": _num(v("step_time_asymmetry")),
        "stance_symmetry_ratio": _num(v("stance_symmetry_ratio")),
        "swing_symmetry_ratio": _num(v("swing_symmetry_ratio")),
        "step_length_symmetry_ratio": _num(v("step_length_symmetry_ratio")),
        "stance_pct": {"left": _num(v("stance_pct_left")), "right": _num(v("stance_pct_right"))},
        "swing_pct": {"left": _num(v("swing_pct_left")), "right": _num(v("swing_pct_right"))},
        "step_time_s_by_side": {"left": _num(v("step_time_s_left")), "right": _num(v("step_time_s_right"))},
        "step_length_m_by_side": {"left": _num(v("step_length_m_left")), "right": _num(v("step_length_m_right"))},
        "double_support_pct": _num(v("double_support_pct")),
        "harmonic_ratio": {
            "ap": _num(v("harmonic_ratio_ap")),
            "ml": _num(v("harmonic_ratio_ml")),
            "si": _num(v("harmonic_ratio_si")),
        },
        "n_steps": summary.n_steps,
        "n_strides": summary.n_strides,
        "turns_excluded": summary.turns_excluded,
        "detail": {name: _metric_dict(m) for name, m in summary.metrics.items()},
    }


def _curves_dict(curves: CycleCurves) -> dict[str, Any]:
    return {
        "n_strides": curves.n_strides,
        "percent_cycle": [round(x, 2) for x in np.linspace(0.0, 100.0, curves.mean_deg.shape[0]).tolist()],
        **{
            name: {
                "mean_deg": [_num(x) for x in curves.mean_deg[:, k]],
                "sd_deg": [_num(x) for x in curves.sd_deg[:, k]],
            }
            for k, name in enumerate(curves.names)
        },
    }


def _kinematics(k: KinematicsResult, fs: float) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """The ``kinematics`` section and the list of rejected strides for ``quality``."""
    st = k.strides
    p_used = st.pelvis_used

    def m(values: Any, used: Any, name: str) -> dict[str, Any]:
        return _metric_dict(metric(values[used], "deg", name))

    pelvis: dict[str, Any] = {"available": k.pelvis_available}
    if k.pelvis_available:
        pelvis.update(
            {
                "tilt_rom_deg": m(st.tilt_rom_deg, p_used, "tilt_rom_deg"),
                "obliquity_rom_deg": m(st.obliquity_rom_deg, p_used, "obliquity_rom_deg"),
                "rotation_rom_deg": m(st.rotation_rom_deg, p_used, "rotation_rom_deg"),
                "mean_tilt_deg": m(st.mean_tilt_deg, p_used, "mean_tilt_deg") if k.mean_tilt_available else None,
                "mean_tilt_reference": "standing posture of this session" if k.mean_tilt_available else None,
                "contralateral_drop_deg": {
                    side: m(st.pelvic_drop_deg, p_used & (st.side == row), "pelvic_drop_deg")
                    for row, side in enumerate(SIDES)
                },
                "contralateral_drop_reference": "level standing of this session"
                if k.calibrations[PELVIS].method == "standing"
                else "each stride's mean obliquity (no quiet standing)",
                "curves": {side: _curves_dict(k.pelvis_curves[side]) for side in SIDES},
            }
        )
    hip: dict[str, Any] = {}
    for row, side in enumerate(SIDES):
        entry: dict[str, Any] = {"available": k.hip_available[row], "absolute": k.hip_absolute_available[row]}
        if k.hip_available[row]:
            used = st.hip_used & (st.side == row)
            absolute = k.hip_absolute_available[row]
            entry.update(
                {
                    "peak_extension_deg": m(st.hip_peak_extension_deg, used, "hip_peak_extension_deg")
                    if absolute
                    else None,
                    "peak_flexion_deg": m(st.hip_peak_flexion_deg, used, "hip_peak_flexion_deg") if absolute else None,
                    "sagittal_rom_deg": m(st.hip_sagittal_rom_deg, used, "hip_sagittal_rom_deg"),
                    "frontal_rom_deg": m(st.hip_frontal_rom_deg, used, "hip_frontal_rom_deg"),
                    "thigh_peak_extension_deg": m(st.thigh_peak_extension_deg, used, "thigh_peak_extension_deg")
                    if absolute
                    else None,
                    "thigh_rom_deg": m(st.thigh_rom_deg, used, "thigh_rom_deg"),
                    "pelvic_contribution_deg": m(st.pelvic_contribution_deg, used, "pelvic_contribution_deg")
                    if absolute
                    else None,
                    "curves": _curves_dict(k.hip_curves[side]),
                }
            )
        hip[side] = entry
    calibration = {
        name: {"method": c.method, "quality": _num(c.quality), "notes": list(c.notes)}
        for name, c in k.calibrations.items()
    }
    rejected = []
    for i in range(st.start_idx.size):
        for part, reason in (("pelvis", st.pelvis_reason[i]), ("hip", st.hip_reason[i])):
            if reason and not (part == "hip" and reason == st.pelvis_reason[i]):
                rejected.append(
                    {
                        "start_s": round(int(st.start_idx[i]) / fs, 3),
                        "end_s": round(int(st.stop_idx[i]) / fs, 3),
                        "side": _SIDES.get(int(st.side[i])),
                        "part": part,
                        "reason": reason,
                    }
                )
    section = {
        "pelvis": pelvis,
        "hip": hip,
        "calibration": calibration,
        "thighs_swapped": k.thighs_swapped,
        "strides_used": {
            "pelvis": int(np.count_nonzero(p_used)),
            "hip": {side: int(np.count_nonzero(st.hip_used & (st.side == row))) for row, side in enumerate(SIDES)},
        },
        "conventions": "tilt anterior +, obliquity left side up +, rotation pelvis turned left +, hip flexion +, "
        "hip frontal abduction +, thigh inclination knee forward +; curves 0-100 % of the side's gait cycle",
    }
    return section, rejected


#: The MDC entry of a trend metric, where the rules file names it otherwise.
_TREND_MDC: Final = {
    "hip_peak_extension_left_deg": "hip_peak_extension_deg",
    "hip_peak_extension_right_deg": "hip_peak_extension_deg",
    "hip_sagittal_rom_left_deg": "hip_sagittal_rom_deg",
    "hip_sagittal_rom_right_deg": "hip_sagittal_rom_deg",
    "tilt_rom_deg": "pelvic_rom_deg",
    "obliquity_rom_deg": "pelvic_rom_deg",
    "rotation_rom_deg": "pelvic_rom_deg",
    "pelvic_drop_asymmetry_deg": "pelvic_drop_deg",
    "stance_symmetry_ratio": "symmetry_ratio",
    "swing_symmetry_ratio": "symmetry_ratio",
}


def _trend(current: SessionMetrics, baseline: Baseline) -> list[dict[str, Any]]:
    """Each key metric over the earlier sessions and this one, with the plateau median and its MDC."""
    out = []
    sessions = [*baseline.sessions, current]
    for name in TREND_METRICS:
        label, unit = metric_label(name)
        values = [x.value(name) for x in sessions]
        if not any(math.isfinite(v) for v in values):
            continue
        plateau = baseline.plateau_values(name)
        ref = float(np.median(plateau)) if plateau.size else float("nan")
        mdc = CLINICAL_RULES.mdc.get(_TREND_MDC.get(name, name))
        out.append(
            {
                "metric": name,
                "label": label,
                "unit": unit,
                "sessions": [
                    {"label": x.label, "value": _num(v), "plateau": i < baseline.n_plateau, "current": x is current}
                    for i, (x, v) in enumerate(zip(sessions, values, strict=True))
                ],
                "baseline": _num(ref),
                "delta": _num(current.value(name) - ref),
                "mdc": None if mdc is None else mdc.value,
            }
        )
    return out


def add_flags(
    report: Mapping[str, Any],
    *,
    baselines: Sequence[Mapping[str, Any]] = (),
    plateau_sessions: int | None = None,
    evaluator: FlagEvaluator | None = None,
) -> dict[str, Any]:
    """A copy of ``report`` with its ``flags``, ``caveats`` and (given earlier reports) ``baseline`` trend.

    Parameters
    ----------
    report : mapping
        A ``fusiongait.report/1`` document (its own ``flags`` are replaced).
    baselines : sequence of mapping
        Earlier reports of the same patient, oldest first (ordered by ``session.date`` when all have one).
    plateau_sessions : int, optional
        How many of the earliest form the plateau (default: all but the most recent one).
    evaluator : FlagEvaluator, optional
        Flag rules (default: the shipped ``clinical_rules.toml``).
    """
    evaluator = evaluator or FlagEvaluator()
    current = SessionMetrics.from_report(report, label=_session_label(report, "this session"))
    earlier = [
        SessionMetrics.from_report(b, label=_session_label(b, f"earlier session {i + 1}"))
        for i, b in enumerate(baselines)
    ]
    base = Baseline.of(earlier, plateau_sessions=plateau_sessions) if earlier else None
    flags = evaluator.evaluate(current, base)
    out = dict(report)
    out["flags"] = [f.as_dict() for f in flags]
    out["caveats"] = list(evaluator.rules.caveats)
    out["norms_version"] = evaluator.rules.version
    out["baseline"] = (
        None
        if base is None
        else {
            "sessions": [x.label for x in base.sessions],
            "plateau_sessions": base.n_plateau,
            "trend": _trend(current, base),
        }
    )
    return out


def _session_label(report: Mapping[str, Any], default: str) -> str:
    session = report.get("session") or {}
    parts = [str(session[k]) for k in ("date", "label") if session.get(k)]
    return " ".join(parts) or default


def build_report(
    result: GaitResult,
    *,
    warnings: Sequence[str] = (),
    inputs: Mapping[str, str] | None = None,
    session: Mapping[str, str | None] | None = None,
    baselines: Sequence[Mapping[str, Any]] = (),
    plateau_sessions: int | None = None,
) -> dict[str, Any]:
    """Assemble the ``fusiongait.report/1`` JSON document, flags included.

    Parameters
    ----------
    result : GaitResult
        The analysis.
    warnings : sequence of str
        Warnings from the layers above (file readers); the analysis' own warnings are appended.
    inputs : mapping of placement to str, optional
        Where each sensor's data came from.
    session : mapping, optional
        ``patient``, ``date`` (ISO, orders the baselines) and ``label`` of this session, for the header.
    baselines : sequence of mapping
        Earlier reports of the same patient (oldest first) for the baseline arm of the flags (:func:`add_flags`).
    plateau_sessions : int, optional
        How many of the earliest baselines form the plateau.
    """
    fs = result.sampling_rate_hz
    events: list[dict[str, Any]] = []
    for ic, fc, side in zip(result.ic_idx, result.fc_idx, result.side, strict=True):
        events.append({"type": "initial_contact", "t_s": round(ic / fs, 3), "side": _SIDES.get(int(side))})
        if fc >= 0:
            contra = _SIDES.get(1 - int(side)) if side >= 0 else None
            events.append({"type": "final_contact", "t_s": round(fc / fs, 3), "side": contra})
    events.sort(key=lambda e: (e["t_s"], e["type"]))
    bouts = [
        {
            "start_s": round(b.start_idx / fs, 3),
            "end_s": round(b.stop_idx / fs, 3),
            "n_strides": b.n_strides,
            "n_steps": b.n_steps,
            "cadence_spm": _num(b.cadence_spm),
            "walking_speed_mps": _num(b.walking_speed_mps),
            "stride_length_m": _num(b.stride_length_m),
            "side_confidence": _num(conf),
        }
        for b, conf in zip(result.bouts, result.side_confidence, strict=True)
    ]
    al = result.alignment
    straight = result.strides.straight
    kinematics, rejected = (None, []) if result.kinematics is None else _kinematics(result.kinematics, fs)
    quality = {
        "alignment": {
            "confidence": _num(al.confidence),
            "vertical_source": al.vertical_source,
            "vertical_confidence": _num(al.vertical_confidence),
            "heading_confidence": _num(al.heading_confidence),
            "forward_sign_confidence": _num(al.sign_confidence),
            "sensor_to_body": np.round(al.rotation, 4).tolist(),
            "notes": list(al.notes),
        },
        "gaps": {
            "lost_fraction": {k: _num(v) for k, v in result.gap_fraction.items()},
            "longest_gap_s": _num(result.longest_gap_s),
        },
        "strides_used": int(np.count_nonzero(straight)) if result.summary.turns_excluded else int(straight.size),
        "strides_detected": int(straight.size),
        "steps_detected": int(result.ic_idx.size),
        "turns": [
            {
                "start_s": round(t.start_idx / fs, 3),
                "end_s": round(t.stop_idx / fs, 3),
                "angle_deg": round(t.angle_deg, 1),
            }
            for t in result.turns
        ],
        "standing_s": _num(result.standing_s),
        "sensor_height_m": _num(result.sensor_height_m),
        "sensor_height_source": result.sensor_height_source,
        "side_confidence_min": _num(min(result.side_confidence)) if result.side_confidence else None,
        "strides_rejected": rejected,
    }
    report = {
        "schema": REPORT_SCHEMA,
        "session": {
            "patient": (session or {}).get("patient"),
            "date": (session or {}).get("date"),
            "label": (session or {}).get("label"),
        },
        "recording": {
            "duration_s": _num(result.duration_s),
            "sampling_rate_hz": _num(fs),
            "start_time_s": _num(result.start_time_s),
            "placements": list(result.placements),
            "inputs": dict(inputs or {}),
        },
        "events": events,
        "bouts": bouts,
        "spatiotemporal": _spatiotemporal(result.summary),
        "kinematics": kinematics,
        "flags": [],
        "quality": quality,
        "warnings": [*warnings, *result.warnings],
        "caveats": list(CAVEATS),
        "norms_version": NORMS_VERSION,
    }
    return add_flags(report, baselines=baselines, plateau_sessions=plateau_sessions)


def _fmt(value: Any, unit: str, digits: int = 2) -> str:
    return "—" if value is None else f"{value:.{digits}f} {unit}".rstrip()


def summary_text(report: Mapping[str, Any]) -> str:
    """A short, readable terminal summary of a report made by :func:`build_report`."""
    st = report["spatiotemporal"]
    rec = report["recording"]
    q = report["quality"]
    detail = st["detail"]

    def band(name: str) -> str:
        ref = detail.get(name, {}).get("reference")
        if not ref:
            return ""
        mark = " interim" if ref["interim"] else ""
        return f"   [ref {ref['low']:g}–{ref['high']:g}{mark}]"

    lines = [
        f"FusionGait report ({report['schema']})",
        f"  recording: {rec['duration_s']:.1f} s at {rec['sampling_rate_hz']:g} Hz, sensors: "
        + ", ".join(rec["placements"]),
        f"  walking: {len(report['bouts'])} bout(s), {st['n_steps']} steps, {st['n_strides']} strides used"
        + (" (turns excluded)" if st["turns_excluded"] else ""),
        f"  cadence        {_fmt(st['cadence_spm'], 'steps/min', 1)}{band('cadence_spm')}",
        f"  walking speed  {_fmt(st['walking_speed_mps'], 'm/s')}{band('walking_speed_mps')}",
        f"  stride length  {_fmt(st['stride_length_m'], 'm')}{band('stride_length_m')}",
        f"  stride time    {_fmt(st['stride_time_s'], 's')}   CV {_fmt(st['stride_time_cv_pct'], '%', 1)}"
        f"{band('stride_time_cv_pct')}",
        f"  step-time symmetry ratio {_fmt(st['step_time_asymmetry'], '', 3)}{band('step_time_asymmetry')}",
        f"  stance  left {_fmt(st['stance_pct']['left'], '%', 1)}  right {_fmt(st['stance_pct']['right'], '%', 1)}"
        f"{band('stance_pct_left')}",
        f"  alignment confidence {_fmt(q['alignment']['confidence'], '', 2)} (vertical from "
        f"{q['alignment']['vertical_source']}); sensor height {_fmt(q['sensor_height_m'], 'm')} "
        f"({q['sensor_height_source']})",
    ]
    kin = report.get("kinematics")
    if kin and kin["pelvis"]["available"]:
        pel = kin["pelvis"]

        def val(entry: Any) -> Any:
            return None if entry is None else entry["value"]

        lines.append(
            f"  pelvis ROM     tilt {_fmt(val(pel['tilt_rom_deg']), '°', 1)}  obliquity "
            f"{_fmt(val(pel['obliquity_rom_deg']), '°', 1)}  rotation {_fmt(val(pel['rotation_rom_deg']), '°', 1)}"
            + (f"  mean tilt vs standing {_fmt(val(pel['mean_tilt_deg']), '°', 1)}" if pel["mean_tilt_deg"] else "")
        )
        for side in ("left", "right"):
            h = kin["hip"][side]
            if h["available"]:
                lines.append(
                    f"  hip {side:<5}      ROM {_fmt(val(h['sagittal_rom_deg']), '°', 1)}  peak extension "
                    f"{_fmt(val(h['peak_extension_deg']), '°', 1)}  peak flexion "
                    f"{_fmt(val(h['peak_flexion_deg']), '°', 1)}"
                )
    flagged = [f for f in report.get("flags", []) if f["status"] in ("flagged", "pending")]
    if flagged:
        lines.append("  flags (decision support, review recommended):")
        for f in flagged:
            side = f" {f['side']}" if f["side"] else ""
            lines.append(f"    {f['id']}{side} [{f['status']}, {f['level']}] {f['name']}")
    else:
        lines.append("  flags: no compensation pattern flagged")
    missing = [f["id"] for f in report.get("flags", []) if f["status"] == "insufficient data"]
    if missing:
        lines.append(f"  insufficient data for {', '.join(missing)} (see the report's flags for the reasons)")
    if report["warnings"]:
        lines.append(f"  {len(report['warnings'])} warning(s): see above and the report's 'warnings'")
    lines.append("  " + report["caveats"][0])
    return "\n".join(lines)
