// Hand-written charts: SVG line/point charts (gait-cycle curves, trends) and the canvas of live scrolling traces.
//
// Left and right differ by line style and marker shape as well as colour (left: solid blue, circles; right: dashed
// red, squares); reference bands are grey and named in the legend. Every SVG chart has role="img", a title and a
// text description of what it shows.

import { h, isNum, s } from "./dom.js";

export const LEFT = "#1f4e96"; // 8.6:1 on white
export const RIGHT = "#a8321a"; // 6.9:1 on white
export const NEUTRAL = "#1a1a1a";
export const BAND = "#d4d4d4";
const GRID = "#e3e3e3";
const AXIS = "#555555";

export const SIDE_STYLE = {
  left: { color: LEFT, dash: "", marker: "circle", label: "left" },
  right: { color: RIGHT, dash: "7 4", marker: "square", label: "right" },
};

/** Round tick values covering [lo, hi]. */
export function niceTicks(lo, hi, n = 5) {
  if (!isNum(lo) || !isNum(hi)) return [0, 1];
  if (hi <= lo) {
    lo -= 1;
    hi += 1;
  }
  const raw = (hi - lo) / Math.max(n - 1, 1);
  const mag = 10 ** Math.floor(Math.log10(raw));
  const step = [1, 2, 2.5, 5, 10].map((m) => m * mag).find((v) => v >= raw * 0.999);
  const start = Math.floor(lo / step + 1e-9) * step;
  const stop = Math.ceil(hi / step - 1e-9) * step;
  const ticks = [];
  for (let k = 0; k <= Math.round((stop - start) / step); k += 1) ticks.push(Number((start + k * step).toFixed(10)));
  return ticks;
}

function tickText(v) {
  return String(Number(v.toPrecision(6)));
}

let chartCounter = 0;

/**
 * An SVG chart inside a <figure> with an HTML legend and caption.
 *
 * opts: {title, xLabel, yLabel, series: [{label, x, y, sd?, err?, color, dash, marker, line?}], bands: [{low, high,
 * label}], xDomain?, xTicks?: [{x, label}], desc, caption?, width?, height?, testid?}
 */
export function lineChart(opts) {
  const width = opts.width ?? 460;
  const height = opts.height ?? 270;
  const ml = 60;
  const mr = 14;
  const mt = 14;
  const mb = 48;
  const pw = width - ml - mr;
  const ph = height - mt - mb;
  const series = opts.series || [];
  const bands = (opts.bands || []).filter((b) => isNum(b.low) && isNum(b.high));

  const xs = series.flatMap((sr) => sr.x.filter(isNum));
  const ys = [];
  for (const sr of series) {
    sr.y.forEach((v, i) => {
      if (!isNum(v)) return;
      const spread = (sr.sd && sr.sd[i]) ?? (sr.err && sr.err[i]);
      if (isNum(spread)) ys.push(v - spread, v + spread);
      else ys.push(v);
    });
  }
  for (const b of bands) ys.push(b.low, b.high);

  const [x0, x1] = opts.xDomain ?? [Math.min(...xs), Math.max(...xs)];
  // a little room around data and bands, so a band's edges stay visible
  const yLo = ys.length ? Math.min(...ys) : 0;
  const yHi = ys.length ? Math.max(...ys) : 1;
  const pad = (yHi - yLo || Math.abs(yHi) || 1) * 0.08;
  let yTicks = niceTicks(yLo >= 0 ? Math.max(0, yLo - pad) : yLo - pad, yHi + pad, 5);
  if (yTicks.length < 2) yTicks = [yTicks[0] - 1, yTicks[0] + 1];
  const y0 = yTicks[0];
  const y1 = yTicks[yTicks.length - 1];
  const px = (x) => ml + ((x - x0) / (x1 - x0 || 1)) * pw;
  const py = (y) => mt + ph - ((y - y0) / (y1 - y0 || 1)) * ph;

  const id = `chart-${(chartCounter += 1)}`;
  const svg = s("svg", {
    viewBox: `0 0 ${width} ${height}`,
    role: "img",
    "aria-labelledby": `${id}-title ${id}-desc`,
    class: "chart",
    preserveAspectRatio: "xMidYMid meet",
  });
  svg.append(s("title", { id: `${id}-title` }, opts.title), s("desc", { id: `${id}-desc` }, opts.desc || ""));

  // reference bands
  for (const b of bands) {
    const top = py(Math.min(Math.max(b.high, y0), y1));
    const bottom = py(Math.max(Math.min(b.low, y1), y0));
    svg.append(s("rect", { x: ml, y: top, width: pw, height: Math.max(bottom - top, 0), fill: BAND, opacity: 0.7 }));
  }
  // grid and y axis
  for (const t of yTicks) {
    svg.append(s("line", { x1: ml, x2: ml + pw, y1: py(t), y2: py(t), stroke: GRID, "stroke-width": 1 }));
    svg.append(
      s("text", { x: ml - 6, y: py(t) + 4, "text-anchor": "end", class: "tick" }, tickText(t)),
    );
  }
  if (y0 < 0 && y1 > 0) {
    svg.append(s("line", { x1: ml, x2: ml + pw, y1: py(0), y2: py(0), stroke: AXIS, "stroke-width": 1 }));
  }
  // x axis
  const xTicks = opts.xTicks ?? niceTicks(x0, x1, 6).filter((t) => t >= x0 && t <= x1).map((t) => ({ x: t, label: tickText(t) }));
  for (const t of xTicks) {
    svg.append(s("line", { x1: px(t.x), x2: px(t.x), y1: mt + ph, y2: mt + ph + 5, stroke: AXIS }));
    svg.append(s("text", { x: px(t.x), y: mt + ph + 18, "text-anchor": "middle", class: "tick" }, t.label));
  }
  svg.append(s("rect", { x: ml, y: mt, width: pw, height: ph, fill: "none", stroke: AXIS, "stroke-width": 1 }));
  svg.append(
    s("text", { x: ml + pw / 2, y: height - 6, "text-anchor": "middle", class: "axis-label" }, opts.xLabel || ""),
  );
  svg.append(
    s(
      "text",
      { x: 14, y: mt + ph / 2, "text-anchor": "middle", class: "axis-label", transform: `rotate(-90 14 ${mt + ph / 2})` },
      opts.yLabel || "",
    ),
  );

  // series: SD band, line (split at gaps), error bars, markers
  for (const sr of series) {
    const pts = sr.x.map((x, i) => [x, sr.y[i], sr.sd ? sr.sd[i] : null, sr.err ? sr.err[i] : null]);
    if (sr.sd) {
      const ok = pts.filter(([x, y, sd]) => isNum(x) && isNum(y) && isNum(sd));
      if (ok.length > 1) {
        const upper = ok.map(([x, y, sd]) => `${px(x).toFixed(1)},${py(y + sd).toFixed(1)}`);
        const lower = ok.reverse().map(([x, y, sd]) => `${px(x).toFixed(1)},${py(y - sd).toFixed(1)}`);
        svg.append(s("polygon", { points: [...upper, ...lower].join(" "), fill: sr.color, opacity: 0.14 }));
      }
    }
    if (sr.line !== false) {
      let d = "";
      let pen = false;
      for (const [x, y] of pts) {
        if (isNum(x) && isNum(y)) {
          d += `${pen ? "L" : "M"}${px(x).toFixed(1)},${py(y).toFixed(1)}`;
          pen = true;
        } else pen = false;
      }
      if (d) {
        svg.append(
          s("path", {
            d,
            fill: "none",
            stroke: sr.color,
            "stroke-width": 2.2,
            "stroke-dasharray": sr.dash || null,
            "stroke-linejoin": "round",
          }),
        );
      }
    }
    for (const [x, y, , err] of pts) {
      if (!isNum(x) || !isNum(y)) continue;
      if (isNum(err)) {
        svg.append(
          s("line", { x1: px(x), x2: px(x), y1: py(y - err), y2: py(y + err), stroke: sr.color, "stroke-width": 1.5 }),
        );
      }
      if (sr.marker) svg.append(marker(sr.marker, px(x), py(y), sr.color));
    }
  }

  const legend = h(
    "ul",
    { class: "legend" },
    series.map((sr) =>
      h("li", {}, legendSwatch(sr), " ", sr.label),
    ),
    bands.map((b) => h("li", {}, h("span", { class: "swatch swatch-band", "aria-hidden": "true" }), " ", b.label)),
  );
  return h(
    "figure",
    { class: "chart-figure", "data-testid": opts.testid || null },
    h("figcaption", { class: "chart-title" }, opts.title),
    svg,
    legend,
    opts.caption ? h("p", { class: "chart-caption" }, opts.caption) : null,
  );
}

function marker(kind, x, y, color) {
  if (kind === "square") return s("rect", { x: x - 4.5, y: y - 4.5, width: 9, height: 9, fill: color });
  if (kind === "diamond") {
    return s("polygon", { points: `${x},${y - 6} ${x + 6},${y} ${x},${y + 6} ${x - 6},${y}`, fill: color });
  }
  return s("circle", { cx: x, cy: y, r: 5, fill: color });
}

function legendSwatch(sr) {
  const svg = s("svg", { width: 34, height: 14, viewBox: "0 0 34 14", "aria-hidden": "true", class: "swatch-svg" });
  if (sr.line !== false) {
    svg.append(
      s("line", { x1: 1, x2: 33, y1: 7, y2: 7, stroke: sr.color, "stroke-width": 2.5, "stroke-dasharray": sr.dash || null }),
    );
  }
  if (sr.marker) svg.append(marker(sr.marker, 17, 7, sr.color));
  return svg;
}

// ------------------------------------------------------------------------------------------- live traces (canvas)

/** The live channels of a `trace` message, drawn as stacked strips (the hip strip holds both sides). */
export const TRACE_STRIPS = [
  { title: "Pelvic tilt (anterior +)", channels: [["pelvis_tilt_deg", "tilt", NEUTRAL, []]] },
  { title: "Pelvic obliquity (left side up +)", channels: [["pelvis_obliquity_deg", "obliquity", NEUTRAL, []]] },
  { title: "Pelvic rotation (pelvis turned left +)", channels: [["pelvis_rotation_deg", "rotation", NEUTRAL, []]] },
  {
    title: "Hip flexion (+) / extension (−)",
    channels: [
      ["hip_flexion_left_deg", "left", LEFT, []],
      ["hip_flexion_right_deg", "right", RIGHT, [8, 5]],
    ],
  },
];

/** A signed number as printed on the trace canvas: a real minus sign ("−4.0"), never "-0.0". */
function signed(v, digits) {
  const text = v.toFixed(digits);
  if (Number(text) === 0) return (0).toFixed(digits);
  return v < 0 ? `\u2212${text.slice(1)}` : text;
}

/**
 * Scrolling traces of the last `windowS` seconds on a canvas. push(traceMessage) appends samples (consecutive with
 * the previous trace; overlapping samples are dropped), reset() clears, latest() gives the newest value per channel.
 * onDraw(values) is called after each frame with the newest value per channel as drawn (a text readout shows the
 * same numbers as the canvas, in the same frame). The tick and value labels drawn last are in canvas.traceLabels
 * ({x, y, w, h, text}, CSS pixels), for tests.
 */
export class TraceView {
  constructor(canvas, { windowS = 10, onDraw = null } = {}) {
    this.canvas = canvas;
    this.windowS = windowS;
    this.onDraw = onDraw;
    this.data = {};
    this.tEnd = null;
    this.pending = false;
    this.reset();
    this.observer = new ResizeObserver(() => this.schedule());
    this.observer.observe(canvas);
  }

  reset() {
    for (const strip of TRACE_STRIPS) for (const [key] of strip.channels) this.data[key] = { t: [], v: [] };
    this.tEnd = null;
    this.schedule();
  }

  push(msg) {
    const rate = msg.rate_hz;
    if (!isNum(rate) || rate <= 0 || !isNum(msg.t0_s) || !msg.channels) return;
    let newest = this.tEnd;
    for (const [key, values] of Object.entries(msg.channels)) {
      const ch = this.data[key];
      if (!ch || !Array.isArray(values)) continue;
      const lastT = ch.t.length ? ch.t[ch.t.length - 1] : -Infinity;
      for (let i = 0; i < values.length; i += 1) {
        const t = msg.t0_s + i / rate;
        if (t <= lastT + 1e-9) continue;
        ch.t.push(t);
        ch.v.push(isNum(values[i]) ? values[i] : null);
      }
      if (ch.t.length) newest = Math.max(newest ?? -Infinity, ch.t[ch.t.length - 1]);
    }
    this.tEnd = newest;
    this.prune();
    this.schedule();
  }

  prune() {
    if (this.tEnd === null) return;
    const cut = this.tEnd - this.windowS - 0.5;
    for (const ch of Object.values(this.data)) {
      let k = 0;
      while (k < ch.t.length && ch.t[k] < cut) k += 1;
      if (k > 0) {
        ch.t.splice(0, k);
        ch.v.splice(0, k);
      }
    }
  }

  latest(key) {
    const ch = this.data[key];
    if (!ch) return null;
    for (let i = ch.v.length - 1; i >= 0 && i >= ch.v.length - 5; i -= 1) if (isNum(ch.v[i])) return ch.v[i];
    return null;
  }

  schedule() {
    if (this.pending) return;
    this.pending = true;
    requestAnimationFrame(() => {
      this.pending = false;
      this.draw();
    });
  }

  destroy() {
    this.observer.disconnect();
  }

  draw() {
    const canvas = this.canvas;
    const dpr = window.devicePixelRatio || 1;
    const cssW = canvas.clientWidth || 800;
    const cssH = canvas.clientHeight || 440;
    if (canvas.width !== Math.round(cssW * dpr) || canvas.height !== Math.round(cssH * dpr)) {
      canvas.width = Math.round(cssW * dpr);
      canvas.height = Math.round(cssH * dpr);
    }
    const ctx = canvas.getContext("2d");
    ctx.setTransform(dpr, 0, 0, dpr, 0, 0);
    ctx.clearRect(0, 0, cssW, cssH);
    ctx.fillStyle = "#ffffff";
    ctx.fillRect(0, 0, cssW, cssH);

    const ml = 58;
    const mr = 110;
    const mt = 10;
    const mb = 26;
    const gap = 18;
    const labels = []; // every tick and value label drawn: none may overlap another
    const drawn = {}; // the newest value per channel, as printed right of its strip
    const n = TRACE_STRIPS.length;
    const stripH = (cssH - mt - mb - gap * (n - 1)) / n;
    const pw = cssW - ml - mr;
    const tEnd = this.tEnd ?? this.windowS;
    const tStart = tEnd - this.windowS;
    const px = (t) => ml + ((t - tStart) / this.windowS) * pw;

    ctx.font = "13px system-ui, sans-serif";
    TRACE_STRIPS.forEach((strip, idx) => {
      const top = mt + idx * (stripH + gap);
      const values = [];
      for (const [key] of strip.channels) {
        const ch = this.data[key];
        for (let i = 0; i < ch.t.length; i += 1) if (ch.t[i] >= tStart && isNum(ch.v[i])) values.push(ch.v[i]);
      }
      let lo = values.length ? Math.min(...values) : -2;
      let hi = values.length ? Math.max(...values) : 2;
      if (hi - lo < 4) {
        const mid = (hi + lo) / 2;
        lo = mid - 2;
        hi = mid + 2;
      }
      // round ticks covering the data, and the scale a little wider so that the outer tick labels sit inside their
      // own strip (they were on its edges, where the labels of neighbouring strips crowded each other); a label is
      // printed only where it fits, at least a label's height from the next one
      const labelH = 14;
      const allTicks = niceTicks(lo, hi, 3);
      const span = allTicks[allTicks.length - 1] - allTicks[0] || 1;
      const pad = (span * (labelH / 2 + 2)) / Math.max(stripH - labelH - 4, 1);
      const y0 = allTicks[0] - pad;
      const y1 = allTicks[allTicks.length - 1] + pad;
      const py = (v) => top + stripH - ((v - y0) / (y1 - y0 || 1)) * stripH;
      const ticks = [];
      for (const t of allTicks) {
        const y = py(t);
        if (y - labelH / 2 < top - 1 || y + labelH / 2 > top + stripH + 1) continue;
        if (ticks.length && Math.abs(py(ticks[ticks.length - 1]) - y) < labelH + 2) continue;
        ticks.push(t);
      }

      ctx.fillStyle = "#fafafa";
      ctx.fillRect(ml, top, pw, stripH);
      ctx.strokeStyle = GRID;
      ctx.lineWidth = 1;
      ctx.fillStyle = AXIS;
      ctx.textAlign = "right";
      ctx.textBaseline = "middle";
      for (const t of allTicks) {
        ctx.beginPath();
        ctx.moveTo(ml, py(t));
        ctx.lineTo(ml + pw, py(t));
        ctx.stroke();
      }
      for (const t of ticks) {
        const text = `${signed(t, Number.isInteger(t) ? 0 : 1)}°`;
        const w = ctx.measureText(text).width;
        ctx.fillText(text, ml - 6, py(t));
        labels.push({ x: ml - 6 - w, y: py(t) - labelH / 2, w, h: labelH, text });
      }
      ctx.strokeStyle = AXIS;
      ctx.strokeRect(ml, top, pw, stripH);

      ctx.save();
      ctx.beginPath();
      ctx.rect(ml, top, pw, stripH);
      ctx.clip();
      for (const [key, , color, dash] of strip.channels) {
        const ch = this.data[key];
        ctx.strokeStyle = color;
        ctx.lineWidth = 2;
        ctx.setLineDash(dash);
        ctx.beginPath();
        let pen = false;
        for (let i = 0; i < ch.t.length; i += 1) {
          if (ch.t[i] < tStart - 0.1 || !isNum(ch.v[i])) {
            pen = false;
            continue;
          }
          const x = px(ch.t[i]);
          const y = py(ch.v[i]);
          if (pen) ctx.lineTo(x, y);
          else ctx.moveTo(x, y);
          pen = true;
        }
        ctx.stroke();
      }
      ctx.restore();
      ctx.setLineDash([]);

      // title and the newest value(s), right of the strip
      ctx.textAlign = "left";
      ctx.textBaseline = "top";
      ctx.fillStyle = NEUTRAL;
      ctx.font = "600 13px system-ui, sans-serif";
      const titleW = ctx.measureText(strip.title).width;
      ctx.fillStyle = "rgba(255, 255, 255, 0.88)";
      ctx.fillRect(ml + 1, top + 1, titleW + 10, 19);
      ctx.fillStyle = NEUTRAL;
      ctx.fillText(strip.title, ml + 6, top + 4);
      ctx.font = "600 18px system-ui, sans-serif";
      strip.channels.forEach(([key, label, color], k) => {
        const v = this.latest(key);
        drawn[key] = isNum(v) ? Number(v.toFixed(1)) : null;
        ctx.fillStyle = color;
        const prefix = strip.channels.length > 1 ? `${label === "left" ? "L" : "R"} ` : "";
        const text = `${prefix}${isNum(v) ? `${signed(v, 1)}°` : "—"}`;
        ctx.fillText(text, ml + pw + 12, top + 6 + k * 24);
        labels.push({ x: ml + pw + 12, y: top + 6 + k * 24, w: ctx.measureText(text).width, h: 20, text });
      });
      ctx.font = "13px system-ui, sans-serif";
    });

    // time axis
    ctx.fillStyle = AXIS;
    ctx.textAlign = "center";
    ctx.textBaseline = "top";
    const axisY = cssH - mb + 6;
    // seconds between time labels: the smallest of 1, 2, 5, 10 that leaves room for "−10 s" between them
    const room = ctx.measureText(`−${this.windowS} s`).width + 16;
    const step = [1, 2, 5, 10].find((st) => (st / this.windowS) * pw >= room) ?? this.windowS;
    for (let k = this.windowS; k >= 0; k -= step) {
      const x = px(tStart + k);
      const text = k === this.windowS ? "now" : `−${this.windowS - k} s`;
      const w = ctx.measureText(text).width;
      ctx.fillText(text, x, axisY);
      labels.push({ x: x - w / 2, y: axisY, w, h: 14, text });
    }
    if (this.tEnd === null) {
      ctx.fillStyle = "#444444";
      ctx.font = "16px system-ui, sans-serif";
      ctx.fillText("waiting for live angles…", ml + pw / 2, (cssH - mb) / 2 - 8);
    }
    canvas.traceLabels = labels;
    canvas.dataset.tEnd = this.tEnd === null ? "" : this.tEnd.toFixed(3);
    if (this.onDraw) this.onDraw(drawn, this.tEnd);
  }
}
