// The patient page's home-monitoring section: the home arm of flags F1-F6, each home metric's daily values and
// 7-day rolling median against the baseline band (baseline median ± the change threshold), the days with their
// wear and data sufficiency, a button to analyse new uploads, and the downloadable home report
// (GET /patients/{id}/home-trends, /home-report.html; POST /sessions/{id}/home-days/analyse).

import { api } from "../api.js";
import { LEFT, NEUTRAL, lineChart } from "../charts.js";
import { fmt, fmtDate, h, isNum, notice, setChildren } from "../dom.js";

const DAY_MS = 86400000;

function dayX(iso, first) {
  return Math.round((Date.parse(`${iso}T00:00:00Z`) - Date.parse(`${first}T00:00:00Z`)) / DAY_MS);
}

/** The section element; it loads itself. `homeSessions`: the patient's sessions of kind "home". */
export function homeSection(patient, homeSessions, { signal }) {
  const section = h(
    "section",
    { "aria-labelledby": "home-title", "data-testid": "home-monitoring" },
    h("h2", { id: "home-title" }, "Home monitoring"),
    notice("Loading home trends…"),
  );
  const actions = h("div", { class: "actions" });
  const status = h("p", { class: "muted", role: "status", "aria-live": "polite", "data-testid": "home-status" });

  async function analyse() {
    status.textContent = "Looking for days with new uploads…";
    try {
      const queued = await Promise.all(
        homeSessions.map((s) => api(`/sessions/${encodeURIComponent(s.id)}/home-days/analyse`, { method: "POST", signal })),
      );
      const n = queued.reduce((a, q) => a + q.length, 0);
      status.textContent = n ? `${n} day${n === 1 ? "" : "s"} queued for analysis; the trends update when they are done.` : "Every day is up to date.";
      if (n) setTimeout(() => load(), 3000);
    } catch (err) {
      if (err.name === "AbortError" || err.name === "AuthError") return;
      status.textContent = `Could not start the analysis: ${err.message}`;
    }
  }

  async function download() {
    try {
      const html = await api(`/patients/${encodeURIComponent(patient.id)}/home-report.html`, { as: "text", signal });
      const url = URL.createObjectURL(new Blob([html], { type: "text/html" }));
      const a = h("a", { href: url, download: `fusiongait-home-${patient.code}.html` });
      document.body.append(a);
      a.click();
      a.remove();
      setTimeout(() => URL.revokeObjectURL(url), 10000);
    } catch (err) {
      if (err.name === "AbortError" || err.name === "AuthError") return;
      status.textContent = `Could not make the report: ${err.message}`;
    }
  }

  setChildren(
    actions,
    h("button", { type: "button", class: "button", "data-testid": "home-analyse", onclick: analyse }, "Analyse new uploads"),
    " ",
    h("button", { type: "button", class: "button", "data-testid": "home-report-download", onclick: download }, "Download the home report"),
  );

  async function load() {
    let doc;
    try {
      doc = await api(`/patients/${encodeURIComponent(patient.id)}/home-trends`, { signal });
    } catch (err) {
      if (err.name === "AbortError" || err.name === "AuthError") return;
      setChildren(section, section.firstChild, notice(`Could not load the home trends: ${err.message}`, "error"));
      return;
    }
    if (!doc.days.length) {
      setChildren(
        section,
        section.firstChild,
        notice("No analysed home days yet. Days are analysed every few minutes as the relay uploads; or analyse now."),
        actions,
        status,
      );
      return;
    }
    setChildren(section, section.firstChild, baselineText(doc), actions, status, flagsList(doc), charts(doc), daysTable(doc));
  }
  load();
  return section;
}

function baselineText(doc) {
  const b = doc.baseline;
  const bin = b.speed_bin_mps ? ` Kinematics compared at the baseline's usual speed, ${fmt(b.speed_bin_mps[0], "m/s")}–${fmt(b.speed_bin_mps[1], "m/s")}.` : "";
  return h(
    "p",
    { "data-testid": "home-baseline" },
    `Days ${fmtDate(doc.first_date)} to ${fmtDate(doc.last_date)}. Baseline ${fmtDate(b.from)} to ${fmtDate(b.to)} (${b.source}; ${b.valid_days} valid day${b.valid_days === 1 ? "" : "s"}).${bin} `,
    h("span", { class: "muted" }, "Home values are compared with the patient's own baseline only, never with lab norms."),
  );
}

function flagsList(doc) {
  return h(
    "ul",
    { class: "flag-list", "data-testid": "home-flags" },
    doc.flags.map((f) =>
      h(
        "li",
        { class: `flag flag-${f.status.replace(/ /g, "-")} level-${f.confidence.replace(/ /g, "-")}`, "data-flag": f.id, "data-status": f.status },
        h("strong", {}, `${f.id} ${f.name}: ${f.status}${f.status === "flagged" ? ` (${f.confidence} confidence)` : ""}`),
        h("br"),
        f.text,
      ),
    ),
  );
}

function charts(doc) {
  const first = doc.first_date;
  const last = dayX(doc.last_date, first);
  const figs = doc.metrics.map((m) => {
    const daily = m.daily.filter((d) => d.valid);
    if (!daily.length) {
      const why = m.reason || "no day with a value (for kinematics: not enough strides at the baseline's speed)";
      return h(
        "figure",
        { class: "chart-figure", "data-testid": "home-chart", "data-metric": m.metric, "data-empty": "true" },
        h("figcaption", { class: "chart-title" }, `${m.label}${m.unit ? ` (${m.unit})` : ""}`),
        h("p", { class: "muted" }, `No data: ${why}.`),
      );
    }
    const series = [
      { label: "daily value", x: daily.map((d) => dayX(d.date, first)), y: daily.map((d) => d.value), color: NEUTRAL, line: false, marker: "circle" },
      { label: "7-day rolling median", x: m.weekly.map((w) => dayX(w.date, first)), y: m.weekly.map((w) => w.median), color: LEFT, marker: null },
    ];
    const bands =
      isNum(m.baseline_median) && isNum(m.threshold)
        ? [{ low: m.baseline_median - m.threshold, high: m.baseline_median + m.threshold, label: `baseline ${fmt(m.baseline_median, m.unit)} ± threshold ${fmt(m.threshold, m.unit)}` }]
        : [];
    const fired = m.first_persistent_date ? ` Change persistent since ${fmtDate(m.first_persistent_date)}.` : "";
    const why = m.reason ? ` Not judged: ${m.reason}.` : "";
    const fig = lineChart({
      title: `${m.label}${m.unit ? ` (${m.unit})` : ""}`,
      xLabel: `days since ${fmtDate(first)}`,
      yLabel: m.unit || "value",
      series,
      bands,
      xDomain: [0, Math.max(last, 1)],
      desc: `${m.label}: ${daily.length} valid days; latest weekly median ${fmt(m.weekly.length ? m.weekly[m.weekly.length - 1].median : null, m.unit)}.${fired}${why}`,
      caption: m.rule ? `Threshold: larger of the personal MDC95 (${fmt(m.mdc95, m.unit)}) and the published change (${fmt(m.rule.meaningful_change, m.unit)}${m.rule.interim ? ", interim" : ""}).${fired}${why}` : `Followed without a change rule.${why}`,
      width: 420,
      height: 250,
      testid: "home-chart",
    });
    fig.setAttribute("data-metric", m.metric);
    return fig;
  });
  return h("div", { class: "chart-grid" }, figs);
}

function daysTable(doc) {
  const byMetric = Object.fromEntries(doc.metrics.map((m) => [m.metric, m]));
  const val = (metric, i, digits) => fmt(byMetric[metric] ? byMetric[metric].daily[i].value : null, "", digits);
  return h(
    "details",
    { class: "trend-table" },
    h("summary", {}, "Show the days as a table"),
    h(
      "table",
      { class: "data", "data-testid": "home-days-table" },
      h("caption", {}, "Days: a day with too little wear or walking is listed but not counted"),
      h(
        "thead",
        {},
        h("tr", {}, ["Date", "Counted", "Baseline", "Steps", "Walking (min)", "Speed, median (m/s)"].map((t) => h("th", { scope: "col" }, t))),
      ),
      h(
        "tbody",
        {},
        doc.days.map((d, i) =>
          h(
            "tr",
            { "data-date": d.date },
            h("th", { scope: "row" }, fmtDate(d.date)),
            h("td", {}, d.sufficient ? "yes" : "no"),
            h("td", {}, d.baseline ? "yes" : ""),
            h("td", { class: "num" }, val("steps", i, 0)),
            h("td", { class: "num" }, val("walking_min", i, 1)),
            h("td", { class: "num" }, val("walking_speed_median_mps", i, 2)),
          ),
        ),
      ),
    ),
  );
}
