"""The HTML pieces the clinical reports share: the page style, the side colours, value formatting and the SVG plot.

Used by the session report (:mod:`server.report_html`) and the home-monitoring report (:mod:`server.home_report`),
so both look alike. Pure string building: no I/O, nothing loaded from the network. Left and right differ by line
style as well as colour, and the colours keep a contrast of at least 4.5:1 on white.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from html import escape
from typing import Any, Final, TypeGuard

__all__ = ["CSS", "LEFT_COLOR", "RIGHT_COLOR", "Plot", "badge", "esc", "fmt", "is_num"]

LEFT_COLOR: Final = "#1f4e96"  # dark blue, contrast 8.6:1 on white
RIGHT_COLOR: Final = "#a8321a"  # dark red, 6.9:1
_BAND: Final = "#d9d9d9"
_TEXT: Final = "#1a1a1a"
_LEVEL_STYLE: Final = {
    "high": ("#7a1010", "#fde2e2"),
    "moderate": ("#7a4100", "#fff0d6"),
    "low": ("#1d4f7a", "#e3eefa"),
    "none": ("#2d5a2d", "#e6f2e6"),
    "insufficient data": ("#444444", "#eeeeee"),
}

#: The page style of both reports (inline, printable).
CSS: Final = """
body{font-family:system-ui,-apple-system,"Segoe UI",Roboto,Arial,sans-serif;color:#1a1a1a;background:#fff;
margin:0 auto;max-width:1100px;padding:1rem 1.5rem;line-height:1.45}
h1{font-size:1.6rem;margin:.2rem 0}h2{font-size:1.25rem;border-bottom:2px solid #1f4e96;padding-bottom:.2rem;
margin-top:2rem}h3{font-size:1.05rem}
table{border-collapse:collapse;width:100%;margin:.5rem 0 1rem}caption{text-align:left;font-weight:600;
padding:.3rem 0}th,td{border:1px solid #b0b0b0;padding:.3rem .5rem;text-align:left;vertical-align:top}
th{background:#f0f0f0}td.num{text-align:right;font-variant-numeric:tabular-nums}
.note{color:#333;font-size:.92rem}.disclaimer{border-left:5px solid #7a4100;background:#fff7e8;padding:.6rem .9rem}
.badge{display:inline-block;border-radius:.3rem;padding:.05rem .45rem;font-weight:600;border:1px solid}
.plots{display:flex;flex-wrap:wrap;gap:1rem}figure{margin:0;flex:1 1 320px}figcaption{font-size:.9rem}
details summary{cursor:pointer}dl{display:grid;grid-template-columns:max-content 1fr;gap:.2rem 1rem}
dt{font-weight:600}dd{margin:0}
@media print{h2{break-after:avoid}figure,table{break-inside:avoid}}
"""


def esc(x: object) -> str:
    """``x`` as text escaped for HTML content and attribute values."""
    return escape(str(x), quote=True)


def is_num(x: Any) -> TypeGuard[float]:
    """Whether ``x`` is a finite int or float (not a bool): a value to print or plot."""
    return isinstance(x, int | float) and not isinstance(x, bool) and math.isfinite(x)


def fmt(x: Any, unit: str = "", digits: int = 2) -> str:
    """``x`` with its unit for a table cell (angles and ratios have fixed digits); "—" when it is not a number."""
    if not is_num(x):
        return "—"
    if unit in ("deg", "°"):
        return f"{x:.1f}°"
    if unit == "ratio":
        return f"{x:.3f}"
    return f"{x:.{digits}f} {unit}".rstrip()


def _nice_ticks(lo: float, hi: float, n: int = 5) -> list[float]:
    if not (math.isfinite(lo) and math.isfinite(hi)) or hi <= lo:
        lo, hi = (lo - 1.0, lo + 1.0) if math.isfinite(lo) else (0.0, 1.0)
    raw = (hi - lo) / max(n - 1, 1)
    mag = 10 ** math.floor(math.log10(raw))
    step = next(m * mag for m in (1, 2, 2.5, 5, 10) if m * mag >= raw)
    start = math.floor(lo / step + 1e-9) * step
    stop = math.ceil(hi / step - 1e-9) * step
    count = round((stop - start) / step)
    return [round(start + k * step, 10) for k in range(count + 1)]


class Plot:
    """A small line chart as inline SVG: series with optional ±SD bands and shaded reference bands."""

    def __init__(self, title: str, x_label: str, y_label: str, *, width: int = 440, height: int = 260) -> None:
        self.title, self.x_label, self.y_label = title, x_label, y_label
        self.width, self.height = width, height
        self.series: list[tuple[str, list[float], list[float | None], list[float | None] | None, str, str]] = []
        self.bands: list[tuple[float, float, str]] = []
        self.hlines: list[tuple[float, str, str]] = []
        self.x_ticks: list[tuple[float, str]] | None = None

    def line(
        self,
        label: str,
        x: Sequence[float],
        y: Sequence[float | None],
        sd: Sequence[float | None] | None = None,
        *,
        color: str = LEFT_COLOR,
        dash: str = "",
    ) -> None:
        self.series.append((label, list(x), list(y), None if sd is None else list(sd), color, dash))

    def band(self, low: float, high: float, label: str) -> None:
        self.bands.append((low, high, label))

    def hline(self, y: float, label: str, dash: str = "4 3") -> None:
        self.hlines.append((y, label, dash))

    def svg(self, desc: str, ident: str) -> str:
        ml, mr, mt, mb = 56, 12, 28, 64
        w, h = self.width, self.height
        pw, ph = w - ml - mr, h - mt - mb
        xs = [x for s in self.series for x in s[1]]
        ys: list[float] = []
        for _, _, y, sd, _, _ in self.series:
            for i, v in enumerate(y):
                d = sd[i] if sd is not None else None
                if is_num(v):
                    ys += [v - d, v + d] if is_num(d) else [v, v]
        ys += [b for lo, hi, _ in self.bands for b in (lo, hi)] + [y for y, _, _ in self.hlines]
        if not xs or not ys:
            return f'<p class="note">{esc(self.title)}: no data.</p>'
        x0, x1 = min(xs), max(xs)
        if x1 == x0:
            x0, x1 = x0 - 1, x1 + 1
        y_ticks = _nice_ticks(min(ys), max(ys))
        y0, y1 = y_ticks[0], y_ticks[-1]

        def px(x: float) -> float:
            return ml + (x - x0) / (x1 - x0) * pw

        def py(y: float) -> float:
            return mt + (1 - (y - y0) / (y1 - y0)) * ph

        out = [
            f'<svg xmlns="http://www.w3.org/2000/svg" role="img" aria-labelledby="{ident}-t {ident}-d" '
            f'viewBox="0 0 {w} {h}" width="{w}" height="{h}" class="plot" data-plot="{esc(ident)}">',
            f'<title id="{ident}-t">{esc(self.title)}</title><desc id="{ident}-d">{esc(desc)}</desc>',
            f'<rect x="0" y="0" width="{w}" height="{h}" fill="#fff"/>',
            f'<text x="{ml}" y="16" font-size="13" font-weight="600" fill="{_TEXT}">{esc(self.title)}</text>',
        ]
        for lo, hi, _label in self.bands:
            top, bottom = py(max(lo, hi)), py(min(lo, hi))
            out.append(
                f'<rect x="{ml}" y="{top:.1f}" width="{pw}" height="{max(bottom - top, 0.5):.1f}" fill="{_BAND}" '
                'fill-opacity="0.6"/>'
            )
        for t in y_ticks:
            out.append(
                f'<line x1="{ml}" x2="{ml + pw}" y1="{py(t):.1f}" y2="{py(t):.1f}" stroke="#e4e4e4"/>'
                f'<text x="{ml - 6}" y="{py(t) + 4:.1f}" font-size="11" text-anchor="end" fill="{_TEXT}">{t:g}</text>'
            )
        x_ticks = self.x_ticks or [(t, f"{t:g}") for t in _nice_ticks(x0, x1, 6) if x0 - 1e-9 <= t <= x1 + 1e-9]
        for t, lab in x_ticks:
            out.append(
                f'<text x="{px(t):.1f}" y="{mt + ph + 16}" font-size="11" text-anchor="middle" '
                f'fill="{_TEXT}">{esc(lab)}</text>'
            )
        out.append(f'<rect x="{ml}" y="{mt}" width="{pw}" height="{ph}" fill="none" stroke="#666"/>')
        for level, _label, dash in self.hlines:
            out.append(
                f'<line x1="{ml}" x2="{ml + pw}" y1="{py(level):.1f}" y2="{py(level):.1f}" stroke="#333" '
                f'stroke-dasharray="{dash}"/>'
            )
        for label, x, y, sd, color, dash in self.series:
            pts = [(px(a), py(b)) for a, b in zip(x, y, strict=True) if is_num(b)]
            if sd is not None:
                spread = [(a, b, d) for a, b, d in zip(x, y, sd, strict=True) if is_num(b) and is_num(d)]
                upper = [(px(a), py(b + d)) for a, b, d in spread]
                lower = [(px(a), py(b - d)) for a, b, d in spread]
                if upper:
                    poly = " ".join(f"{a:.1f},{b:.1f}" for a, b in upper + lower[::-1])
                    out.append(f'<polygon points="{poly}" fill="{color}" fill-opacity="0.15" stroke="none"/>')
            if len(pts) >= 2:
                path = " ".join(f"{a:.1f},{b:.1f}" for a, b in pts)
                dash_attr = f' stroke-dasharray="{dash}"' if dash else ""
                out.append(
                    f'<polyline points="{path}" fill="none" stroke="{color}" stroke-width="2"{dash_attr}>'
                    f"<title>{esc(label)}</title></polyline>"
                )
            for a, b in pts if len(pts) < 30 else []:
                out.append(f'<circle cx="{a:.1f}" cy="{b:.1f}" r="3" fill="{color}"/>')
        out.append(
            f'<text x="{ml + pw / 2}" y="{h - 34}" font-size="11" text-anchor="middle" fill="{_TEXT}">'
            f"{esc(self.x_label)}</text>"
            f'<text transform="translate(14 {mt + ph / 2}) rotate(-90)" font-size="11" text-anchor="middle" '
            f'fill="{_TEXT}">{esc(self.y_label)}</text>'
        )
        # Legend (text and line style, not colour alone).
        lx, ly = ml, h - 14
        items = [(s[0], s[4], s[5], "line") for s in self.series]
        items += [(b[2], _BAND, "", "band") for b in self.bands] + [
            (hl[1], "#333", hl[2], "line") for hl in self.hlines
        ]
        for label, color, dash, kind in items:
            if kind == "band":
                out.append(f'<rect x="{lx}" y="{ly - 8}" width="18" height="9" fill="{color}"/>')
            else:
                dash_attr = f' stroke-dasharray="{dash}"' if dash else ""
                out.append(
                    f'<line x1="{lx}" x2="{lx + 18}" y1="{ly - 4}" y2="{ly - 4}" stroke="{color}" '
                    f'stroke-width="2"{dash_attr}/>'
                )
            out.append(f'<text x="{lx + 22}" y="{ly}" font-size="11" fill="{_TEXT}">{esc(label)}</text>')
            lx += 30 + 6 * len(label)
            if lx > w - 120:
                lx, ly = ml, ly + 12
        out.append("</svg>")
        return "".join(out)


def badge(level: str, status: str) -> str:
    """A flag's status as a coloured badge, its confidence ``level`` in the text when flagged."""
    fg, bg = _LEVEL_STYLE.get(level, _LEVEL_STYLE["none"])
    text = {"flagged": f"flagged · {level}", "pending": "pending (not yet persistent)"}.get(status, status)
    return f'<span class="badge" style="color:{fg};background:{bg};border-color:{fg}">{esc(text)}</span>'
