// FusionGait dashboard: hash routing for the pages of issue 8. Plain ES modules, no build step, no network access
// beyond the same-origin API (/api/v1) and the live WebSocket of docs/live.md.
//
// Routes
//   #/login                  sign-in (paste a token; kept in sessionStorage)
//   #/patients               patients and running live sessions
//   #/patients/{id}          a patient's sessions, analyses and trends across sessions
//   #/live/{session_id}      a live session (WebSocket feed)
//   #/reports/{analysis_id}  an analysis: waits until done, then shows the HTML report
//
// Stable data-testid attributes (for browser tests)
//   sign-out                         header button (visible when signed in)
//   signin-form, token-input,        sign-in page; signin-error holds the reason (401, network, …)
//   signin-submit, signin-error
//   patients-table, patient-row      patients page; each row has data-patient-id, and links to the patient
//   live-list, live-item,            running live sessions (data-session-id); live-unavailable when
//   live-unavailable                 GET /api/v1/live is not there (404) or failed
//   patient-header, sessions-table,  patient page; session-row has data-session-id
//   session-row, analysis-item,      analysis-item has data-analysis-id and data-status
//   analysis-link, trends,           analysis-link goes to the report page; trend-chart has data-metric
//   trend-chart
//   home-monitoring, home-baseline,  patient page, home section (home sessions only): home-flags items have
//   home-flags, home-chart,          data-flag and data-status; home-chart has data-metric; home-analyse and
//   home-days-table, home-analyse,   home-report-download buttons; home-status says what they did
//   home-report-download, home-status
//   live-connection                  live page: feed state, data-state = connecting|open|reconnecting|ended|failed
//   sensor-card                      data-placement, data-state = connected|lost|unknown
//   trace-canvas                     the scrolling traces (canvas)
//   stride-count, stride-list,       strides seen (number), the latest strides (table rows, data-side)
//   stride-row
//   cycle-chart                      gait-cycle curves; data-curve = tilt|obliquity|rotation|hip_flexion
//   spatiotemporal-table
//   flag-list, flag-item             data-flag-id, data-status, data-level
//   stop-button, stop-confirm,       stop: first stop-button, then stop-confirm (or stop-cancel)
//   stop-cancel, report-link         report-link appears once the analysis id is known
//   analysis-status                  report page: data-status = queued|running|done|failed (missing|error when
//                                    the analysis is not found / the status could not be read)
//   report-iframe, report-json-link  the sandboxed report (srcdoc) and the JSON download

import { getToken, signOut } from "./js/api.js";
import { h } from "./js/dom.js";
import * as login from "./js/pages/login.js";
import * as patients from "./js/pages/patients.js";
import * as patient from "./js/pages/patient.js";
import * as live from "./js/pages/live.js";
import * as report from "./js/pages/report.js";

const ROUTES = [
  [/^#\/login$/, login, false],
  [/^#\/patients$/, patients, true],
  [/^#\/patients\/([^/]+)$/, patient, true],
  [/^#\/live\/([^/]+)$/, live, true],
  [/^#\/reports\/([^/]+)$/, report, true],
];

const main = document.getElementById("main");
const announcer = document.getElementById("announcer");
const signOutButton = document.getElementById("sign-out");
const nav = document.getElementById("main-nav");

let current = null; // {controller, cleanup}

/** Say something to screen readers (polite live region). */
export function announce(text) {
  announcer.textContent = "";
  // a fresh text node after a tick, so repeating the same message is still announced
  setTimeout(() => {
    announcer.textContent = text;
  }, 30);
}

function setTitle(text) {
  document.title = text ? `${text} · FusionGait` : "FusionGait";
}

function teardown() {
  if (!current) return;
  current.controller.abort();
  try {
    if (typeof current.cleanup === "function") current.cleanup();
  } catch (err) {
    console.error(err);
  }
  current = null;
}

async function route() {
  const hash = location.hash || "#/patients";
  let match = null;
  let page = null;
  let needsToken = true;
  for (const [pattern, module, auth] of ROUTES) {
    match = hash.match(pattern);
    if (match) {
      page = module;
      needsToken = auth;
      break;
    }
  }
  teardown();
  const signedIn = Boolean(getToken());
  signOutButton.hidden = !signedIn;
  nav.hidden = !signedIn;
  if (!page) {
    location.replace(signedIn ? "#/patients" : "#/login");
    return;
  }
  if (needsToken && !signedIn) {
    signOut("", { returnHere: true }); // not an error: the page opens once signed in
    return;
  }
  const controller = new AbortController();
  current = { controller, cleanup: null };
  main.replaceChildren();
  const params = match.slice(1).map(decodeURIComponent);
  const ctx = { signal: controller.signal, announce, setTitle };
  try {
    const cleanup = await page.render(main, params, ctx);
    if (current && current.controller === controller) current.cleanup = cleanup;
    else if (typeof cleanup === "function") cleanup();
  } catch (err) {
    if (err.name === "AbortError" || err.name === "AuthError") return;
    console.error(err);
    main.append(h("p", { class: "notice notice-error", role: "alert" }, `This page failed: ${err.message}`));
  }
  // move focus to the page for keyboard and screen-reader users (not on first load)
  if (document.activeElement === document.body || document.activeElement === signOutButton) {
    main.focus({ preventScroll: true });
  }
}

signOutButton.addEventListener("click", () => {
  teardown();
  signOut("");
  announce("Signed out.");
});

window.addEventListener("hashchange", route);
if (location.hash) route();
else location.replace(getToken() ? "#/patients" : "#/login"); // fires hashchange
