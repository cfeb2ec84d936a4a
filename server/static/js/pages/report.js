// An analysis: polls GET /api/v1/analyses/{id} until it is done or failed, then shows the stored HTML report
// (fetched with the token) in a sandboxed iframe, with a download link for the JSON report.
//
// The iframe gets sandbox="allow-same-origin" and nothing else: no script can run in it (the report has none), no
// form can be sent, no popup opened; same-origin only lets this page measure the report to size the frame.

import { api } from "../api.js";
import { fmtDateTime, h, setChildren, notice } from "../dom.js";

const STATUS_TEXT = {
  queued: "Queued: waiting for an analysis worker…",
  running: "Running: analysing the recording…",
  done: "Done.",
  failed: "Failed.",
};

export async function render(main, [analysisId], ctx) {
  const { signal } = ctx;
  ctx.setTitle("Report");
  const crumbs = h("p", { class: "crumbs" }, h("a", { href: "#/patients" }, "← Patients"));
  const status = h("p", { class: "status-line", role: "status", "aria-live": "polite", "data-testid": "analysis-status" }, "Loading the analysis…");
  const actions = h("p", { class: "report-actions" });
  const body = h("div", { class: "report-body" });
  main.append(crumbs, h("h1", {}, "Analysis report"), status, actions, body);

  let delay = 1000;
  let timer = null;
  let jsonUrl = null;
  let lastStatus = null;
  let crumbsDone = false;
  const cleanup = () => {
    clearTimeout(timer);
    if (jsonUrl) URL.revokeObjectURL(jsonUrl);
  };

  const poll = async () => {
    let analysis;
    try {
      analysis = await api(`/analyses/${encodeURIComponent(analysisId)}`, { signal });
    } catch (err) {
      if (err.name === "AbortError" || err.name === "AuthError") return;
      if (err.status === 404) {
        setStatus("missing", "No such analysis, or not one this token may see.");
        return;
      }
      setStatus("error", `Could not get the analysis status (${err.message}); retrying…`);
      timer = setTimeout(poll, Math.min((delay *= 1.5), 5000));
      return;
    }
    if (!crumbsDone) {
      crumbsDone = true;
      addPatientCrumb(analysis.session_id);
    }
    if (analysis.status !== lastStatus) {
      lastStatus = analysis.status;
      const when = analysis.finished_at ? ` Finished ${fmtDateTime(analysis.finished_at)}.` : "";
      setStatus(analysis.status, `${STATUS_TEXT[analysis.status] || analysis.status}${when}`);
      ctx.announce(`Analysis ${analysis.status}.`);
    }
    if (analysis.status === "failed") {
      setChildren(body, notice(`The analysis failed: ${analysis.error || "no reason given"}`, "error"));
      return;
    }
    if (analysis.status !== "done") {
      timer = setTimeout(poll, (delay = Math.min(delay * 1.3, 3000)));
      return;
    }
    await showReport(analysis);
  };

  function setStatus(state, text) {
    status.dataset.status = state;
    setChildren(status, h("span", { class: `state-pill state-${state}` }, state), " ", text);
  }

  async function addPatientCrumb(sessionId) {
    try {
      const session = await api(`/sessions/${encodeURIComponent(sessionId)}`, { signal });
      crumbs.append(" · ", h("a", { href: `#/patients/${encodeURIComponent(session.patient_id)}` }, "← This patient"));
    } catch {
      // the breadcrumb is a convenience only
    }
  }

  async function showReport(analysis) {
    setChildren(body, notice("Loading the report…"));
    let html;
    let json;
    try {
      [html, json] = await Promise.all([
        api(`/analyses/${encodeURIComponent(analysisId)}/report.html`, { as: "text", signal }),
        api(`/analyses/${encodeURIComponent(analysisId)}/report`, { signal }),
      ]);
    } catch (err) {
      if (err.name === "AbortError" || err.name === "AuthError") return;
      setChildren(body, notice(`Could not load the report: ${err.message}`, "error"));
      return;
    }
    jsonUrl = URL.createObjectURL(new Blob([JSON.stringify(json, null, 2)], { type: "application/json" }));
    setChildren(actions, 
      h("a", { href: jsonUrl, download: `fusiongait-report-${analysisId}.json`, class: "button", "data-testid": "report-json-link" }, "Download the JSON report"),
      analysis.warnings && analysis.warnings.length ? h("span", { class: "muted" }, ` ${analysis.warnings.length} warning(s): see the report.`) : null,
    );
    const frame = h("iframe", {
      title: "Analysis report",
      sandbox: "allow-same-origin",
      referrerpolicy: "no-referrer",
      class: "report-frame",
      "data-testid": "report-iframe",
    });
    frame.srcdoc = html;
    const fit = () => {
      try {
        const doc = frame.contentDocument;
        if (doc && doc.documentElement) frame.style.height = `${doc.documentElement.scrollHeight + 24}px`;
      } catch {
        // leave the CSS height
      }
    };
    frame.addEventListener("load", () => {
      fit();
      setTimeout(fit, 300);
    });
    window.addEventListener("resize", fit, { signal });
    setChildren(body, frame);
  }

  poll();
  return cleanup;
}
