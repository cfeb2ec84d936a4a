"""Compensation flags F1–F9 (CLINICAL.md §4) against norms and the patient's own baseline, with confidence.

Each flag is computed from the metrics of a ``fusiongait.report/1`` document (:class:`SessionMetrics`), so the
current session and earlier sessions (their saved reports) are treated alike. A flag has

* a **norm arm**: the value against the healthy reference or an interim cut-off of ``gait/data/clinical_rules.toml``
  (speed-dependent kinematic norms only when the walking speed lies in the reference speed band, or against the
  speed bin of the measured speed);
* a **baseline arm**: the change from the patient's plateau (median of the plateau sessions) larger than the MDC
  (or the personal MDC95 = 1.96·√2·SD of the plateau sessions when larger, CLINICAL.md §5), in the flag's
  direction. It fires only when the previous session showed the same change (persistence); a change seen in this
  session alone is ``pending``. Speed-dependent metrics are compared only within ±0.15 m/s of the baseline speed.

Confidence (CLINICAL.md §4): the effect (how far past the cut-off, or ``|Δ|/MDC``: 1–2 low, ≥ 2 moderate), capped
by data sufficiency (strides per side), signal quality (calibration, alignment, lost samples, speed) and the flag's
kind (informational and trend-only flags stay "low"); "high" needs the flag in the previous session as well.
Too little data gives ``insufficient data`` with the reason, never a confident flag. The wording is that of a
screen ("pattern consistent with …; review recommended"), never a diagnosis.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from types import MappingProxyType
from typing import Any, Final, Literal

import numpy as np
from numpy.typing import NDArray

from gait.errors import AnalysisError
from gait.norms import CLINICAL_RULES, FLAG_IDS, ClinicalRules, ReferenceBand

__all__ = [
    "FLAG_IDS",
    "LEVELS",
    "Baseline",
    "Evidence",
    "FlagEvaluator",
    "FlagResult",
    "SessionMetrics",
    "lookup",
    "metric_label",
]

Level = Literal["insufficient data", "none", "low", "moderate", "high"]
Status = Literal["flagged", "not flagged", "pending", "insufficient data"]
Arm = Literal["norm", "baseline"]

#: Confidence levels, weakest first ("none": assessed, not flagged).
LEVELS: Final[tuple[Level, ...]] = ("insufficient data", "none", "low", "moderate", "high")
_RANK: Final[Mapping[str, int]] = MappingProxyType({"none": 0, "low": 1, "moderate": 2, "high": 3})
_SIDES: Final = ("left", "right")
_NAN = float("nan")


def _finite(x: float) -> bool:
    return math.isfinite(x)


def lookup(tree: Any, *path: str) -> Any:
    """``tree[path[0]][path[1]]…`` of nested mappings, or None where a key is missing (reports may lack sections)."""
    for key in path:
        if not isinstance(tree, Mapping) or key not in tree:
            return None
        tree = tree[key]
    return tree


def _float(x: Any) -> float:
    return float(x) if isinstance(x, int | float) and not isinstance(x, bool) else _NAN


# ------------------------------------------------------------------------------------------------ inputs
@dataclass(frozen=True, slots=True)
class SessionMetrics:
    """The flag inputs of one session, read from its report.

    Attributes
    ----------
    label : str
        How the session is named in messages and trends (date, file name or position).
    date : str or None
        Session date from the report's ``session`` block (ISO text), used to order baselines.
    values : mapping of str to float
        Metric values by name (NaN when absent); names carry their units.
    ci95 : mapping of str to float
        95 % confidence half-width of a value, where the report gives one.
    counts : mapping of str to int
        Strides per side behind the flags: ``events_left/right`` (gait-event steps), ``pelvis_left/right``
        (pelvis-angle strides), ``hip_left/right`` (hip-angle strides).
    quality : mapping of str to float
        ``alignment``, ``pelvis`` and ``left_thigh``/``right_thigh`` calibration quality in [0, 1] (NaN when
        absent), ``lost_fraction`` (largest over the sensors).
    notes : mapping of str to str
        Why an input is missing (``hip_left``, ``hip_right``, ``pelvis``, ``mean_tilt``), for the messages.
    standing_calibrated : bool
        The pelvis angles are relative to quiet standing (absolute tilt and obliquity).
    """

    label: str
    date: str | None
    values: Mapping[str, float]
    ci95: Mapping[str, float]
    counts: Mapping[str, int]
    quality: Mapping[str, float]
    notes: Mapping[str, str]
    standing_calibrated: bool

    def value(self, name: str) -> float:
        """A metric value (NaN when absent)."""
        return self.values.get(name, _NAN)

    @classmethod
    def from_report(cls, report: Mapping[str, Any], *, label: str | None = None) -> SessionMetrics:
        """Read the flag inputs of a ``fusiongait.report/1`` document (missing parts give NaN and a note)."""
        st = report.get("spatiotemporal") or {}
        detail = st.get("detail") or {}
        kin = report.get("kinematics") or {}
        pelvis = kin.get("pelvis") or {}
        hip = kin.get("hip") or {}
        q = report.get("quality") or {}
        values: dict[str, float] = {}
        ci95: dict[str, float] = {}

        def put(name: str, entry: Any) -> None:
            if isinstance(entry, Mapping):
                values[name] = _float(entry.get("value"))
                ci = _float(entry.get("ci95"))
                if _finite(ci):
                    ci95[name] = ci
            else:
                values[name] = _float(entry)

        for name in (
            "walking_speed_mps",
            "step_length_m",
            "cadence_spm",
            "stride_time_cv_pct",
            "stance_symmetry_ratio",
            "swing_symmetry_ratio",
            "step_length_symmetry_ratio",
        ):
            put(name, detail.get(name, st.get(name)))
        put("step_time_symmetry_ratio", detail.get("step_time_asymmetry", st.get("step_time_asymmetry")))
        values["stride_time_sd_s"] = _float(lookup(detail, "stride_time_s", "sd"))
        for axis in ("ap", "ml", "si"):
            put(f"harmonic_ratio_{axis}", detail.get(f"harmonic_ratio_{axis}"))
        for side in _SIDES:
            put(f"stance_pct_{side}", detail.get(f"stance_pct_{side}", lookup(st, "stance_pct", side)))
        if pelvis.get("available"):
            for name in ("tilt_rom_deg", "obliquity_rom_deg", "rotation_rom_deg", "mean_tilt_deg"):
                put(name, pelvis.get(name))
            for side in _SIDES:
                put(f"pelvic_drop_{side}_deg", lookup(pelvis, "contralateral_drop_deg", side))
        drop_l, drop_r = values.get("pelvic_drop_left_deg", _NAN), values.get("pelvic_drop_right_deg", _NAN)
        values["pelvic_drop_asymmetry_deg"] = drop_l - drop_r
        for side in _SIDES:
            h = hip.get(side) or {}
            if h.get("available"):
                put(f"hip_peak_extension_{side}_deg", h.get("peak_extension_deg"))
                put(f"hip_sagittal_rom_{side}_deg", h.get("sagittal_rom_deg"))
                put(f"pelvic_contribution_{side}_deg", h.get("pelvic_contribution_deg"))

        def count(entry: Any) -> int:
            n = lookup(entry, "n")
            return int(n) if isinstance(n, int) else 0

        counts = {
            **{f"events_{s}": count(detail.get(f"step_time_s_{s}")) for s in _SIDES},
            **{f"pelvis_{s}": count(lookup(pelvis, "contralateral_drop_deg", s)) for s in _SIDES},
            **{f"hip_{s}": int(lookup(kin, "strides_used", "hip", s) or 0) for s in _SIDES},
        }
        if counts["pelvis_left"] == counts["pelvis_right"] == 0 and pelvis.get("available"):
            half = int(lookup(kin, "strides_used", "pelvis") or 0) // 2
            counts["pelvis_left"] = counts["pelvis_right"] = half
        calibration = kin.get("calibration") or {}
        lost = [_float(v) for v in (lookup(q, "gaps", "lost_fraction") or {}).values()]
        quality = {
            "alignment": _float(lookup(q, "alignment", "confidence")),
            "lost_fraction": max([x for x in lost if _finite(x)], default=0.0),
            **{name: _float(lookup(calibration, name, "quality")) for name in ("pelvis", "left_thigh", "right_thigh")},
        }
        placements = list(lookup(report, "recording", "placements") or [])
        notes: dict[str, str] = {}
        if not kin:
            notes["pelvis"] = "pelvis and hip angles were not computed (no strides to calibrate on)"
        elif not pelvis.get("available"):
            notes["pelvis"] = "pelvis angles not reported (sensor-to-pelvis calibration failed)"
        for side in _SIDES:
            h = hip.get(side) or {}
            thigh = f"{side}_thigh"
            if thigh not in placements:
                notes[f"hip_{side}"] = f"no {side} thigh sensor (hip angles need the thigh sensors)"
            elif not h.get("available"):
                cal_notes = "; ".join(lookup(calibration, thigh, "notes") or []) or "calibration failed"
                notes[f"hip_{side}"] = f"{side} hip angles not available ({cal_notes})"
            elif not h.get("absolute"):
                notes[f"hip_{side}_absolute"] = (
                    f"{side} peak hip extension needs a quiet-standing calibration (stand still 3 s before walking)"
                )
        if pelvis.get("available") and pelvis.get("mean_tilt_deg") is None:
            notes["mean_tilt"] = "mean pelvic tilt needs a quiet-standing calibration (stand still 3 s before walking)"
        session = report.get("session") or {}
        date = session.get("date") if isinstance(session.get("date"), str) else None
        name = label or session.get("label") or date or str(lookup(report, "recording", "inputs", "pelvis") or "")
        return cls(
            label=str(name or "session"),
            date=date,
            values=MappingProxyType(values),
            ci95=MappingProxyType(ci95),
            counts=MappingProxyType(counts),
            quality=MappingProxyType(quality),
            notes=MappingProxyType(notes),
            standing_calibrated=lookup(calibration, "pelvis", "method") == "standing",
        )


@dataclass(frozen=True, slots=True)
class Baseline:
    """Earlier sessions of the same patient, oldest first.

    Attributes
    ----------
    sessions : tuple of SessionMetrics
        All earlier sessions, chronological.
    n_plateau : int
        The first ``n_plateau`` sessions form the plateau (CLINICAL.md §5: pre-op or post-op plateau) the changes
        are measured against; later ones are follow-ups. The default keeps the most recent earlier session out of
        the plateau so that a change can be confirmed by it (persistence).
    """

    sessions: tuple[SessionMetrics, ...]
    n_plateau: int

    @classmethod
    def of(cls, sessions: Sequence[SessionMetrics], *, plateau_sessions: int | None = None) -> Baseline:
        """Order sessions by date when all have one (else as given) and choose the plateau."""
        ordered = tuple(sessions)
        if ordered and all(s.date for s in ordered):
            ordered = tuple(sorted(ordered, key=lambda s: str(s.date)))
        n = len(ordered)
        if plateau_sessions is None:
            plateau_sessions = max(1, n - 1) if n else 0
        if n and not 1 <= plateau_sessions <= n:
            raise AnalysisError(
                f"plateau_sessions: expected 1 to {n} (the number of earlier sessions), got {plateau_sessions}"
            )
        return cls(ordered, int(plateau_sessions))

    @property
    def plateau(self) -> tuple[SessionMetrics, ...]:
        """The plateau sessions."""
        return self.sessions[: self.n_plateau]

    def plateau_values(self, metric: str) -> NDArray[np.float64]:
        """The finite values of ``metric`` over the plateau sessions, shape (n,), n ≤ ``n_plateau``."""
        values = np.array([x.value(metric) for x in self.plateau], dtype=np.float64)
        return values[np.isfinite(values)]

    @property
    def previous(self) -> SessionMetrics | None:
        """The most recent earlier session (None without earlier sessions)."""
        return self.sessions[-1] if self.sessions else None

    @property
    def follow_up(self) -> SessionMetrics | None:
        """The most recent earlier session when it is not part of the plateau (confirms a change)."""
        return self.sessions[-1] if len(self.sessions) > self.n_plateau else None


# ------------------------------------------------------------------------------------------------ results
@dataclass(frozen=True, slots=True)
class Evidence:
    """One criterion of a flag, evaluated.

    Attributes
    ----------
    metric : str
        Metric name (with its unit suffix).
    label : str
        Readable name ("right peak hip extension").
    value : float
        Current value (NaN when absent).
    unit : str
    arm : {"norm", "baseline"}
    criterion : str
        The rule ("≤ 2.0°", "Δ ≤ −5.0° vs baseline").
    reference : str
        The band or baseline compared with, with its source.
    met : bool
        The criterion holds (for the baseline arm: in this session and the previous one).
    effect : float
        How far past the cut-off in units of the MDC, or ``|Δ| / MDC`` (NaN when not evaluated).
    side : str or None
    pending : bool
        Baseline arm: the change is seen in this session but not (yet) in the previous one.
    note : str
        Why the criterion was not evaluated, or a remark.
    baseline : float
        The plateau value (baseline arm; NaN otherwise).
    """

    metric: str
    label: str
    value: float
    unit: str
    arm: Arm
    criterion: str
    reference: str
    met: bool
    effect: float = _NAN
    side: str | None = None
    pending: bool = False
    note: str = ""
    baseline: float = _NAN

    @property
    def evaluated(self) -> bool:
        """Whether the criterion could be checked."""
        return _finite(self.value) and not self.note.startswith("not evaluated")

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready form."""
        return {
            "metric": self.metric,
            "label": self.label,
            "value": _round(self.value),
            "unit": self.unit,
            "arm": self.arm,
            "criterion": self.criterion,
            "reference": self.reference,
            "met": self.met,
            "pending": self.pending,
            "effect": _round(self.effect),
            "side": self.side,
            "baseline": _round(self.baseline),
            "note": self.note,
        }


@dataclass(frozen=True, slots=True)
class FlagResult:
    """One flag of one session.

    Attributes
    ----------
    id, name : str
    kind : str
        ``flag``, ``informational`` (F3), ``trend`` (F7, baseline only) or ``composite`` (F8, F9).
    status : {"flagged", "not flagged", "pending", "insufficient data"}
    level : {"insufficient data", "none", "low", "moderate", "high"}
        Confidence of a flagged pattern ("none" when not flagged).
    side : str or None
        ``left``, ``right``, ``both`` or None (not lateralised).
    value : float
        The headline value (NaN when none) with its ``unit``.
    unit : str
    reference : str
        The reference band or baseline the headline value was compared with.
    message : str
        Screening wording; never a diagnosis.
    arms : tuple of str
        Arms that fired.
    evidence : tuple of Evidence
    reasons : tuple of str
        Why the level is what it is (data, quality, persistence, kind), or why data are insufficient.
    persistent : bool or None
        Whether the flag was present in the previous session too (None without earlier sessions).
    metric : str
        Name of the headline metric ("" when none), to find its trend.
    ci95 : float
        95 % confidence half-width of the headline value (NaN when unknown): its uncertainty band.
    """

    id: str
    name: str
    kind: str
    status: Status
    level: Level
    side: str | None
    value: float
    unit: str
    reference: str
    message: str
    arms: tuple[str, ...] = ()
    evidence: tuple[Evidence, ...] = field(default=())
    reasons: tuple[str, ...] = field(default=())
    persistent: bool | None = None
    metric: str = ""
    ci95: float = _NAN

    @property
    def flagged(self) -> bool:
        """Whether the pattern is flagged."""
        return self.status == "flagged"

    def as_dict(self) -> dict[str, Any]:
        """The report entry (DESIGN.md §4: id, name, side, level, value, reference, message, and the details)."""
        return {
            "id": self.id,
            "name": self.name,
            "kind": self.kind,
            "side": self.side,
            "level": self.level,
            "status": self.status,
            "flagged": self.flagged,
            "value": _round(self.value),
            "ci95": _round(self.ci95),
            "unit": self.unit,
            "metric": self.metric or None,
            "reference": self.reference,
            "message": self.message,
            "arms": list(self.arms),
            "confidence": {"level": self.level, "reasons": list(self.reasons), "persistent": self.persistent},
            "evidence": [e.as_dict() for e in self.evidence],
        }


def _round(x: float) -> float | None:
    return round(float(x), 4) if _finite(x) else None


def _fmt(x: float, unit: str) -> str:
    if not _finite(x):
        return "—"
    if unit == "deg":
        return f"{x:.1f}°"
    if unit == "ratio":
        return f"{x:.3f}"
    if unit in ("m/s", "m"):
        return f"{x:.2f} {unit}"
    if unit == "s":
        return f"{x:.3f} s"
    return f"{x:.1f} {unit}".rstrip()


def _band_text(band: ReferenceBand) -> str:
    u = "°" if band.unit == "deg" else f" {band.unit}" if band.unit != "ratio" else ""
    core = f"{band.mean:.3g}±{band.sd:.2g}{u}" if band.mean is not None and band.sd is not None else ""
    text = f"{band.low:.3g}–{band.high:.3g}{u}" + (f" ({core})" if core else "")
    return f"{text}; {band.source}" + (" [interim]" if band.interim and "interim" not in band.source else "")


# ------------------------------------------------------------------------------------------------ evaluator
_LABELS: Final = MappingProxyType(
    {
        "walking_speed_mps": ("walking speed", "m/s"),
        "step_length_m": ("step length", "m"),
        "cadence_spm": ("cadence", "steps/min"),
        "stride_time_sd_s": ("stride-time SD", "s"),
        "stride_time_s": ("stride time", "s"),
        "stride_time_cv_pct": ("stride-time CV", "%"),
        "harmonic_ratio_ap": ("harmonic ratio (AP)", "ratio"),
        "stance_symmetry_ratio": ("stance-time symmetry ratio", "ratio"),
        "swing_symmetry_ratio": ("swing-time symmetry ratio", "ratio"),
        "step_time_symmetry_ratio": ("step-time symmetry ratio", "ratio"),
        "step_length_symmetry_ratio": ("step-length symmetry ratio", "ratio"),
        "tilt_rom_deg": ("pelvic tilt ROM", "deg"),
        "obliquity_rom_deg": ("pelvic obliquity ROM", "deg"),
        "rotation_rom_deg": ("pelvic rotation ROM", "deg"),
        "mean_tilt_deg": ("mean anterior pelvic tilt vs standing", "deg"),
        "pelvic_drop_asymmetry_deg": ("contralateral pelvic drop, left − right", "deg"),
    }
)
#: Flag-input metrics whose reference band the report files under another name.
_NORM_OF: Final = MappingProxyType({"step_time_symmetry_ratio": "step_time_asymmetry"})


#: Names of the per-side metrics (in degrees), by the metric name without its side.
_SIDED_LABELS: Final = MappingProxyType(
    {
        "hip_peak_extension_deg": "peak hip extension",
        "hip_sagittal_rom_deg": "hip sagittal ROM",
        "pelvic_contribution_deg": "pelvic contribution to thigh extension",
        "pelvic_drop_deg": "contralateral pelvic drop",
    }
)


def metric_label(metric: str) -> tuple[str, str]:
    """Readable name and unit of a flag-input metric ("right peak hip extension", "deg")."""
    if metric in _LABELS:
        return _LABELS[metric]
    for side in _SIDES:
        tag = f"_{side}_"
        if tag in metric:
            base = metric.replace(tag, "_")
            return f"{side} {_SIDED_LABELS.get(base, base)}", "deg"
    return metric, ""


class FlagEvaluator:
    """Evaluate flags F1–F9 of a session against the norms and, when given, the patient's baseline.

    Parameters
    ----------
    rules : ClinicalRules
        Norms, MDCs and thresholds (default: ``gait/data/clinical_rules.toml``).
    """

    def __init__(self, *, rules: ClinicalRules = CLINICAL_RULES) -> None:
        self.rules = rules
        c = rules.confidence_number
        self.full_strides = int(c("full_strides_per_side"))
        self.min_strides = int(c("min_strides_per_side"))
        self.good_quality = c("good_quality")
        self.max_lost = c("max_lost_fraction")
        self.moderate_effect = c("moderate_effect")
        self.personal_mdc_min = int(c("personal_mdc_min_sessions"))

    # --------------------------------------------------------------------------- public
    def evaluate(self, current: SessionMetrics, baseline: Baseline | None = None) -> tuple[FlagResult, ...]:
        """All nine flags of ``current``, in order F1–F9.

        Parameters
        ----------
        current : SessionMetrics
        baseline : Baseline, optional
            Earlier sessions; without them only the norm arms are evaluated (F7 and F8 then have insufficient
            data).
        """
        base = baseline if baseline is not None and baseline.sessions else None
        previous = base.previous if base is not None else None
        prev_flags = self._single(previous, None) if previous is not None else None
        out = self._single(current, base, prev_flags)
        return tuple(out[f] for f in FLAG_IDS)

    # --------------------------------------------------------------------------- plumbing
    def _functions(
        self,
    ) -> dict[str, Callable[[SessionMetrics, Baseline | None, Mapping[str, FlagResult]], FlagResult]]:
        return {
            "F1": self._f1,
            "F2": self._f2,
            "F3": self._f3,
            "F4": self._f4,
            "F5": self._f5,
            "F6": self._f6,
            "F7": self._f7,
            "F8": self._f8,
            "F9": self._f9,
        }

    def _single(
        self,
        session: SessionMetrics,
        baseline: Baseline | None,
        previous: Mapping[str, FlagResult] | None = None,
    ) -> dict[str, FlagResult]:
        """The flags of one session, each with its persistence when the previous session's flags are given.

        Later flags (F2, F8, F9) read the earlier ones of ``out``, persistence included.
        """
        out: dict[str, FlagResult] = {}
        for fid, fn in self._functions().items():
            res = fn(session, baseline, out)
            out[fid] = res if previous is None else self._with_persistence(res, previous[fid])
        return out

    def _with_persistence(self, res: FlagResult, prev: FlagResult) -> FlagResult:
        if not res.flagged:
            return replace(res, persistent=False if res.status != "insufficient data" else None)
        # The baseline arm fires only on a change confirmed by the previous session: persistent by construction.
        persistent = prev.flagged or "baseline" in res.arms
        reasons = list(res.reasons)
        level = res.level
        caps = any(r.startswith("at most") for r in reasons)
        if persistent and level == "moderate" and not caps:
            level = "high"
            reasons.append("present in the previous session too (persistence)")
        elif persistent:
            reasons.append("present in the previous session too")
        else:
            reasons.append("not present in the previous session: confirm at the next session")
        return replace(res, level=level, reasons=tuple(reasons), persistent=persistent)

    def _mdc(self, key: str) -> float:
        m = self.rules.mdc.get(key)
        return m.value if m is not None else _NAN

    def _mdc_source(self, key: str) -> str:
        m = self.rules.mdc.get(key)
        return "" if m is None else m.source + (" [interim]" if m.interim and "interim" not in m.source else "")

    def _effect_level(self, effect: float, *, norm: bool) -> Level:
        if not _finite(effect):
            return "none"
        if norm:  # past the cut-off by less than one MDC: low; by more: moderate
            return "moderate" if effect >= 1.0 else "low"
        if effect < 1.0:
            return "none"
        return "moderate" if effect >= self.moderate_effect else "low"

    def _speed_note(self, s: SessionMetrics) -> str:
        """Why a speed-dependent norm cannot be checked at this session's speed ("" when it can)."""
        v = s.value("walking_speed_mps")
        sp = self.rules.speed
        if not _finite(v):
            return "not evaluated: walking speed unknown (speed-dependent reference)"
        if not sp.in_reference_band(v):
            return (
                f"not evaluated: walking speed {v:.2f} m/s outside the speed band of the reference "
                f"({sp.reference_low_mps:g}–{sp.reference_high_mps:g} m/s; {sp.reference_source}); compare with the "
                "patient's own baseline at the same speed"
            )
        return ""

    def _norm(
        self,
        s: SessionMetrics,
        metric: str,
        *,
        cutoff: float,
        below: bool,
        mdc_key: str,
        reference: str,
        criterion: str,
        speed_dependent: bool = False,
        side: str | None = None,
        value: float | None = None,
        tolerance: float = 0.0,
    ) -> Evidence:
        label, unit = metric_label(metric)
        v = s.value(metric) if value is None else value
        note = self._speed_note(s) if speed_dependent else ""
        if note or not _finite(v):
            return Evidence(metric, label, v, unit, "norm", criterion, reference, False, side=side, note=note)
        past = (cutoff + tolerance - v) if below else (v + tolerance - cutoff)
        met = past >= 0.0
        effect = past / self._mdc(mdc_key) if met else _NAN
        return Evidence(metric, label, v, unit, "norm", criterion, reference, met, effect, side)

    def _z_norm(
        self,
        s: SessionMetrics,
        metric: str,
        band: ReferenceBand,
        z: float,
        *,
        mdc_key: str,
        speed_dependent: bool = False,
        side: str | None = None,
    ) -> Evidence:
        """Norm criterion ``z-score ≥ z`` (z > 0) or ``≤ z`` (z < 0) against ``band``'s mean and SD."""
        cutoff = (band.mean or 0.0) + z * (band.sd or 0.0)
        unit = metric_label(metric)[1]
        sign = "≤" if z < 0 else ">"
        return self._norm(
            s,
            metric,
            cutoff=cutoff,
            below=z < 0,
            mdc_key=mdc_key,
            criterion=f"{sign} {_fmt(cutoff, unit)} (z {'≤' if z < 0 else '≥'} {z:g}"
            + (" at this speed)" if band.speed_dependent else ")"),
            reference=f"reference {_band_text(band)}",
            speed_dependent=speed_dependent,
            side=side,
        )

    def _baseline(
        self,
        s: SessionMetrics,
        base: Baseline | None,
        metric: str,
        *,
        direction: int,
        mdc_key: str | None,
        speed_dependent: bool,
        side: str | None = None,
        magnitude: bool = False,
    ) -> Evidence | None:
        """Change of ``metric`` vs the plateau median in ``direction`` (+1 up, −1 down, 0 either)."""
        if base is None:
            return None
        label, unit = metric_label(metric)
        v = s.value(metric)

        def val(x: SessionMetrics) -> float:
            y = x.value(metric)
            return abs(y) if magnitude else y

        plateau = base.plateau_values(metric)
        if magnitude:
            plateau = np.abs(plateau)
        cur = abs(v) if magnitude else v
        mdc = self._mdc(mdc_key) if mdc_key else _NAN
        personal = (
            1.96 * math.sqrt(2.0) * float(np.std(plateau, ddof=1)) if plateau.size >= self.personal_mdc_min else _NAN
        )
        threshold = max(x for x in (mdc, personal, -1.0) if _finite(x))
        arrow = {1: "↑", -1: "↓", 0: "change"}[direction]
        src = self._mdc_source(mdc_key) if mdc_key else "personal MDC95 (1.96·√2·SD of the plateau sessions)"
        criterion = f"{arrow} ≥ {_fmt(threshold, unit)} vs baseline" if threshold > 0 else f"{arrow} vs baseline"

        def make(met: bool, effect: float, note: str, ref: float, pending: bool = False) -> Evidence:
            reference = (
                f"baseline {_fmt(ref, unit)} (median of {plateau.size} plateau session(s)); MDC {_fmt(threshold, unit)}"
                f" ({src})"
                if _finite(ref)
                else "no baseline value"
            )
            return Evidence(
                metric, label, v, unit, "baseline", criterion, reference, met, effect, side, pending, note, ref
            )

        if plateau.size == 0 or not _finite(cur):
            return make(False, _NAN, "not evaluated: no value in this session or the plateau", _NAN)
        ref = float(np.median(plateau))
        if threshold <= 0:
            return make(
                False,
                _NAN,
                f"not evaluated: no published MDC and fewer than {self.personal_mdc_min} plateau sessions",
                ref,
            )
        if speed_dependent:
            speeds = base.plateau_values("walking_speed_mps")
            v_now = s.value("walking_speed_mps")
            bin_mps = self.rules.speed.baseline_bin_mps
            if speeds.size and _finite(v_now) and abs(v_now - float(np.median(speeds))) > bin_mps:
                return make(
                    False,
                    _NAN,
                    f"not evaluated: walking speed {v_now:.2f} m/s differs from the baseline's "
                    f"{float(np.median(speeds)):.2f} m/s by more than ±{bin_mps:g} m/s "
                    f"({self.rules.speed.baseline_bin_source})",
                    ref,
                )

        def changed(x: float) -> bool:
            d = x - ref
            return (abs(d) if direction == 0 else direction * d) >= threshold

        delta = cur - ref
        effect = abs(delta) / threshold
        now = changed(cur)
        follow = base.follow_up
        before = follow is not None and _finite(val(follow)) and changed(val(follow))
        if direction == 0 and before and follow is not None:
            before = np.sign(val(follow) - ref) == np.sign(delta)
        note = f"Δ {delta:+.3g} {unit}".replace(" deg", "°")
        if now and before:
            return make(True, effect, note + "; also in the previous session (persistent)", ref)
        if now:
            return make(False, effect, note + "; not yet in the previous session: pending", ref, pending=True)
        return make(False, _NAN, note, ref)

    def _limits(
        self,
        s: SessionMetrics,
        *,
        counts: Sequence[str],
        quality: Sequence[str],
    ) -> tuple[Level | None, list[str]]:
        """Caps from data sufficiency and signal quality: (cap or None, reasons); cap 'insufficient data' stops."""
        reasons: list[str] = []
        cap: Level | None = None
        n = min((s.counts.get(k, 0) for k in counts), default=0)
        if n < self.min_strides:
            return "insufficient data", [
                f"only {n} valid strides per side (at least {self.min_strides} needed, {self.full_strides} recommended)"
            ]
        if n < self.full_strides:
            cap = "low"
            reasons.append(f"at most low: {n} valid strides per side (≥{self.full_strides} recommended in clinic)")
        qs = [(k, s.quality.get(k, _NAN)) for k in quality]
        poor = [(k, q) for k, q in qs if _finite(q) and q < self.good_quality]
        if poor:
            cap = "low"
            reasons.append(
                "at most low: "
                + ", ".join(f"{k.replace('_', ' ')} quality {q:.2f}" for k, q in poor)
                + f" (< {self.good_quality:g})"
            )
        lost = s.quality.get("lost_fraction", 0.0)
        if _finite(lost) and lost > self.max_lost:
            cap = "low"
            reasons.append(f"at most low: {100 * lost:.1f}% of samples lost")
        speed = s.value("walking_speed_mps")
        if _finite(speed) and speed < self.rules.speed.min_reliable_mps:
            cap = "low"
            reasons.append(
                f"at most low: walking speed {speed:.2f} m/s, accuracy falls below "
                f"{self.rules.speed.min_reliable_mps:g} m/s ({self.rules.speed.min_reliable_source})"
            )
        return cap, reasons

    def _result(
        self,
        fid: str,
        session: SessionMetrics,
        evidence: Sequence[Evidence | None],
        *,
        cap: Level | None,
        reasons: Sequence[str],
        side: str | None,
        head: Evidence | None,
        pattern: str,
        extra: str = "",
        kind_cap: Level | None = None,
    ) -> FlagResult:
        ev = tuple(e for e in evidence if e is not None)
        name = self.rules.flag_text(fid, "name")
        kind = self.rules.flag_text(fid, "kind")
        fired = [e for e in ev if e.met]
        pending = [e for e in ev if e.pending]
        best: Level = "none"
        for e in fired:
            lvl = self._effect_level(e.effect, norm=e.arm == "norm")
            if lvl == "none":
                lvl = "low"
            if _RANK[lvl] > _RANK[best]:
                best = lvl
        reasons = list(reasons)
        if kind_cap is not None and _RANK[best] > _RANK[kind_cap]:
            best = kind_cap
        if kind in ("informational", "trend") and _RANK[best] > _RANK["low"]:
            best = "low"
            reasons.append(f"at most low: {kind} only (CLINICAL.md §4)")
        if cap is not None and cap != "insufficient data" and _RANK[best] > _RANK[cap]:
            best = cap
        status: Status = "flagged" if fired else ("pending" if pending else "not flagged")
        hv = head if head is not None else (fired[0] if fired else (ev[0] if ev else None))
        value = hv.value if hv is not None else _NAN
        ci95 = session.ci95.get(hv.metric, _NAN) if hv is not None else _NAN
        unit = hv.unit if hv is not None else ""
        reference = hv.reference if hv is not None else ""
        shown = fired or pending or [e for e in ev if e.evaluated][:2]
        facts = "; ".join(
            f"{e.label} {_fmt(e.value, e.unit)} (criterion {e.criterion}; {e.reference.split(';')[0]})"
            + (f", {e.note}" if e.note and e.arm == "baseline" else "")
            for e in shown
        )
        where = f" ({side} side)" if side in _SIDES else " (both sides)" if side == "both" else ""
        if status == "flagged":
            message = f"Pattern consistent with {pattern}{where}: {facts}. {extra}Review recommended."
        elif status == "pending":
            message = (
                f"Possible {pattern}{where}: {facts}. Change vs baseline seen in this session only; it is flagged "
                "if it persists at the next session."
            )
        else:
            message = f"No {pattern} pattern found" + (f": {facts}." if facts else ".")
        arms = tuple(sorted({e.arm for e in fired}))
        return FlagResult(
            id=fid,
            name=name,
            kind=kind,
            status=status,
            level=best if status == "flagged" else "none",
            side=side if status in ("flagged", "pending") else None,
            value=value,
            unit=unit,
            reference=reference,
            message=message.replace("  ", " "),
            arms=arms,
            evidence=ev,
            reasons=tuple(reasons),
            metric=hv.metric if hv is not None else "",
            ci95=ci95,
        )

    def _insufficient(self, fid: str, reasons: Sequence[str], evidence: Sequence[Evidence | None] = ()) -> FlagResult:
        name = self.rules.flag_text(fid, "name")
        return FlagResult(
            id=fid,
            name=name,
            kind=self.rules.flag_text(fid, "kind"),
            status="insufficient data",
            level="insufficient data",
            side=None,
            value=_NAN,
            unit="",
            reference="",
            message=f"Insufficient data for “{name}”: " + "; ".join(reasons) + ".",
            evidence=tuple(e for e in evidence if e is not None),
            reasons=tuple(reasons),
        )

    @staticmethod
    def _side_of(sides: Sequence[str]) -> str | None:
        uniq = sorted(set(sides))
        if not uniq:
            return None
        return uniq[0] if len(uniq) == 1 else "both"

    # --------------------------------------------------------------------------- F1
    def _f1_side(self, s: SessionMetrics, base: Baseline | None, side: str) -> list[Evidence | None]:
        r = self.rules
        ext_metric = f"hip_peak_extension_{side}_deg"
        rom_metric = f"hip_sagittal_rom_{side}_deg"
        cutoff = r.flag_number("F1", "peak_extension_max_deg")
        ext_band = r.norms["hip_peak_extension_deg"]
        # Per-stride peaks are clipped at 0° (DESIGN.md §2), so a hip that never passes neutral gives a small positive
        # mean: the criterion holds when 0° lies within the mean's 95 % confidence interval.
        ci = s.ci95.get(ext_metric, 0.0)
        rom_min = r.flag_number("F1", "hip_rom_min_deg")
        ev: list[Evidence | None] = [
            self._norm(
                s,
                ext_metric,
                cutoff=cutoff,
                below=True,
                mdc_key="hip_peak_extension_deg",
                criterion=f"≤ {cutoff:g}° within the 95 % CI (never past neutral)",
                reference=f"reference {_band_text(ext_band)}",
                side=side,
                tolerance=ci,
            ),
            self._norm(
                s,
                rom_metric,
                cutoff=rom_min,
                below=True,
                mdc_key="hip_sagittal_rom_deg",
                criterion=f"< {rom_min:g}°",
                reference=f"reference {_band_text(r.norms['hip_sagittal_rom_deg'])}",
                speed_dependent=True,
                side=side,
            ),
        ]
        if _finite(s.value(ext_metric)):
            ev.append(
                self._baseline(
                    s, base, ext_metric, direction=-1, mdc_key="hip_peak_extension_deg", speed_dependent=True, side=side
                )
            )
        else:
            ev.append(
                self._baseline(
                    s, base, rom_metric, direction=-1, mdc_key="hip_sagittal_rom_deg", speed_dependent=True, side=side
                )
            )
        return ev

    def _f1(self, s: SessionMetrics, base: Baseline | None, done: Mapping[str, FlagResult]) -> FlagResult:
        usable = [side for side in _SIDES if f"hip_{side}" not in s.notes and s.counts.get(f"hip_{side}", 0) > 0]
        if not usable:
            reasons = [s.notes.get(f"hip_{side}", f"no {side} hip strides") for side in _SIDES]
            return self._insufficient("F1", reasons)
        cap, reasons = self._limits(
            s, counts=[f"hip_{x}" for x in usable], quality=["pelvis", *(f"{x}_thigh" for x in usable)]
        )
        if cap == "insufficient data":
            return self._insufficient("F1", reasons)
        for side in _SIDES:
            if side not in usable:
                reasons.append(f"{side} hip not assessed: {s.notes.get(f'hip_{side}', 'no strides')}")
            elif f"hip_{side}_absolute" in s.notes:
                reasons.append(s.notes[f"hip_{side}_absolute"] + "; hip ROM only")
        evidence: list[Evidence | None] = []
        for side in usable:
            evidence += self._f1_side(s, base, side)
        fired_sides = [e.side for e in evidence if e is not None and e.met and e.side]
        pending_sides = [e.side for e in evidence if e is not None and e.pending and e.side]
        flag_side = self._side_of(fired_sides or pending_sides)
        heads = [e for e in evidence if e is not None and e.met and e.metric.startswith("hip_peak_extension")]
        head = min(heads, key=lambda e: e.value) if heads else None
        return self._result(
            "F1",
            s,
            evidence,
            cap=cap,
            reasons=reasons,
            side=flag_side,
            head=head,
            pattern="reduced hip extension in late stance",
        )

    # --------------------------------------------------------------------------- F2
    def _f2(self, s: SessionMetrics, base: Baseline | None, done: Mapping[str, FlagResult]) -> FlagResult:
        r = self.rules
        if "pelvis" in s.notes or "mean_tilt" in s.notes:
            return self._insufficient("F2", [s.notes.get("pelvis") or s.notes["mean_tilt"]])
        counts = ["pelvis_left", "pelvis_right"]
        cap, reasons = self._limits(s, counts=counts, quality=["pelvis"])
        if cap == "insufficient data":
            return self._insufficient("F2", reasons)
        rise = r.flag_number("F2", "tilt_increase_deg")
        contrib_min = r.flag_number("F2", "contribution_min_deg")
        tilt = s.value("mean_tilt_deg")
        # Within the session: dynamic tilt relative to this session's quiet standing (CLINICAL.md §3 rule 2).
        label, unit = metric_label("mean_tilt_deg")
        within = Evidence(
            "mean_tilt_deg",
            label,
            tilt,
            unit,
            "norm",
            f"≥ {rise:g}° more anterior than standing",
            f"this session's quiet standing (0°); {r.flag_text('F2', 'tilt_source')} [interim]",
            _finite(tilt) and tilt >= rise,
            (tilt - rise) / rise if _finite(tilt) and tilt >= rise else _NAN,  # |Δ|/MDC 1–2 low, ≥ 2 moderate
        )
        contrib = [
            self._norm(
                s,
                f"pelvic_contribution_{side}_deg",
                cutoff=contrib_min,
                below=False,
                mdc_key="pelvic_contribution_deg",
                criterion=f"≥ {contrib_min:g}°",
                reference=f"{r.flag_text('F2', 'contribution_source')}",
                side=side,
            )
            for side in _SIDES
        ]
        f1 = done.get("F1")
        f1_on = f1 is not None and f1.flagged
        if (f1 is None or f1.status == "insufficient data") and not any(e.evaluated for e in contrib):
            why = f1.reasons[0] if f1 is not None and f1.reasons else "hip angles unavailable"
            return self._insufficient("F2", [f"needs F1 or the pelvic contribution to thigh extension: {why}"])
        support_now = f1_on or any(e.met for e in contrib)
        tilt_base = self._baseline(s, base, "mean_tilt_deg", direction=1, mdc_key="mean_tilt_deg", speed_dependent=True)
        contrib_base = [
            self._baseline(
                s,
                base,
                f"pelvic_contribution_{side}_deg",
                direction=1,
                mdc_key="pelvic_contribution_deg",
                speed_dependent=True,
                side=side,
            )
            for side in _SIDES
        ]
        support_base = f1_on or any(e is not None and (e.met or e.pending) for e in contrib_base)
        # The tilt criteria count only together with the supporting evidence (F1 or pelvic contribution).
        if not support_now:
            within = replace(within, met=False, note="tilt criterion needs F1 or a pelvic contribution ≥ cut-off")
        if tilt_base is not None and not support_base:
            tilt_base = replace(tilt_base, met=False, pending=False)
        contrib = [replace(e, met=False, effect=_NAN) for e in contrib]  # supporting evidence, not a trigger
        contrib_base = [None if e is None else replace(e, met=False, pending=False) for e in contrib_base]
        extra = "Hip extension appears to be replaced by anterior pelvic tilt. " if f1_on else ""
        if f1_on:
            reasons.append("supported by F1 (reduced hip extension)")
        return self._result(
            "F2",
            s,
            [within, tilt_base, *contrib, *contrib_base],
            cap=cap,
            reasons=reasons,
            side=None,
            head=within,
            pattern="anterior-tilt compensation",
            extra=extra,
        )

    # --------------------------------------------------------------------------- F3
    def _f3(self, s: SessionMetrics, base: Baseline | None, done: Mapping[str, FlagResult]) -> FlagResult:
        r = self.rules
        if "pelvis" in s.notes:
            return self._insufficient("F3", [s.notes["pelvis"]])
        cap, reasons = self._limits(s, counts=["pelvis_left", "pelvis_right"], quality=["pelvis"])
        if cap == "insufficient data":
            return self._insufficient("F3", reasons)
        z_min = r.flag_number("F3", "z_abs_min")
        speed = s.value("walking_speed_mps")
        evidence: list[Evidence | None] = []
        for metric in ("tilt_rom_deg", "obliquity_rom_deg", "rotation_rom_deg"):
            band = r.norms[metric].at_speed(speed)
            if band.mean is not None and band.sd is not None:
                hi, lo = band.mean + z_min * band.sd, band.mean - z_min * band.sd
                crit_hi, crit_lo = f"> {hi:.1f}° (z ≥ {z_min:g})", f"< {lo:.1f}° (z ≤ −{z_min:g})"
            else:
                hi, lo = band.high, band.low
                crit_hi, crit_lo = f"> {hi:g}° (above band)", f"< {lo:g}° (below band)"
            ref = f"reference {_band_text(band)}"
            for cutoff, below, crit in ((hi, False, crit_hi), (lo, True, crit_lo)):
                evidence.append(
                    self._norm(
                        s,
                        metric,
                        cutoff=cutoff,
                        below=below,
                        mdc_key="pelvic_rom_deg",
                        criterion=crit,
                        reference=ref,
                        speed_dependent=True,
                    )
                )
            evidence.append(
                self._baseline(s, base, metric, direction=0, mdc_key="pelvic_rom_deg", speed_dependent=True)
            )
        # A criterion fires on its own cut-off; keep the non-firing twin out of the message.
        up = [e for e in evidence if e is not None and e.met and (e.criterion.startswith(">") or e.value > e.baseline)]
        down = [e for e in evidence if e is not None and e.met and e not in up]
        direction = "↑ (pelvis and hips taking over motion)" if up else "↓ (guarded, en-bloc pattern)" if down else ""
        if direction:
            reasons.append(f"direction {direction}")
        return self._result(
            "F3",
            s,
            evidence,
            cap=cap,
            reasons=reasons,
            side=None,
            head=(up + down)[0] if up or down else None,
            pattern="a change in pelvic excursion" + (f" {direction}" if direction else ""),
            extra="Informational only (low specificity). ",
        )

    # --------------------------------------------------------------------------- F4
    def _f4(self, s: SessionMetrics, base: Baseline | None, done: Mapping[str, FlagResult]) -> FlagResult:
        r = self.rules
        if "pelvis" in s.notes:
            return self._insufficient("F4", [s.notes["pelvis"]])
        cap, reasons = self._limits(s, counts=["pelvis_left", "pelvis_right"], quality=["pelvis"])
        if cap == "insufficient data":
            return self._insufficient("F4", reasons)
        diff_min = r.flag_number("F4", "drop_difference_min_deg")
        asym = s.value("pelvic_drop_asymmetry_deg")
        drop_side = "left" if asym > 0 else "right" if asym < 0 else None
        drop_ev = self._norm(
            s,
            "pelvic_drop_asymmetry_deg",
            cutoff=diff_min,
            below=False,
            value=abs(asym) if _finite(asym) else _NAN,
            mdc_key="pelvic_drop_deg",
            criterion=f"|left − right| ≥ {diff_min:g}°",
            reference=f"{r.flag_text('F4', 'drop_difference_source')}; left "
            f"{_fmt(s.value('pelvic_drop_left_deg'), 'deg')}, right {_fmt(s.value('pelvic_drop_right_deg'), 'deg')}",
            side=drop_side,
        )
        speed = s.value("walking_speed_mps")
        band = r.norms["obliquity_rom_deg"].at_speed(speed)
        obl_ev = self._z_norm(
            s,
            "obliquity_rom_deg",
            band,
            r.flag_number("F4", "obliquity_z_min"),
            mdc_key="pelvic_rom_deg",
            speed_dependent=True,
            side=drop_side if drop_ev.met else None,
        )
        base_ev = self._baseline(
            s,
            base,
            "pelvic_drop_asymmetry_deg",
            direction=1,
            mdc_key="pelvic_drop_deg",
            speed_dependent=True,
            side=drop_side,
            magnitude=True,
        )
        extra = ""
        z = band.z(s.value("obliquity_rom_deg"))
        if drop_ev.met and _finite(z) and z <= r.flag_number("F4", "painful_hip_z_max"):
            extra = "Low obliquity range with high asymmetry: painful-hip pattern possible [27]. "
        if not s.standing_calibrated:
            reasons.append("no quiet standing: drop measured from each stride's mean obliquity (underestimates)")
        fired = [e for e in (drop_ev, obl_ev, base_ev) if e is not None and (e.met or e.pending)]
        side = drop_side if any(e.side for e in fired) else None
        if side is not None:
            extra = (
                f"Larger contralateral drop while standing on the {side} leg ({side} abductors; Trendelenburg "
                "pattern). " + extra
            )
        return self._result(
            "F4",
            s,
            [drop_ev, obl_ev, base_ev],
            cap=cap,
            reasons=reasons,
            side=side,
            head=drop_ev if drop_ev.met or not obl_ev.met else obl_ev,
            pattern="asymmetric lateral pelvic drop",
            extra=extra,
        )

    # --------------------------------------------------------------------------- F5
    def _f5(self, s: SessionMetrics, base: Baseline | None, done: Mapping[str, FlagResult]) -> FlagResult:
        r = self.rules
        cap, reasons = self._limits(s, counts=["events_left", "events_right"], quality=["alignment"])
        if cap == "insufficient data":
            return self._insufficient("F5", reasons)
        limits = (
            ("stance_symmetry_ratio", "stance_ratio_max"),
            ("swing_symmetry_ratio", "swing_ratio_max"),
            ("step_time_symmetry_ratio", "step_time_ratio_max"),
            ("step_length_symmetry_ratio", "step_length_ratio_max"),
        )
        left, right = s.value("stance_pct_left"), s.value("stance_pct_right")
        short = "left" if left < right else "right" if right < left else None
        evidence: list[Evidence | None] = []
        for metric, key in limits:
            cutoff = r.flag_number("F5", key)
            band = r.norms.get(_NORM_OF.get(metric, metric))
            ref = f"reference {_band_text(band)}" if band is not None else r.flag_text("F5", "source")
            evidence.append(
                self._norm(
                    s,
                    metric,
                    cutoff=cutoff,
                    below=False,
                    mdc_key="symmetry_ratio",
                    criterion=f"> {cutoff:g}",
                    reference=ref,
                    side=short,
                )
            )
            evidence.append(
                self._baseline(
                    s, base, metric, direction=1, mdc_key="symmetry_ratio", speed_dependent=False, side=short
                )
            )
        if not all(f"{x}_thigh" in s.quality and _finite(s.quality[f"{x}_thigh"]) for x in _SIDES):
            reasons.append(
                "step timing from the sacral sensor only (asymmetry from lower-back events is less reliable)"
            )
        reasons.append("at most moderate: asymmetry from sacral-sensor events [50, 51]")
        fired_norm = any(e is not None and e.met and e.arm == "norm" for e in evidence)
        kind_cap: Level | None = "moderate"
        if fired_norm and not any(e is not None and e.met and e.arm == "baseline" for e in evidence):
            reasons.append("at most low until the asymmetry persists at a second session (CLINICAL.md §4 F5)")
            kind_cap = "low"
        return self._result(
            "F5",
            s,
            evidence,
            cap=cap,
            reasons=reasons,
            side=short,
            head=None,
            pattern="antalgic asymmetry",
            extra=f"Shorter stance on the {short} side. " if short else "",
            kind_cap=kind_cap,
        )

    # --------------------------------------------------------------------------- F6
    def _f6(self, s: SessionMetrics, base: Baseline | None, done: Mapping[str, FlagResult]) -> FlagResult:
        r = self.rules
        cap, reasons = self._limits(s, counts=["events_left", "events_right"], quality=["alignment"])
        if cap == "insufficient data":
            return self._insufficient("F6", reasons)
        speed_ev = self._z_norm(
            s,
            "walking_speed_mps",
            r.norms["walking_speed_mps"],
            r.flag_number("F6", "speed_z_max"),
            mdc_key="walking_speed_mps",
        )
        step_band = r.norms["step_length_m"]
        step_ev = Evidence(
            "step_length_m",
            "step length",
            s.value("step_length_m"),
            "m",
            "norm",
            "context",
            f"reference {_band_text(step_band)}",
            False,
        )
        cad_ev = Evidence(
            "cadence_spm",
            "cadence",
            s.value("cadence_spm"),
            "steps/min",
            "norm",
            "context",
            f"reference {_band_text(r.norms['cadence_spm'])}",
            False,
        )
        evidence: list[Evidence | None] = [
            speed_ev,
            self._baseline(
                s, base, "walking_speed_mps", direction=-1, mdc_key="walking_speed_mps", speed_dependent=False
            ),
            self._baseline(s, base, "step_length_m", direction=-1, mdc_key="step_length_m", speed_dependent=False),
            step_ev,
            cad_ev,
        ]
        return self._result(
            "F6",
            s,
            evidence,
            cap=cap,
            reasons=reasons,
            side=None,
            head=speed_ev,
            pattern="reduced walking performance",
        )

    # --------------------------------------------------------------------------- F7
    def _f7(self, s: SessionMetrics, base: Baseline | None, done: Mapping[str, FlagResult]) -> FlagResult:
        if base is None:
            return self._insufficient("F7", ["trend-only flag: needs earlier sessions (--baseline)"])
        cap, reasons = self._limits(s, counts=["events_left", "events_right"], quality=["alignment"])
        if cap == "insufficient data":
            return self._insufficient("F7", reasons)
        evidence = [
            self._baseline(s, base, "stride_time_sd_s", direction=1, mdc_key="stride_time_sd_s", speed_dependent=False),
            self._baseline(s, base, "harmonic_ratio_ap", direction=-1, mdc_key=None, speed_dependent=True),
        ]
        return self._result(
            "F7",
            s,
            evidence,
            cap=cap,
            reasons=reasons,
            side=None,
            head=evidence[0],
            pattern="increased variability / reduced smoothness",
            extra="Trend only (low reliability). ",
        )

    # --------------------------------------------------------------------------- F8
    def _f8(self, s: SessionMetrics, base: Baseline | None, done: Mapping[str, FlagResult]) -> FlagResult:
        if base is None:
            return self._insufficient("F8", ["needs the post-op plateau: give earlier sessions (--baseline)"])
        components = ("F3", "F4", "F5", "F6")
        plateau_flags = [self._single(x, None) for x in base.plateau]
        new: list[FlagResult] = []
        evidence: list[Evidence] = []
        for fid in components:
            cur = done[fid]
            on = cur.flagged and (fid != "F3" or any("direction ↑" in x for x in cur.reasons))
            if fid == "F3" and on and done["F4"].flagged:
                # One larger obliquity range is F4's finding: do not count it twice through F3.
                on = any(e.met and e.metric != "obliquity_rom_deg" for e in cur.evidence)
            before = sum(p[fid].flagged for p in plateau_flags)
            is_new = on and 2 * before < len(plateau_flags)  # flagged in fewer than half of the plateau sessions
            evidence.append(
                Evidence(
                    fid,
                    f"{fid} {cur.name}" + (" ↑" if fid == "F3" else ""),
                    _NAN,
                    "",
                    "baseline",
                    "flagged now, not in the plateau",
                    f"flagged in {before} of {len(plateau_flags)} plateau session(s)",
                    is_new,
                    note=f"now: {cur.status} ({cur.level})",
                )
            )
            if is_new:
                new.append(cur)
        need = int(self.rules.flag_number("F8", "min_components"))
        name = self.rules.flag_text("F8", "name")
        if len(new) >= need:
            levels = sorted((_RANK.get(x.level, 0) for x in new), reverse=True)
            level = next(k for k, v in _RANK.items() if v == max(1, levels[need - 1]))
            ids = ", ".join(f"{x.id} ({x.name})" for x in new)
            return FlagResult(
                id="F8",
                name=name,
                kind="composite",
                status="flagged",
                level=level,  # type: ignore[arg-type]
                side=self._side_of([x.side for x in new if x.side in _SIDES]),
                value=float(len(new)),
                unit="patterns",
                reference=f"≥{need} of F3↑/F4/F5/F6 newly appearing after the plateau",
                message=f"Pattern consistent with SIJ overload (screen): newly appearing {ids}. Consider clinical "
                "SIJ examination; review recommended. Not a diagnosis: SIJ load cannot be measured by IMUs.",
                arms=("baseline",),
                evidence=tuple(evidence),
                reasons=(f"level of the weaker of the {need} strongest new components",),
            )
        return FlagResult(
            id="F8",
            name=name,
            kind="composite",
            status="not flagged",
            level="none",
            side=None,
            value=float(len(new)),
            unit="patterns",
            reference=f"≥{need} of F3↑/F4/F5/F6 newly appearing after the plateau",
            message=f"No SIJ-overload screen pattern: {len(new)} of F3↑/F4/F5/F6 newly appearing (≥{need} needed).",
            evidence=tuple(evidence),
        )

    # --------------------------------------------------------------------------- F9
    def _f9(self, s: SessionMetrics, base: Baseline | None, done: Mapping[str, FlagResult]) -> FlagResult:
        f1, f5, f2 = done["F1"], done["F5"], done["F2"]
        name = self.rules.flag_text("F9", "name")
        if f1.status == "insufficient data" or f5.status == "insufficient data":
            return self._insufficient("F9", [f"F1: {f1.status}", f"F5: {f5.status}", *f1.reasons[:1], *f5.reasons[:1]])
        rom_min = self.rules.flag_number("F1", "hip_rom_min_deg")
        sides = [f1.side] if f1.side in _SIDES else list(_SIDES) if f1.side == "both" else []
        evidence: list[Evidence] = []
        hit: str | None = None
        for side in sides:
            rom = s.value(f"hip_sagittal_rom_{side}_deg")
            label, unit = metric_label(f"hip_sagittal_rom_{side}_deg")
            ok = f1.flagged and f5.flagged and f5.side == side and _finite(rom) and rom < rom_min
            evidence.append(
                Evidence(
                    f"hip_sagittal_rom_{side}_deg",
                    label,
                    rom,
                    unit,
                    "norm",
                    f"F1 and F5 (shorter stance) on the {side} side, hip ROM < {rom_min:g}°",
                    f"F1 {f1.status}, F5 {f5.status} (shorter stance: {f5.side or '—'})",
                    ok,
                    side=side,
                )
            )
            if ok:
                hit = side
        if hit is None:
            return FlagResult(
                id="F9",
                name=name,
                kind="composite",
                status="not flagged",
                level="none",
                side=None,
                value=_NAN,
                unit="",
                reference=f"F1 and F5 on the same side, hip ROM < {rom_min:g}°",
                message="No hip–spine screen pattern: needs F1 and F5 (shorter stance) on the same side with reduced "
                "hip ROM.",
                evidence=tuple(evidence),
            )
        level = f1.level if _RANK.get(f1.level, 0) <= _RANK.get(f5.level, 0) else f5.level
        extra = " with anterior-tilt compensation (F2)" if f2.flagged else ""
        return FlagResult(
            id="F9",
            name=name,
            kind="composite",
            status="flagged",
            level=level,
            side=hit,
            value=s.value(f"hip_sagittal_rom_{hit}_deg"),
            unit="deg",
            reference=f"hip ROM < {rom_min:g}° with F1 and F5 on the same side",
            message=f"Pattern consistent with a hip contribution (hip–spine screen, {hit} side): reduced hip "
            f"extension, shorter stance and hip ROM {_fmt(s.value(f'hip_sagittal_rom_{hit}_deg'), 'deg')} on the "
            f"{hit} side{extra}. Consider hip assessment; review recommended.",
            arms=("norm",),
            evidence=tuple(evidence),
            reasons=("level of the weaker of F1 and F5",),
        )
