// One patient: details, sessions with their analyses (status, link to the report), and the trend of each key metric
// across sessions (the newest finished report of each session), with the report's reference band and 95 % CI.

import { api } from "../api.js";
import { NEUTRAL, SIDE_STYLE, lineChart } from "../charts.js";
import { homeSection } from "./home_trends.js";
import { bandText, fmt, fmtDate, fmtDateTime, h, setChildren, isNum, lookup, notice, unitLabel } from "../dom.js";
import { relayEnrolButton } from "../relay_enrol.js";

const ST = ["spatiotemporal", "detail"];
const PELVIS = ["kinematics", "pelvis"];
const HIP = ["kinematics", "hip"];

/** The key metrics charted across sessions: each series is a path to a metric object in the report. */
export const TREND_METRICS = [
  { id: "walking_speed_mps", title: "Walking speed", unit: "m/s", series: [["all", [...ST, "walking_speed_mps"], ["spatiotemporal", "walking_speed_mps"]]] },
  { id: "cadence_spm", title: "Cadence", unit: "steps/min", series: [["all", [...ST, "cadence_spm"], ["spatiotemporal", "cadence_spm"]]] },
  { id: "stride_time_cv_pct", title: "Stride-time variability (CV)", unit: "%", series: [["all", [...ST, "stride_time_cv_pct"], ["spatiotemporal", "stride_time_cv_pct"]]] },
  { id: "step_time_asymmetry", title: "Step-time symmetry ratio (larger / smaller side)", unit: "ratio", series: [["all", [...ST, "step_time_asymmetry"], ["spatiotemporal", "step_time_asymmetry"]]] },
  { id: "pelvis.tilt_rom_deg", title: "Pelvic tilt ROM", unit: "deg", series: [["all", [...PELVIS, "tilt_rom_deg"]]] },
  { id: "pelvis.obliquity_rom_deg", title: "Pelvic obliquity ROM", unit: "deg", series: [["all", [...PELVIS, "obliquity_rom_deg"]]] },
  { id: "pelvis.rotation_rom_deg", title: "Pelvic rotation ROM", unit: "deg", series: [["all", [...PELVIS, "rotation_rom_deg"]]] },
  { id: "pelvis.mean_tilt_deg", title: "Mean anterior pelvic tilt (vs standing)", unit: "deg", series: [["all", [...PELVIS, "mean_tilt_deg"]]] },
  {
    id: "hip.peak_extension_deg",
    title: "Peak hip extension (late stance)",
    unit: "deg",
    series: [
      ["left", [...HIP, "left", "peak_extension_deg"]],
      ["right", [...HIP, "right", "peak_extension_deg"]],
    ],
  },
  {
    id: "hip.sagittal_rom_deg",
    title: "Hip sagittal ROM",
    unit: "deg",
    series: [
      ["left", [...HIP, "left", "sagittal_rom_deg"]],
      ["right", [...HIP, "right", "sagittal_rom_deg"]],
    ],
  },
];

/** {value, unit, ci95, reference} from a metric object or a bare number. */
function metricAt(report, path, fallback, unit) {
  let entry = lookup(report, ...path);
  if (entry === undefined && fallback) entry = lookup(report, ...fallback);
  if (entry && typeof entry === "object") {
    return { value: entry.value, unit: entry.unit || unit, ci95: entry.ci95, reference: entry.reference };
  }
  return { value: entry, unit, ci95: null, reference: null };
}

export async function render(main, [patientId], ctx) {
  const { signal } = ctx;
  main.append(h("p", { class: "crumbs" }, h("a", { href: "#/patients" }, "← Patients")));
  const header = h("section", { "data-testid": "patient-header", "aria-labelledby": "patient-title" }, h("h1", { id: "patient-title" }, "Patient"));
  const sessionsSection = h("section", { "aria-labelledby": "sessions-title" }, h("h2", { id: "sessions-title" }, "Sessions"), notice("Loading sessions…"));
  const trendsSection = h(
    "section",
    { "aria-labelledby": "trends-title", "data-testid": "trends" },
    h("h2", { id: "trends-title" }, "Trends across sessions"),
    notice("Loading reports…"),
  );
  main.append(header, sessionsSection, trendsSection);

  let patient;
  let sessions;
  try {
    [patient, sessions] = await Promise.all([
      api(`/patients/${encodeURIComponent(patientId)}`, { signal }),
      api(`/patients/${encodeURIComponent(patientId)}/sessions`, { signal }),
    ]);
  } catch (err) {
    if (err.name === "AbortError" || err.name === "AuthError") return;
    const text = err.status === 404 ? "No such patient, or not one this token may see." : `Could not load the patient: ${err.message}`;
    setChildren(sessionsSection, notice(text, "error"));
    trendsSection.remove();
    return;
  }
  ctx.setTitle(`Patient ${patient.code}`);
  setChildren(header, 
    h("h1", { id: "patient-title" }, `Patient ${patient.code}`),
    h(
      "dl",
      { class: "facts" },
      fact("Height", patient.height_m == null ? "—" : fmt(patient.height_m, "m")),
      fact("Sacral sensor height", patient.sensor_height_m == null ? "—" : fmt(patient.sensor_height_m, "m")),
      fact("Surgery date", fmtDate(patient.surgery_date)),
      fact("Sessions", String(sessions.length)),
    ),
    patient.notes ? h("p", { class: "notes" }, patient.notes) : null,
  );

  const liveIds = new Set();
  const livePromise = api("/live", { signal })
    .then((rows) => (Array.isArray(rows) ? rows : []).filter((r) => r.state !== "stopped").forEach((r) => liveIds.add(r.session_id)))
    .catch(() => {}); // the live hub may not exist on this server: no live links then
  let analyses;
  try {
    analyses = await Promise.all(
      sessions.map((s) => api(`/sessions/${encodeURIComponent(s.id)}/analyses`, { signal })),
    );
  } catch (err) {
    if (err.name === "AbortError" || err.name === "AuthError") return;
    setChildren(sessionsSection, sessionsSection.firstChild, notice(`Could not load analyses: ${err.message}`, "error"));
    return;
  }
  await livePromise;
  setChildren(sessionsSection, sessionsSection.firstChild, sessionsTable(sessions, analyses, liveIds));
  const homeSessions = sessions.filter((s) => s.kind === "home");
  if (homeSessions.length) sessionsSection.after(homeSection(patient, homeSessions, { signal }));

  // newest done analysis of each session, oldest session first (the API orders sessions by date)
  const picks = sessions
    .map((session, i) => ({ session, analysis: [...analyses[i]].reverse().find((a) => a.status === "done") }))
    .filter((p) => p.analysis);
  if (!picks.length) {
    setChildren(trendsSection, trendsSection.firstChild, notice("No finished analysis yet: trends appear once a session has a report."));
    return;
  }
  let reports;
  try {
    reports = await Promise.all(picks.map((p) => api(`/analyses/${encodeURIComponent(p.analysis.id)}/report`, { signal })));
  } catch (err) {
    if (err.name === "AbortError" || err.name === "AuthError") return;
    setChildren(trendsSection, trendsSection.firstChild, notice(`Could not load the reports: ${err.message}`, "error"));
    return;
  }
  picks.forEach((p, i) => {
    p.report = reports[i];
  });
  setChildren(trendsSection, trendsSection.firstChild, ...trends(picks, sessions.length));
}

function fact(label, value) {
  return h("div", {}, h("dt", {}, label), h("dd", {}, value));
}

const STATUS_TEXT = { queued: "queued", running: "running…", done: "done", failed: "failed" };

function sessionsTable(sessions, analyses, liveIds) {
  if (!sessions.length) return notice("No sessions yet.");
  const rows = sessions.map((s, i) =>
    h(
      "tr",
      { "data-testid": "session-row", "data-session-id": s.id },
      h("th", { scope: "row" }, fmtDate(s.date)),
      h("td", {}, s.kind, s.kind === "home" ? relayEnrolButton(s) : null),
      h("td", {}, s.label || "—"),
      h(
        "td",
        {},
        liveIds.has(s.id)
          ? h("a", { href: `#/live/${encodeURIComponent(s.id)}`, class: "live-now" }, "● Live now: open the live view")
          : null,
        analysesList(analyses[i]),
      ),
    ),
  );
  return h(
    "table",
    { class: "data", "data-testid": "sessions-table" },
    h("caption", {}, "Sessions, oldest first, with their analyses"),
    h(
      "thead",
      {},
      h("tr", {}, h("th", { scope: "col" }, "Date"), h("th", { scope: "col" }, "Kind"), h("th", { scope: "col" }, "Label"), h("th", { scope: "col" }, "Analyses")),
    ),
    h("tbody", {}, rows),
  );
}

function analysesList(list) {
  if (!list.length) return h("span", { class: "muted" }, "No analyses yet");
  return h(
    "ul",
    { class: "analyses" },
    [...list].reverse().map((a) =>
      h(
        "li",
        { "data-testid": "analysis-item", "data-analysis-id": a.id, "data-status": a.status },
        h("span", { class: `state-pill state-${a.status}` }, STATUS_TEXT[a.status] || a.status),
        " ",
        h(
          "a",
          { href: `#/reports/${encodeURIComponent(a.id)}`, "data-testid": "analysis-link" },
          a.status === "done" ? "Open report" : a.status === "failed" ? "Details" : "Follow progress",
        ),
        " ",
        h("span", { class: "muted" }, `requested ${fmtDateTime(a.created_at)}`),
        a.status === "failed" && a.error ? h("div", { class: "error-text" }, a.error) : null,
        a.warnings && a.warnings.length ? h("div", { class: "muted" }, `${a.warnings.length} warning${a.warnings.length === 1 ? "" : "s"}`) : null,
      ),
    ),
  );
}

function trends(picks, nSessions) {
  const n = picks.length;
  const xTicks = picks.map((p, i) => ({ x: i, label: fmtDate(p.session.date).slice(2) }));
  const charts = TREND_METRICS.map((m) => {
    const newest = picks[n - 1].report;
    const series = m.series.map(([side, path, fallback]) => {
      const points = picks.map((p) => metricAt(p.report, path, fallback, m.unit));
      const style = side === "all" ? { color: NEUTRAL, dash: "", marker: "diamond" } : SIDE_STYLE[side];
      return {
        label: side === "all" ? `value (± 95 % CI)` : `${side} (± 95 % CI)`,
        x: picks.map((_, i) => i),
        y: points.map((p) => p.value),
        err: points.map((p) => p.ci95),
        points,
        ...style,
      };
    });
    const ref = m.series.map(([, path, fallback]) => metricAt(newest, path, fallback, m.unit).reference).find((r) => r);
    const u = unitLabel(m.unit);
    const bands = ref ? [{ low: ref.low, high: ref.high, label: `reference ${bandText(ref, m.unit)}${ref.source ? ` (${ref.source})` : ""}` }] : [];
    const values = series
      .map((sr) => `${sr.label.replace(" (± 95 % CI)", "")}: ${sr.points.map((p, i) => `${fmtDate(picks[i].session.date)} ${fmt(p.value, m.unit)}`).join(", ")}`)
      .join("; ");
    const fig = lineChart({
      title: `${m.title} (${u})`,
      xLabel: "session date (yy-mm-dd)",
      yLabel: u === "°" ? "degrees (°)" : u,
      series,
      bands,
      xDomain: [-0.5, n - 0.5],
      xTicks,
      desc: `${m.title} per session. ${values}.${ref ? ` Reference band ${bandText(ref, m.unit)}.` : " No reference band."}`,
      width: 420,
      height: 250,
    });
    fig.setAttribute("data-testid", "trend-chart");
    fig.setAttribute("data-metric", m.id);
    return fig;
  });
  const missing = nSessions - n;
  return [
    h(
      "p",
      { class: "muted" },
      `Each point is the newest finished report of a session (${n} of ${nSessions} session${nSessions === 1 ? "" : "s"}` +
        `${missing ? `; ${missing} without a finished analysis` : ""}). Bars: 95 % confidence interval where the report gives one. ` +
        "Grey band: healthy reference range from the newest report.",
    ),
    h("div", { class: "chart-grid" }, charts),
    trendTable(picks),
  ];
}

function trendTable(picks) {
  const rows = [];
  for (const m of TREND_METRICS) {
    for (const [side, path, fallback] of m.series) {
      const label = side === "all" ? m.title : `${m.title}, ${side}`;
      rows.push(
        h(
          "tr",
          {},
          h("th", { scope: "row" }, label),
          picks.map((p) => {
            const v = metricAt(p.report, path, fallback, m.unit);
            return h("td", { class: "num" }, fmt(v.value, m.unit), isNum(v.ci95) ? h("span", { class: "muted" }, ` ± ${fmt(v.ci95, m.unit)}`) : null);
          }),
        ),
      );
    }
  }
  return h(
    "details",
    { class: "trend-table" },
    h("summary", {}, "Show the trend values as a table"),
    h(
      "table",
      { class: "data" },
      h("caption", {}, "Key metrics per session (value ± 95 % CI)"),
      h("thead", {}, h("tr", {}, h("th", { scope: "col" }, "Metric"), picks.map((p) => h("th", { scope: "col" }, fmtDate(p.session.date), p.session.label ? h("br") : null, p.session.label || "")))),
      h("tbody", {}, rows),
    ),
  );
}
