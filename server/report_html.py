"""The clinical HTML report: one self-contained page rendered from a ``fusiongait.report/1`` document.

:func:`render_html` is pure string building (no I/O, no network): the plots are inline SVG drawn here, the styles
inline, so the file opens offline and the API can serve the same text later. Accessibility: every plot is an
``<svg role="img">`` with a title and a text description, tables have captions and header scopes, left and right
differ by line style as well as colour, and the colours keep a contrast of at least 4.5:1 on white.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Final

from gait.flags import lookup
from server.html_parts import CSS, LEFT_COLOR, RIGHT_COLOR, Plot, badge, esc, fmt, is_num

__all__ = ["render_html"]


# ------------------------------------------------------------------------------------------------ helpers
def _band_text(ref: Any) -> str:
    if not isinstance(ref, Mapping):
        return "—"
    mark = " (interim)" if ref.get("interim") else ""
    return f"{ref.get('low'):g}–{ref.get('high'):g}{mark}"


def _position(value: Any, ref: Any) -> str:
    if not is_num(value) or not isinstance(ref, Mapping):
        return ""
    if value < ref["low"]:
        return "below"
    if value > ref["high"]:
        return "above"
    return "within"


# ------------------------------------------------------------------------------------------------ sections
def _header(report: Mapping[str, Any]) -> str:
    session = report.get("session") or {}
    rec = report.get("recording") or {}
    q = report.get("quality") or {}
    rows = [
        ("Patient", session.get("patient") or "not given"),
        ("Session", " ".join(str(x) for x in (session.get("date"), session.get("label")) if x) or "not given"),
        ("Recording", f"{fmt(rec.get('duration_s'), 's', 1)} at {fmt(rec.get('sampling_rate_hz'), 'Hz', 0)}"),
        ("Sensors", ", ".join(rec.get("placements") or [])),
        ("Sensor height", f"{fmt(q.get('sensor_height_m'), 'm')} ({q.get('sensor_height_source', '—')})"),
        ("Rules / norms version", report.get("norms_version", "—")),
        ("Report schema", report.get("schema", "—")),
    ]
    items = "".join(f"<dt>{esc(k)}</dt><dd>{esc(v)}</dd>" for k, v in rows)
    caveats = report.get("caveats") or []
    first = caveats[0] if caveats else "Decision support, not a diagnosis."
    return (
        f"<header><h1>FusionGait gait report</h1><dl>{items}</dl>"
        f'<p class="disclaimer" role="note"><strong>Decision support.</strong> {esc(first)}</p></header>'
    )


def _sparkline(trend: Mapping[str, Any], ident: str) -> str:
    """A tiny trend of one metric over the sessions with the plateau median dashed (CLINICAL.md §4 presentation)."""
    values = [s.get("value") for s in trend.get("sessions", [])]
    points = [(i, v) for i, v in enumerate(values) if is_num(v)]
    if len(points) < 2:
        return ""
    ref: Any = trend.get("baseline")
    ys = [v for _, v in points] + ([ref] if is_num(ref) else [])
    lo, hi = min(ys), max(ys)
    span = (hi - lo) or 1.0
    w, h, pad = 96, 26, 3

    def px(i: float) -> float:
        return pad + i / max(len(values) - 1, 1) * (w - 2 * pad)

    def py(v: float) -> float:
        return pad + (1 - (v - lo) / span) * (h - 2 * pad)

    label = f"trend of {trend.get('label')}: " + ", ".join(fmt(v, trend.get("unit", "")) for _, v in points)
    base = ""
    if is_num(ref):
        y_ref = f"{py(ref):.1f}"
        base = f'<line x1="{pad}" x2="{w - pad}" y1="{y_ref}" y2="{y_ref}" stroke="#333" stroke-dasharray="3 2"/>'

    last_i, last_v = points[-1]
    return (
        f'<svg xmlns="http://www.w3.org/2000/svg" role="img" aria-labelledby="{ident}" viewBox="0 0 {w} {h}" '
        f'width="{w}" height="{h}" class="spark"><title id="{ident}">{esc(label)}</title>{base}'
        f'<polyline points="{" ".join(f"{px(i):.1f},{py(v):.1f}" for i, v in points)}" fill="none" '
        f'stroke="{LEFT_COLOR}" stroke-width="1.5"/><circle cx="{px(last_i):.1f}" cy="{py(last_v):.1f}" r="2.5" '
        f'fill="{LEFT_COLOR}"/></svg>'
    )


def _flags(report: Mapping[str, Any]) -> str:
    flags = report.get("flags") or []
    trends = {t["metric"]: t for t in lookup(report, "baseline", "trend") or []}
    if not flags:
        return "<section><h2 id='flags'>Compensation flags</h2><p>No flags were evaluated.</p></section>"
    rows = []
    for f in flags:
        ev_rows = "".join(
            f"<tr><td>{esc(e['label'])}</td><td>{esc(e['arm'])}</td><td class='num'>{esc(fmt(e['value'], e['unit']))}"
            f"</td><td>{esc(e['criterion'])}</td><td>{esc(e['reference'])}</td>"
            f"<td>{'met' if e['met'] else ('pending' if e['pending'] else 'not met')}"
            f"{(' (' + esc(e['note']) + ')') if e.get('note') else ''}</td></tr>"
            for e in f.get("evidence", [])
        )
        reasons = "".join(f"<li>{esc(r)}</li>" for r in f.get("confidence", {}).get("reasons", []))
        details = (
            "<details><summary>Evidence and confidence</summary>"
            + (f"<ul>{reasons}</ul>" if reasons else "")
            + (
                "<table><caption>Criteria checked for "
                + esc(f["id"])
                + "</caption><thead><tr><th scope='col'>Input</th><th scope='col'>Arm</th><th scope='col'>Value</th>"
                "<th scope='col'>Criterion</th><th scope='col'>Reference</th><th scope='col'>Result</th></tr></thead>"
                f"<tbody>{ev_rows}</tbody></table>"
                if ev_rows
                else ""
            )
            + "</details>"
        )
        rows.append(
            f"<tr class='flag' data-flag='{esc(f['id'])}' data-status='{esc(f['status'])}'>"
            f"<th scope='row'>{esc(f['id'])}</th><td>{esc(f['name'])} <span class='note'>({esc(f['kind'])})</span></td>"
            f"<td>{esc(f['side'] or '—')}</td><td>{badge(f['level'], f['status'])}</td>"
            f"<td class='num'>{esc(fmt(f['value'], f['unit']))}"
            + (f"<br><span class='note'>± {esc(fmt(f.get('ci95'), f['unit']))}</span>" if is_num(f.get("ci95")) else "")
            + (
                f"<br>{_sparkline(trends[f['metric']], 'spark-' + f['id'])}"
                if f.get("metric") in trends and f["status"] != "insufficient data"
                else ""
            )
            + f"</td><td>{esc(f['message'])}{details}</td></tr>"
        )
    n_on = sum(f["status"] == "flagged" for f in flags)
    return (
        "<section><h2 id='flags'>Compensation flags</h2>"
        f"<p>{n_on} of {len(flags)} patterns flagged. Levels: insufficient data / low / moderate / high, from the "
        "strides used, calibration and signal quality, the size of the effect relative to measurement error, and "
        "persistence over sessions. Wording is that of a screen; a clinician must review every flag.</p>"
        "<table><caption>Flags F1–F9 (CLINICAL.md §4)</caption><thead><tr><th scope='col'>ID</th>"
        "<th scope='col'>Pattern</th><th scope='col'>Side</th><th scope='col'>Status · confidence</th>"
        "<th scope='col'>Value (± 95 % CI; trend)</th><th scope='col'>Finding</th></tr></thead><tbody>"
        + "".join(rows)
        + "</tbody></table></section>"
    )


_ST_ROWS: Final = (
    ("walking_speed_mps", "Walking speed", "m/s"),
    ("cadence_spm", "Cadence", "steps/min"),
    ("step_length_m", "Step length", "m"),
    ("stride_length_m", "Stride length", "m"),
    ("stride_time_s", "Stride time", "s"),
    ("stride_time_cv_pct", "Stride-time CV", "%"),
    ("double_support_pct", "Double support", "%"),
)


def _spatiotemporal(report: Mapping[str, Any]) -> str:
    st = report.get("spatiotemporal") or {}
    detail = st.get("detail") or {}
    rows = []
    for key, label, unit in _ST_ROWS:
        d = detail.get(key) or {}
        value = d.get("value", st.get(key))
        sd = d.get("sd")
        ref = d.get("reference")
        rows.append(
            f"<tr><th scope='row'>{esc(label)}</th><td class='num'>{esc(fmt(value, unit))}</td>"
            f"<td class='num'>{esc(fmt(sd, unit))}</td><td class='num'>{esc(d.get('n', '—'))}</td>"
            f"<td>{esc(_band_text(ref))} {esc(unit)}</td><td>{esc(_position(value, ref))}</td></tr>"
        )
    return (
        "<section><h2 id='spatiotemporal'>Spatiotemporal parameters</h2>"
        f"<p>{esc(st.get('n_steps', 0))} steps and {esc(st.get('n_strides', 0))} strides used"
        f"{' (turns excluded)' if st.get('turns_excluded') else ''}.</p>"
        "<table><caption>Spatiotemporal parameters with healthy reference bands (CLINICAL.md §2)</caption><thead><tr>"
        "<th scope='col'>Parameter</th><th scope='col'>Mean</th><th scope='col'>SD</th><th scope='col'>n</th>"
        "<th scope='col'>Reference band</th><th scope='col'>Position</th></tr></thead><tbody>"
        + "".join(rows)
        + "</tbody></table></section>"
    )


def _symmetry(report: Mapping[str, Any]) -> str:
    st = report.get("spatiotemporal") or {}
    detail = st.get("detail") or {}
    kin = report.get("kinematics") or {}
    hip = kin.get("hip") or {}
    pelvis = kin.get("pelvis") or {}

    def val(entry: Any) -> Any:
        return entry.get("value") if isinstance(entry, Mapping) else entry

    pairs = [
        ("Stance", "%", lookup(st, "stance_pct", "left"), lookup(st, "stance_pct", "right")),
        ("Swing", "%", lookup(st, "swing_pct", "left"), lookup(st, "swing_pct", "right")),
        ("Step time", "s", lookup(st, "step_time_s_by_side", "left"), lookup(st, "step_time_s_by_side", "right")),
        ("Step length", "m", lookup(st, "step_length_m_by_side", "left"), lookup(st, "step_length_m_by_side", "right")),
        (
            "Peak hip extension",
            "deg",
            val(lookup(hip, "left", "peak_extension_deg")),
            val(lookup(hip, "right", "peak_extension_deg")),
        ),
        (
            "Hip sagittal ROM",
            "deg",
            val(lookup(hip, "left", "sagittal_rom_deg")),
            val(lookup(hip, "right", "sagittal_rom_deg")),
        ),
        (
            "Contralateral pelvic drop (standing on this leg)",
            "deg",
            val(lookup(pelvis, "contralateral_drop_deg", "left")),
            val(lookup(pelvis, "contralateral_drop_deg", "right")),
        ),
    ]
    rows = "".join(
        f"<tr><th scope='row'>{esc(label)}</th><td class='num'>{esc(fmt(left, unit))}</td>"
        f"<td class='num'>{esc(fmt(right, unit))}</td></tr>"
        for label, unit, left, right in pairs
    )
    ratios = [
        ("stance_symmetry_ratio", "Stance-time symmetry ratio"),
        ("swing_symmetry_ratio", "Swing-time symmetry ratio"),
        ("step_time_asymmetry", "Step-time symmetry ratio"),
        ("step_length_symmetry_ratio", "Step-length symmetry ratio"),
    ]
    ratio_rows = "".join(
        f"<tr><th scope='row'>{esc(label)}</th><td class='num'>{esc(fmt(st.get(key), 'ratio'))}</td>"
        f"<td>≤ {esc(lookup(detail, key, 'reference', 'high') or '—')}</td>"
        f"<td>{esc(_position(st.get(key), lookup(detail, key, 'reference')))}</td></tr>"
        for key, label in ratios
    )
    return (
        "<section><h2 id='symmetry'>Left / right symmetry</h2>"
        "<table><caption>Per-side values</caption><thead><tr><th scope='col'>Measure</th><th scope='col'>Left</th>"
        f"<th scope='col'>Right</th></tr></thead><tbody>{rows}</tbody></table>"
        "<table><caption>Symmetry ratios (larger / smaller side; upper normal limits CLINICAL.md §2 [37, 38])"
        "</caption><thead><tr><th scope='col'>Ratio</th><th scope='col'>Value</th><th scope='col'>Upper limit</th>"
        f"<th scope='col'>Position</th></tr></thead><tbody>{ratio_rows}</tbody></table>"
        "<p class='note'>Step timing comes from the sacral sensor; asymmetry from lower-back events is less "
        "reliable than from thigh events.</p></section>"
    )


def _curve_plot(
    title: str,
    y_label: str,
    curves: Mapping[str, Any],
    name: str,
    ident: str,
    band: tuple[float, float, str] | None = None,
) -> str:
    plot = Plot(title, "% of gait cycle (from the side's initial contact)", y_label)
    parts = []
    for side, color, dash in (("left", LEFT_COLOR, ""), ("right", RIGHT_COLOR, "6 4")):
        c = curves.get(side) or {}
        entry = c.get(name) or {}
        mean, sd = entry.get("mean_deg"), entry.get("sd_deg")
        x = c.get("percent_cycle")
        if not mean or not x or not any(is_num(v) for v in mean):
            continue
        plot.line(f"{side} (n={c.get('n_strides', 0)})", x, mean, sd, color=color, dash=dash)
        finite = [v for v in mean if is_num(v)]
        parts.append(f"{side}: {len(finite)} points, range {min(finite):.1f}° to {max(finite):.1f}°")
    if band is not None:
        plot.band(*band)
    if not plot.series:
        return f"<figure><p class='note'>{esc(title)}: not available.</p></figure>"
    desc = f"{title}, mean ± SD over strides per side. " + "; ".join(parts)
    return f"<figure>{plot.svg(desc, ident)}<figcaption>{esc(desc)}</figcaption></figure>"


def _kinematics(report: Mapping[str, Any]) -> str:
    kin = report.get("kinematics")
    if not kin:
        return (
            "<section><h2 id='kinematics'>Pelvis and hip kinematics</h2><p>Not computed (no strides to calibrate "
            "on).</p></section>"
        )
    pelvis = kin.get("pelvis") or {}
    hip = kin.get("hip") or {}
    figures = []
    if pelvis.get("available"):
        curves = pelvis.get("curves") or {}
        for name, title, metric in (
            ("tilt", "Pelvic tilt (anterior +)", "tilt_rom_deg"),
            ("obliquity", "Pelvic obliquity (left side up +)", "obliquity_rom_deg"),
            ("rotation", "Pelvic rotation (pelvis turned left +)", "rotation_rom_deg"),
        ):
            ref = lookup(pelvis, metric, "reference")
            band = None
            if isinstance(ref, Mapping) and name != "tilt":
                half = float(ref["high"]) / 2.0
                band = (-half, half, f"healthy ROM up to {ref['high']:g}° (centred)")
            figures.append(_curve_plot(title, "angle (°)", curves, name, f"pelvis-{name}", band))
    hip_curves = {side: (hip.get(side) or {}).get("curves") for side in ("left", "right")}
    if any(hip_curves.values()):
        ext_ref = lookup(hip, "left", "peak_extension_deg", "reference") or lookup(
            hip, "right", "peak_extension_deg", "reference"
        )
        band = None
        if isinstance(ext_ref, Mapping):
            band = (-float(ext_ref["high"]), -float(ext_ref["low"]), "healthy peak-extension range")
        figures.append(
            _curve_plot(
                "Hip flexion (+) / extension (−)",
                "angle (°)",
                {k: v for k, v in hip_curves.items() if v},
                "hip_flexion",
                "hip-flexion",
                band,
            )
        )
        figures.append(
            _curve_plot(
                "Thigh inclination (knee forward +)",
                "angle (°)",
                {k: v for k, v in hip_curves.items() if v},
                "thigh_inclination",
                "thigh-inclination",
            )
        )

    def val(entry: Any) -> str:
        if not isinstance(entry, Mapping):
            return "—"
        return f"{fmt(entry.get('value'), 'deg')} ± {fmt(entry.get('sd'), 'deg')}".replace("± —", "")

    rows = []
    for key, label in (
        ("tilt_rom_deg", "Pelvic tilt ROM"),
        ("obliquity_rom_deg", "Pelvic obliquity ROM"),
        ("rotation_rom_deg", "Pelvic rotation ROM"),
        ("mean_tilt_deg", "Mean tilt vs standing"),
    ):
        entry = pelvis.get(key)
        rows.append(
            f"<tr><th scope='row'>{esc(label)}</th><td class='num'>{esc(val(entry))}</td>"
            f"<td>{esc(_band_text(lookup(entry, 'reference')))}</td></tr>"
        )
    for side in ("left", "right"):
        h = hip.get(side) or {}
        for key, label in (
            ("peak_extension_deg", "peak hip extension"),
            ("sagittal_rom_deg", "hip sagittal ROM"),
            ("pelvic_contribution_deg", "pelvic contribution to thigh extension"),
        ):
            entry = h.get(key)
            rows.append(
                f"<tr><th scope='row'>{esc(side.capitalize() + ' ' + label)}</th><td class='num'>{esc(val(entry))}</td>"
                f"<td>{esc(_band_text(lookup(entry, 'reference')))}</td></tr>"
            )
    return (
        "<section><h2 id='kinematics'>Pelvis and hip kinematics</h2>"
        "<p class='note'>Curves: mean (line) ± SD (shaded) per side over that side's gait cycle; left solid blue, "
        "right dashed red. Grey bands: healthy reference ranges of CLINICAL.md §2 (no normative curves yet; the "
        "ROM band is centred on zero for orientation only). Tilt is relative to this session's standing posture.</p>"
        f"<div class='plots'>{''.join(figures)}</div>"
        "<table><caption>Kinematic metrics (mean ± SD over strides) with reference bands</caption><thead><tr>"
        "<th scope='col'>Metric</th><th scope='col'>Value</th><th scope='col'>Reference band</th></tr></thead>"
        f"<tbody>{''.join(rows)}</tbody></table></section>"
    )


def _trend(report: Mapping[str, Any]) -> str:
    base = report.get("baseline")
    if not base:
        return ""
    figures = []
    for i, t in enumerate(base.get("trend") or []):
        sessions = t["sessions"]
        plot = Plot(t["label"], "session", f"{t['label']} ({t['unit']})", width=330, height=220)
        x = list(range(1, len(sessions) + 1))
        plot.line("sessions", x, [s["value"] for s in sessions], color=LEFT_COLOR)
        plot.x_ticks = [(k, str(k)) for k in x]
        ref, mdc = t.get("baseline"), t.get("mdc")
        if is_num(ref):
            plot.hline(ref, "plateau median")
            if is_num(mdc):
                plot.band(ref - mdc, ref + mdc, "± MDC")
        values = ", ".join(f"{s['label']}: {fmt(s['value'], t['unit'])}" for s in sessions)
        desc = (
            f"{t['label']} over {len(sessions)} sessions (last = this session): {values}. Plateau median "
            f"{fmt(ref, t['unit'])}, change {fmt(t.get('delta'), t['unit'])}, MDC {fmt(mdc, t['unit'])}."
        )
        figures.append(f"<figure>{plot.svg(desc, f'trend-{i}')}<figcaption>{esc(desc)}</figcaption></figure>")
    sessions = ", ".join(base.get("sessions") or [])
    return (
        "<section><h2 id='trend'>Trend against the personal baseline</h2>"
        f"<p>Earlier sessions: {esc(sessions)}; the first {esc(base.get('plateau_sessions'))} form the plateau. "
        "A change counts when it exceeds the minimal detectable change (MDC, CLINICAL.md §5) and persists over two "
        f"consecutive sessions.</p><div class='plots'>{''.join(figures)}</div></section>"
    )


def _quality(report: Mapping[str, Any]) -> str:
    q = report.get("quality") or {}
    kin = report.get("kinematics") or {}
    al = q.get("alignment") or {}
    rows = [
        ("Alignment confidence", f"{fmt(al.get('confidence'), '', 2)} (vertical from {al.get('vertical_source')})"),
        ("Strides used / detected", f"{q.get('strides_used', '—')} / {q.get('strides_detected', '—')}"),
        ("Steps detected", q.get("steps_detected", "—")),
        ("Quiet standing", fmt(q.get("standing_s"), "s", 1)),
        ("Longest gap", fmt(lookup(q, "gaps", "longest_gap_s"), "s", 2)),
        (
            "Lost samples",
            ", ".join(
                f"{k} {fmt(100 * v, '%', 1) if is_num(v) else '—'}"
                for k, v in (lookup(q, "gaps", "lost_fraction") or {}).items()
            ),
        ),
        ("Turns", len(q.get("turns") or [])),
        ("Strides rejected (kinematics)", len(q.get("strides_rejected") or [])),
    ]
    used = kin.get("strides_used") or {}
    if used:
        hip = used.get("hip") or {}
        rows.append(
            (
                "Kinematic strides used",
                f"pelvis {used.get('pelvis')}, left hip {hip.get('left')}, right hip {hip.get('right')}",
            )
        )
    for name, c in (kin.get("calibration") or {}).items():
        notes = "; ".join(c.get("notes") or [])
        rows.append(
            (
                f"Calibration {name}",
                f"{c.get('method')}, quality {fmt(c.get('quality'), '', 2)}" + (f" — {notes}" if notes else ""),
            )
        )
    body = "".join(f"<tr><th scope='row'>{esc(k)}</th><td>{esc(v)}</td></tr>" for k, v in rows)
    warnings = "".join(f"<li>{esc(w)}</li>" for w in report.get("warnings") or [])
    return (
        "<section><h2 id='quality'>Data quality</h2><table><caption>Calibration, gaps and strides used</caption>"
        f"<tbody>{body}</tbody></table>"
        + (f"<h3>Warnings</h3><ul>{warnings}</ul>" if warnings else "<p>No warnings.</p>")
        + "</section>"
    )


def _caveats(report: Mapping[str, Any]) -> str:
    items = "".join(f"<li>{esc(c)}</li>" for c in report.get("caveats") or [])
    return f"<section><h2 id='caveats'>Caveats</h2><ul>{items}</ul></section>"


def render_html(report: Mapping[str, Any]) -> str:
    """The clinical report of a ``fusiongait.report/1`` document as one self-contained HTML page.

    Parameters
    ----------
    report : mapping
        The JSON report (``gait.report.build_report``), flags and, when given, baseline trend included.

    Returns
    -------
    str
        An HTML5 document with inline CSS and SVG; it loads nothing from the network.
    """
    session = report.get("session") or {}
    title = "FusionGait gait report" + (f" — {session['patient']}" if session.get("patient") else "")
    nav = (
        "<nav aria-label='Sections'><a href='#flags'>Flags</a> · <a href='#spatiotemporal'>Spatiotemporal</a> · "
        "<a href='#symmetry'>Symmetry</a> · <a href='#kinematics'>Kinematics</a> · "
        + ("<a href='#trend'>Trend</a> · " if report.get("baseline") else "")
        + "<a href='#quality'>Quality</a> · <a href='#caveats'>Caveats</a></nav>"
    )
    body = "".join(
        (
            _header(report),
            nav,
            "<main>",
            _flags(report),
            _spatiotemporal(report),
            _symmetry(report),
            _kinematics(report),
            _trend(report),
            _quality(report),
            _caveats(report),
            "</main>",
        )
    )
    return (
        '<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>{esc(title)}</title><style>{CSS}</style></head><body>{body}"
        "<footer><p class='note'>Generated by FusionGait from the JSON report; open offline, no network needed."
        "</p></footer></body></html>\n"
    )
