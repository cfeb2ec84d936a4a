"""The home-monitoring report: a ``fusiongait.home_trends/1`` document as one self-contained HTML page.

Same look and plotting as the session report (:mod:`server.report_html`), both from :mod:`server.html_parts`:
inline CSS and SVG, nothing loaded from the network, printable. Per metric: the daily values, the 7-day rolling
median, and the baseline band (baseline median ± the change threshold), with the day the change had persisted marked.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from typing import Any

from server.html_parts import CSS, LEFT_COLOR, RIGHT_COLOR, Plot, badge, esc, fmt, is_num

__all__ = ["render_home_html"]


def _day_x(iso: str, first: dt.date) -> float:
    return float((dt.date.fromisoformat(iso) - first).days)


def _flags(doc: Mapping[str, Any]) -> str:
    rows = []
    for f in doc.get("flags", []):
        rows.append(
            f"<tr><th scope='row'>{esc(f['id'])} {esc(f['name'])}</th><td>{badge(f['confidence'], f['status'])}</td>"
            f"<td>{esc(f.get('first_fired') or '—')}</td><td>{esc(f['text'])}</td></tr>"
        )
    return (
        "<section id='flags' aria-labelledby='flags-h'><h2 id='flags-h'>Flags: home arm (change from the baseline)"
        "</h2><p class='disclaimer'>Decision support, not a diagnosis. A flag here means a pattern consistent with "
        "the named compensation in everyday walking, persisting for the rule's window; review recommended.</p>"
        "<table><caption>Flags F1–F6 from home trends</caption><thead><tr><th scope='col'>Flag</th>"
        "<th scope='col'>Status</th><th scope='col'>Persistent since</th><th scope='col'>Finding</th></tr></thead>"
        f"<tbody>{''.join(rows)}</tbody></table></section>"
    )


def _plots(doc: Mapping[str, Any]) -> str:
    first_iso = doc.get("first_date")
    if not first_iso:
        return "<section id='trends'><h2>Trends</h2><p class='note'>No analysed home days yet.</p></section>"
    first = dt.date.fromisoformat(first_iso)
    figures = []
    for i, m in enumerate(doc.get("metrics", [])):
        unit = m.get("unit", "")
        plot = Plot(f"{m['label']} ({unit})" if unit else m["label"], f"days since {first_iso}", unit or "value")
        daily = [d for d in m.get("daily", []) if d["valid"]]
        plot.line("daily value", [_day_x(d["date"], first) for d in daily], [d["value"] for d in daily],
                  color=RIGHT_COLOR, dash="2 3")  # fmt: skip
        weekly = m.get("weekly", [])
        plot.line("7-day rolling median", [_day_x(w["date"], first) for w in weekly], [w["median"] for w in weekly],
                  color=LEFT_COLOR)  # fmt: skip
        base, thr = m.get("baseline_median"), m.get("threshold")
        if is_num(base) and is_num(thr):
            plot.band(base - thr, base + thr, f"baseline ± threshold ({fmt(thr, unit)})")
        if is_num(base):
            plot.hline(base, "baseline median")
        fired = m.get("first_persistent_date")
        note = f" Change persistent since {fired}." if fired else ""
        reason = f" Not judged: {m['reason']}." if m.get("reason") else ""
        rule = m.get("rule")
        rule_text = (
            f" Threshold = max(personal MDC95 {fmt(m.get('mdc95'), unit)}, published change "
            f"{fmt(rule['meaningful_change'], unit)}{' (interim)' if rule.get('interim') else ''})."
            if rule
            else " Followed without a change rule (no published meaningful change)."
        )
        desc = f"{m['label']}: daily values and the 7-day rolling median against the baseline.{note}{reason}"
        figures.append(
            f"<figure>{plot.svg(desc, f'home-{i}')}<figcaption>{esc(desc + rule_text)}</figcaption></figure>"
        )
    return (
        "<section id='trends' aria-labelledby='trends-h'><h2 id='trends-h'>Trends against the baseline</h2>"
        f"<div class='plots'>{''.join(figures)}</div></section>"
    )


def _days(doc: Mapping[str, Any]) -> str:
    speed = next((m for m in doc.get("metrics", []) if m["metric"] == "walking_speed_median_mps"), None)
    steps = next((m for m in doc.get("metrics", []) if m["metric"] == "steps"), None)
    walking = next((m for m in doc.get("metrics", []) if m["metric"] == "walking_min"), None)

    def at(m: Mapping[str, Any] | None, i: int) -> Any:
        return None if m is None else m["daily"][i]["value"]

    rows = []
    for i, d in enumerate(doc.get("days", [])):
        status = "baseline" if d["baseline"] else ""
        valid = "yes" if d["sufficient"] else "no (not counted)"
        rows.append(
            f"<tr><td>{esc(d['date'])}</td><td>{esc(valid)}</td><td>{esc(status)}</td>"
            f"<td class='num'>{fmt(at(steps, i), '', 0)}</td><td class='num'>{fmt(at(walking, i), 'min', 1)}</td>"
            f"<td class='num'>{fmt(at(speed, i), 'm/s')}</td></tr>"
        )
    return (
        "<section id='days' aria-labelledby='days-h'><h2 id='days-h'>Days</h2><table><caption>Wear and data "
        "sufficiency per day (a day with too little wear or walking is shown but not counted)</caption><thead><tr>"
        "<th scope='col'>Date</th><th scope='col'>Sufficient</th><th scope='col'>Period</th><th scope='col'>Steps"
        "</th><th scope='col'>Walking</th><th scope='col'>Speed (median)</th></tr></thead>"
        f"<tbody>{''.join(rows)}</tbody></table></section>"
    )


def render_home_html(doc: Mapping[str, Any]) -> str:
    """The page for a ``fusiongait.home_trends/1`` document (with its ``patient`` block)."""
    patient = doc.get("patient") or {}
    base = doc.get("baseline") or {}
    rule = doc.get("rule") or {}
    title = f"FusionGait home monitoring — {patient.get('code', '')}".rstrip(" —")
    header = (
        f"<header><h1>{esc(title)}</h1><dl><dt>Period</dt><dd>{esc(doc.get('first_date') or '—')} to "
        f"{esc(doc.get('last_date') or '—')}</dd><dt>Surgery</dt><dd>{esc(patient.get('surgery_date') or '—')}</dd>"
        f"<dt>Baseline</dt><dd>{esc(base.get('from'))} to {esc(base.get('to'))}: {esc(base.get('source', ''))}; "
        f"{esc(base.get('valid_days', 0))} valid days</dd><dt>Rule</dt><dd>{esc(rule.get('source', ''))}</dd>"
        f"<dt>Generated</dt><dd>{esc(doc.get('generated_at', ''))}</dd></dl>"
        "<p class='note'>Home values are compared only with the patient's own baseline, never with lab norms "
        "(CLINICAL.md §5 rule 4).</p></header>"
    )
    body = header + "<main>" + _flags(doc) + _plots(doc) + _days(doc) + "</main>"
    return (
        '<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>{esc(title)}</title><style>{CSS}</style></head><body>{body}"
        "<footer><p class='note'>Generated by FusionGait from the home trends; open offline, no network needed."
        "</p></footer></body></html>\n"
    )
