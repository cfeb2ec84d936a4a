// Patients of the token's clinic, and the live sessions running now (GET /api/v1/live, refreshed every 10 s).

import { api } from "../api.js";
import { fmt, fmtDate, fmtDateTime, h, setChildren, notice } from "../dom.js";

const LIVE_REFRESH_MS = 10000;

export async function render(main, _params, ctx) {
  ctx.setTitle("Patients");
  const liveSection = h(
    "section",
    { "aria-labelledby": "live-title", class: "card" },
    h("h2", { id: "live-title" }, "Live sessions now"),
    h("div", { "aria-live": "polite" }, notice("Looking for running live sessions…")),
  );
  const patientsSection = h(
    "section",
    { "aria-labelledby": "patients-title" },
    h("h2", { id: "patients-title" }, "Patients"),
    notice("Loading patients…"),
  );
  main.append(h("h1", {}, "Patients"), liveSection, patientsSection);

  let timer = null;
  const refreshLive = async () => {
    await renderLive(liveSection.lastChild, ctx);
    if (!ctx.signal.aborted) timer = setTimeout(refreshLive, LIVE_REFRESH_MS);
  };
  refreshLive();

  try {
    const rows = await api("/patients", { signal: ctx.signal });
    setChildren(patientsSection, patientsSection.firstChild, patientTable(rows));
  } catch (err) {
    if (err.name === "AbortError" || err.name === "AuthError") return () => clearTimeout(timer);
    setChildren(patientsSection, patientsSection.firstChild, notice(`Could not load patients: ${err.message}`, "error"));
  }
  return () => clearTimeout(timer);
}

function patientTable(rows) {
  if (!rows.length) {
    return notice("No patients yet. Add one through the API (POST /api/v1/patients, see /docs).");
  }
  const body = rows.map((p) =>
    h(
      "tr",
      { "data-testid": "patient-row", "data-patient-id": p.id },
      h("th", { scope: "row" }, h("a", { href: `#/patients/${encodeURIComponent(p.id)}`, class: "big-link" }, p.code)),
      h("td", { class: "num" }, p.height_m == null ? "—" : fmt(p.height_m, "m")),
      h("td", {}, fmtDate(p.surgery_date)),
      h("td", { class: "notes" }, p.notes || ""),
    ),
  );
  return h(
    "table",
    { class: "data", "data-testid": "patients-table" },
    h("caption", {}, `${rows.length} patient${rows.length === 1 ? "" : "s"}; choose one to see sessions and trends`),
    h(
      "thead",
      {},
      h(
        "tr",
        {},
        h("th", { scope: "col" }, "Code"),
        h("th", { scope: "col" }, "Height"),
        h("th", { scope: "col" }, "Surgery date"),
        h("th", { scope: "col" }, "Notes"),
      ),
    ),
    h("tbody", {}, body),
  );
}

async function renderLive(container, ctx) {
  let sessions;
  try {
    // the hub may keep stopped sessions for a while (so returning viewers learn where the report is): not shown here
    sessions = (await api("/live", { signal: ctx.signal })).filter((s) => s.state !== "stopped");
  } catch (err) {
    if (err.name === "AbortError" || err.name === "AuthError") return;
    const text =
      err.status === 404 || err.status === 405
        ? "Live sessions are not available on this server yet."
        : `Could not check for live sessions: ${err.message}`;
    setChildren(container, notice(text, err.status === 404 ? "info" : "error", { "data-testid": "live-unavailable" }));
    return;
  }
  if (!Array.isArray(sessions) || !sessions.length) {
    setChildren(container, 
      h("ul", { class: "live-list", "data-testid": "live-list" }),
      notice("No live session is running."),
    );
    return;
  }
  setChildren(container, 
    h(
      "ul",
      { class: "live-list", "data-testid": "live-list" },
      sessions.map((s) =>
        h(
          "li",
          { "data-testid": "live-item", "data-session-id": s.session_id },
          h(
            "a",
            { href: `#/live/${encodeURIComponent(s.session_id)}`, class: "big-link" },
            `Patient ${s.patient_code || s.patient_id}`,
          ),
          " ",
          h("span", { class: `state-pill state-${s.state}` }, s.state || "running"),
          " ",
          h("span", { class: "muted" }, `since ${fmtDateTime(s.started_at)}`),
        ),
      ),
    ),
  );
}
