// A live clinic session (docs/live.md): sensor status, scrolling angle traces, gait-cycle curves building up,
// spatiotemporal table, strides and flags, all from the WebSocket feed; "Stop session" ends it and leads to the
// report of the offline analysis it queues.

import { api, signOut, getToken } from "../api.js";
import { LEFT, RIGHT, SIDE_STYLE, TRACE_STRIPS, TraceView, lineChart } from "../charts.js";
import { bandText, fmt, fmtClock, fmtDateTime, h, setChildren, isNum, lookup, notice, position, positionBadge } from "../dom.js";
import { LiveSocket, liveSocketUrl } from "../live_socket.js";

const SILENT_LOST_S = 2;
const PLACEMENTS = [
  ["pelvis", "Pelvis (sacrum)"],
  ["left_thigh", "Left thigh"],
  ["right_thigh", "Right thigh"],
];
const STRIDES_SHOWN = 12;

export async function render(main, [sessionId], ctx) {
  const { signal } = ctx;
  ctx.setTitle("Live session");
  const view = new LiveView(main, sessionId, ctx);
  view.build();

  // the session's live state over REST (may not exist on this server yet: the feed is tried all the same)
  api(`/sessions/${encodeURIComponent(sessionId)}/live`, { signal })
    .then((live) => view.applyLiveOut(live))
    .catch((err) => {
      if (err.name === "AbortError" || err.name === "AuthError") return;
      view.showRestProblem(err);
    });

  const socket = new LiveSocket(liveSocketUrl(sessionId), {
    token: getToken,
    onMessage: (msg) => view.onMessage(msg),
    onState: (state, info) => view.onSocketState(state, info),
  });
  view.socket = socket;
  socket.start();
  const ticker = setInterval(() => view.tick(), 1000);
  return () => {
    clearInterval(ticker);
    socket.close();
    view.destroy();
  };
}

class LiveView {
  constructor(main, sessionId, ctx) {
    this.main = main;
    this.sessionId = sessionId;
    this.ctx = ctx;
    this.socket = null;
    this.socketState = "connecting";
    this.status = null; // latest status message
    this.statusAt = 0; // Date.now() when it arrived
    this.strides = new Map(); // stride id → stride (a snapshot after a reset resends them all)
    this.summary = null;
    this.flagsSeen = new Map(); // id → "status|level", to announce changes
    this.analysisId = null;
    this.stopRequested = false;
    this.patientId = null;
  }

  // ------------------------------------------------------------------------------------------------ layout
  build() {
    const sid = this.sessionId;
    this.crumbs = h("p", { class: "crumbs" }, h("a", { href: "#/patients" }, "← Patients"));
    this.title = h("h1", {}, "Live session");
    this.meta = h("p", { class: "muted" }, `Session ${sid}`);
    this.connection = h(
      "p",
      { class: "connection", role: "status", "aria-live": "polite", "data-testid": "live-connection", "data-state": "connecting" },
      "Connecting to the live feed…",
    );
    this.restNote = h("div");
    this.ended = h("div", { class: "ended-banner", role: "status", "aria-live": "polite", hidden: true });
    this.errors = h("div", { "aria-live": "polite" });

    // key numbers, large
    this.strideCount = h("span", { class: "kpi-value", "data-testid": "stride-count" }, "0");
    this.strideSides = h("span", { class: "kpi-sub" }, "left 0 · right 0");
    this.kpiCadence = h("span", { class: "kpi-value" }, "—");
    this.kpiSpeed = h("span", { class: "kpi-value" }, "—");
    this.kpiTime = h("span", { class: "kpi-value" }, "—");
    const kpis = h(
      "section",
      { class: "kpis", "aria-label": "Key numbers" },
      kpi("Strides detected", this.strideCount, this.strideSides),
      kpi("Cadence (steps/min)", this.kpiCadence),
      kpi("Walking speed (m/s)", this.kpiSpeed),
      kpi("Session time (min:s)", this.kpiTime),
    );

    // stop
    this.stopButton = h("button", { type: "button", class: "danger", "data-testid": "stop-button" }, "Stop session");
    this.stopConfirm = h("button", { type: "button", class: "danger", "data-testid": "stop-confirm" }, "Yes, stop and analyse");
    this.stopCancel = h("button", { type: "button", "data-testid": "stop-cancel" }, "Cancel");
    this.stopAsk = h(
      "span",
      { class: "stop-ask", hidden: true },
      h("span", { id: "stop-question" }, "Stop recording now? The capture is stored and the full analysis queued. "),
      this.stopConfirm,
      " ",
      this.stopCancel,
    );
    this.stopNote = h("span", { class: "muted", role: "status", "aria-live": "polite" });
    this.stopButton.addEventListener("click", () => {
      this.stopButton.hidden = true;
      this.stopAsk.hidden = false;
      this.stopConfirm.focus();
    });
    this.stopCancel.addEventListener("click", () => {
      this.stopAsk.hidden = true;
      this.stopButton.hidden = false;
      this.stopButton.focus();
    });
    this.stopConfirm.addEventListener("click", () => this.stop());
    const stopBar = h("div", { class: "stop-bar" }, this.stopButton, this.stopAsk, " ", this.stopNote);

    // sensors
    this.sensorGrid = h("div", { class: "sensor-grid" });
    this.cards = new Map();
    for (const [placement, label] of PLACEMENTS) this.ensureCard(placement, label);
    const sensors = h("section", { "aria-labelledby": "sensors-title" }, h("h2", { id: "sensors-title" }, "Sensors"), this.sensorGrid);

    // traces
    this.canvas = h("canvas", {
      class: "trace-canvas",
      "data-testid": "trace-canvas",
      role: "img",
      "aria-label": "Scrolling traces of the last 10 seconds: pelvic tilt, obliquity, rotation and left and right hip flexion, in degrees",
    });
    this.traceReadout = h("p", { class: "muted trace-readout", "data-testid": "trace-readout" });
    const traces = h(
      "section",
      { "aria-labelledby": "traces-title", class: "card" },
      h("h2", { id: "traces-title" }, "Live angles, last 10 s"),
      h(
        "p",
        { class: "legend-line" },
        "Degrees. Hip: ",
        h("span", { style: { color: LEFT, fontWeight: "600" } }, "left solid"),
        ", ",
        h("span", { style: { color: RIGHT, fontWeight: "600" } }, "right dashed"),
        ". Tilt is relative to the session's standing posture.",
      ),
      this.canvas,
      this.traceReadout,
    );
    // the readout is written in the frame that draws the canvas, from the same values (it was throttled to once a
    // second, so it lagged the numbers on the canvas)
    this.traces = new TraceView(this.canvas, { windowS: 10, onDraw: (values, tEnd) => this.renderReadout(values, tEnd) });

    // flags
    this.flagList = h("ol", { class: "flag-list", "data-testid": "flag-list" });
    this.flagNote = notice("Flags appear once enough strides are analysed.");
    const flags = h(
      "section",
      { "aria-labelledby": "flags-title", class: "card" },
      h("h2", { id: "flags-title" }, "Flags (decision support, not a diagnosis)"),
      this.flagNote,
      this.flagList,
    );

    // curves, spatiotemporal, strides
    this.curves = h("div", { class: "chart-grid cycle-grid" }, notice("Gait-cycle curves build up as strides are analysed."));
    const curves = h(
      "section",
      { "aria-labelledby": "curves-title" },
      h("h2", { id: "curves-title" }, "Gait-cycle curves (mean ± SD per side)"),
      this.curves,
    );
    this.stTable = h("div", {}, notice("Waiting for the first summary…"));
    const st = h(
      "section",
      { "aria-labelledby": "st-title", class: "card" },
      h("h2", { id: "st-title" }, "Spatiotemporal parameters"),
      this.stTable,
    );
    this.strideBody = h("tbody", {});
    this.strideNote = h("p", { class: "muted" }, "No stride yet.");
    const strides = h(
      "section",
      { "aria-labelledby": "strides-title", class: "card" },
      h("h2", { id: "strides-title" }, `Latest strides`),
      this.strideNote,
      h(
        "div",
        { class: "table-scroll" },
        h(
        "table",
        { class: "data compact", "data-testid": "stride-list" },
        h("caption", { class: "visually-hidden" }, `The ${STRIDES_SHOWN} latest strides, newest first`),
        h(
          "thead",
          {},
          h(
            "tr",
            {},
            ["#", "Side", "Start (min:s)", "Stride time (s)", "Length (m)", "Speed (m/s)", "Stance (%)", "Pelvis tilt / obliquity / rotation ROM (°)", "Hip sagittal ROM (°)", "Peak hip extension (°)"].map(
              (t) => h("th", { scope: "col" }, t),
            ),
          ),
        ),
        this.strideBody,
      ),
      ),
    );
    this.warnings = h("div");

    this.main.append(
      this.crumbs,
      h("div", { class: "live-head" }, h("div", {}, this.title, this.meta), stopBar),
      this.connection,
      this.restNote,
      this.ended,
      this.errors,
      kpis,
      sensors,
      h("div", { class: "live-grid" }, traces, flags),
      curves,
      st,
      strides,
      this.warnings,
    );
  }

  destroy() {
    this.traces.destroy();
  }

  ensureCard(placement, label) {
    if (this.cards.has(placement)) return this.cards.get(placement);
    const stateText = h("p", { class: "sensor-state" }, "? Waiting for status");
    const dl = h("dl", { class: "sensor-facts" });
    const card = h(
      "article",
      { class: "sensor-card", "data-testid": "sensor-card", "data-placement": placement, "data-state": "unknown", "aria-label": label },
      h("h3", {}, label || placement),
      stateText,
      dl,
    );
    const entry = { card, stateText, dl, label: label || placement, lastKnown: null };
    this.cards.set(placement, entry);
    this.sensorGrid.append(card);
    return entry;
  }

  // ------------------------------------------------------------------------------------------------ REST state
  applyLiveOut(live) {
    if (!live) return;
    this.patientId = live.patient_id;
    if (live.patient_id) {
      this.crumbs.append(" · ", h("a", { href: `#/patients/${encodeURIComponent(live.patient_id)}` }, "← This patient"));
    }
    this.liveOut = live;
    this.renderMeta(live.state);
    if (live.analysis_id) this.showEnded(live.analysis_id, live.state === "stopped" ? "This live session has ended." : "Stopping…");
  }

  renderMeta(state) {
    const live = this.liveOut || {};
    const parts = [`Session ${this.sessionId}`];
    if (live.started_at) parts.push(`started ${fmtDateTime(live.started_at)}`);
    if (state) parts.push(state);
    this.meta.textContent = parts.join(" · ");
  }

  showRestProblem(err) {
    const text =
      err.status === 404 || err.status === 405
        ? "The live session API did not answer for this session (not live, or not available on this server yet); trying the live feed anyway."
        : `Could not read the live session state: ${err.message}`;
    setChildren(this.restNote, notice(text, "info"));
  }

  // ------------------------------------------------------------------------------------------------ socket
  onSocketState(state, info) {
    this.socketState = state;
    const el = this.connection;
    el.dataset.state = state;
    let text;
    if (state === "connecting") text = "Connecting to the live feed…";
    else if (state === "open") {
      text = !this.wasOpen ? "Live: connected." : info.reset ? "Live: reconnected (resynchronised from a fresh snapshot)." : "Live: reconnected, nothing missed.";
      this.wasOpen = true;
    }
    else if (state === "reconnecting") {
      text = info.connecting
        ? `Connection lost: reconnecting (attempt ${info.attempt})…`
        : `Connection lost (${info.reason}); reconnecting in ${Math.max(1, Math.round(info.delayMs / 1000))} s…`;
    } else if (state === "ended") {
      text = "The live session has ended.";
      this.renderMeta("stopped");
    }
    else if (state === "failed") {
      if (info.code === 4401) {
        signOut("Signed out: the live feed refused the token (code 4401). Paste a valid token to continue.");
        return;
      }
      text =
        info.code === 4404
          ? `This session is not live, or not one this token may see (${info.reason || "code 4404"}).`
          : `The live feed refused this viewer (code ${info.code}${info.reason ? `: ${info.reason}` : ""}).`;
      this.stopButton.disabled = true;
      setChildren(this.restNote);
    } else if (state === "closed") return;
    setChildren(el, h("span", { class: `conn-dot conn-${state}`, "aria-hidden": "true" }), " ", text);
    this.renderSensors();
  }

  onMessage(msg) {
    switch (msg.type) {
      case "hello":
        if (msg.patient_code) {
          this.title.textContent = `Live session: patient ${msg.patient_code}`;
          this.ctx.setTitle(`Live: ${msg.patient_code}`);
        }
        if (msg.reset) this.resetData();
        break;
      case "status":
        this.status = msg;
        this.statusAt = Date.now();
        this.kpiTime.textContent = fmtClock(msg.t_s);
        this.renderSensors();
        break;
      case "trace":
        this.traces.push(msg); // samples at or before the newest one shown are dropped (no duplicates on resume)
        break;
      case "stride":
        this.addStride(msg);
        break;
      case "summary":
        this.summary = msg;
        this.renderSummary();
        break;
      case "ended":
        this.showEnded(msg.analysis_id, "The live session has ended; the full analysis is queued.");
        if (this.stopRequested && msg.analysis_id) location.hash = `#/reports/${encodeURIComponent(msg.analysis_id)}`;
        break;
      case "error":
        setChildren(this.errors, notice(`Live feed: ${msg.message}`, "error"));
        break;
      default:
        break;
    }
  }

  resetData() {
    this.strides.clear();
    this.traces.reset();
    this.renderStrides();
  }

  tick() {
    this.renderSensors();
  }

  // ------------------------------------------------------------------------------------------------ sensors
  renderSensors() {
    const sensors = (this.status && this.status.sensors) || {};
    for (const placement of Object.keys(sensors)) this.ensureCard(placement, PLACEMENTS.find((p) => p[0] === placement)?.[1]);
    const feedOpen = this.socketState === "open";
    const ageS = this.status ? (Date.now() - this.statusAt) / 1000 : 0;
    for (const [placement, entry] of this.cards) {
      const sensor = sensors[placement];
      let state;
      let text;
      let detail = "";
      if (this.socketState === "ended" || this.socketState === "failed") {
        state = "unknown";
        text = this.socketState === "ended" ? "Session ended" : "No live feed";
      } else if (!this.status || !feedOpen) {
        state = "unknown";
        text = this.status ? "? Unknown: live feed disconnected" : "? Waiting for status";
      } else if (!sensor) {
        state = "unknown";
        text = "? Not reported by the session";
      } else {
        const silent = (isNum(sensor.silent_s) ? sensor.silent_s : 0) + ageS;
        const lost = sensor.connected === false || silent > SILENT_LOST_S || /lost|disconnect/i.test(sensor.state || "");
        state = lost ? "lost" : "connected";
        if (!lost) entry.everConnected = true;
        text = !lost ? "✓ Connected" : entry.everConnected || isNum(sensor.rate_hz) ? "✕ LOST" : "✕ NOT CONNECTED";
        if (lost) detail = silent > SILENT_LOST_S ? `silent for ${silent.toFixed(1)} s` : sensor.state || "not connected";
        else if (sensor.state && sensor.state !== "connected" && sensor.state !== "streaming") detail = sensor.state;
      }
      entry.card.dataset.state = state;
      setChildren(entry.stateText, h("span", { class: "sensor-state-main" }, text), detail ? h("span", { class: "sensor-state-detail" }, ` (${detail})`) : null);
      // announce real changes only (not the unknown state while the feed reconnects)
      if (state !== "unknown" && state !== entry.lastKnown) {
        if (entry.lastKnown || state === "lost") {
          this.ctx.announce(`${entry.label}: ${state === "lost" ? "sensor lost" : "sensor connected again"}.`);
        }
        entry.lastKnown = state;
      }
      const s = sensor || {};
      setChildren(entry.dl, 
        fact("Rate", isNum(s.rate_hz) ? `${s.rate_hz.toFixed(0)} Hz` : "—"),
        fact("Loss", isNum(s.loss_pct) ? `${s.loss_pct.toFixed(1)} %` : "—"),
        fact("Battery", isNum(s.battery_pct) ? `${s.battery_pct.toFixed(0)} %${s.battery_pct < 20 ? " (low)" : ""}` : "—"),
        fact("Sync uncertainty", isNum(s.sync_uncertainty_ms) ? `± ${s.sync_uncertainty_ms.toFixed(1)} ms` : "—"),
      );
    }
  }

  renderReadout(values, tEnd) {
    // a text equivalent of the canvas for screen readers and quick reading: the numbers drawn in the same frame
    // (not aria-live, so it is read when asked for, not at every frame)
    const parts = TRACE_STRIPS.flatMap((strip) =>
      strip.channels.map(([key, label]) => `${strip.channels.length > 1 ? `hip flexion ${label}` : label} ${signedDeg(values[key])}`),
    );
    this.traceReadout.textContent = `Now: ${parts.join(", ")}.`;
    this.traceReadout.dataset.tEnd = isNum(tEnd) ? tEnd.toFixed(3) : "";
  }

  // ------------------------------------------------------------------------------------------------ strides
  addStride(msg) {
    // docs/live.md: a stride refined by a later pass comes again with the same id (revised: true) and replaces it
    const key = msg.id !== undefined && msg.id !== null ? `id:${msg.id}` : `${msg.side}:${msg.start_s}`;
    this.strides.set(key, msg);
    this.renderStrides();
  }

  renderStrides() {
    const all = [...this.strides.values()].sort((a, b) => (a.start_s ?? 0) - (b.start_s ?? 0));
    const left = all.filter((s) => s.side === "left").length;
    const right = all.filter((s) => s.side === "right").length;
    this.strideCount.textContent = String(all.length);
    this.strideSides.textContent = `left ${left} · right ${right}`;
    this.strideNote.textContent = all.length
      ? `${all.length} stride${all.length === 1 ? "" : "s"} detected; the ${Math.min(STRIDES_SHOWN, all.length)} latest, newest first.`
      : "No stride yet.";
    const rows = all
      .slice(-STRIDES_SHOWN)
      .reverse()
      .map((s, i) => {
        const pel = s.pelvis || {};
        const hip = s.hip || {};
        return h(
          "tr",
          { "data-testid": "stride-row", "data-side": s.side },
          h("td", { class: "num" }, String(all.length - i)),
          h("td", {}, s.side === "left" ? "L (left)" : s.side === "right" ? "R (right)" : s.side || "—"),
          h("td", { class: "num" }, fmtClock(s.start_s)),
          h("td", { class: "num" }, fmt(s.stride_time_s, "")),
          h("td", { class: "num" }, fmt(s.stride_length_m, "", 2)),
          h("td", { class: "num" }, fmt(s.speed_mps, "", 2)),
          h("td", { class: "num" }, fmt(s.stance_pct, "", 1)),
          h("td", { class: "num" }, [pel.tilt_rom_deg, pel.obliquity_rom_deg, pel.rotation_rom_deg].map((v) => fmt(v, "", 1)).join(" / ")),
          h("td", { class: "num" }, fmt(hip.sagittal_rom_deg, "", 1)),
          h("td", { class: "num" }, fmt(hip.peak_extension_deg, "", 1)),
        );
      });
    setChildren(this.strideBody, ...rows);
  }

  // ------------------------------------------------------------------------------------------------ summary
  renderSummary() {
    const report = (this.summary && this.summary.report) || {};
    const st = report.spatiotemporal || {};
    this.kpiCadence.textContent = fmt(metricOf(st, "cadence_spm").value, "", 1);
    this.kpiSpeed.textContent = fmt(metricOf(st, "walking_speed_mps").value, "", 2);
    if (isNum(this.summary.t_s) && !this.status) this.kpiTime.textContent = fmtClock(this.summary.t_s);
    this.renderFlags(report.flags || []);
    this.renderCurves(report.kinematics);
    setChildren(this.stTable, spatiotemporalTable(st, this.summary.n_strides));
    const warnings = report.warnings || [];
    setChildren(this.warnings, 
      warnings.length
        ? h(
            "details",
            { class: "card" },
            h("summary", {}, `${warnings.length} warning${warnings.length === 1 ? "" : "s"} from the analysis so far`),
            h("ul", {}, warnings.map((w) => h("li", {}, w))),
          )
        : "",
    );
  }

  renderFlags(flags) {
    this.flagNote.hidden = flags.length > 0;
    const rank = (f) => {
      if (f.status === "flagged") return { high: 0, moderate: 1, low: 2 }[f.level] ?? 3;
      return { pending: 4, "not flagged": 5, "insufficient data": 6 }[f.status] ?? 7;
    };
    const sorted = [...flags].sort((a, b) => rank(a) - rank(b) || String(a.id).localeCompare(String(b.id), undefined, { numeric: true }));
    const changes = [];
    setChildren(this.flagList, 
      ...sorted.map((f) => {
        const key = `${f.status}|${f.level}`;
        const before = this.flagsSeen.get(f.id);
        if (before !== undefined && before !== key) changes.push(`${f.id} ${f.name}: now ${statusText(f)}`);
        else if (before === undefined && f.status === "flagged") changes.push(`${f.id} ${f.name}: ${statusText(f)}`);
        this.flagsSeen.set(f.id, key);
        return h(
          "li",
          { class: `flag flag-${slug(f.status)} level-${slug(f.level)}`, "data-testid": "flag-item", "data-flag-id": f.id, "data-status": f.status, "data-level": f.level },
          h(
            "div",
            { class: "flag-head" },
            h("span", { class: "flag-id" }, f.id),
            " ",
            h("span", { class: "flag-name" }, f.name),
            f.side && f.side !== "both" ? h("span", { class: "muted" }, ` (${f.side})`) : f.side === "both" ? h("span", { class: "muted" }, " (both sides)") : null,
          ),
          h("span", { class: `badge badge-${slug(f.status === "flagged" ? f.level : f.status)}` }, statusText(f)),
          f.status === "flagged" || f.status === "pending"
            ? [h("p", { class: "flag-message" }, f.message || ""), confidenceLine(f)]
            : h("details", { class: "flag-more" }, h("summary", {}, "Why"), h("p", { class: "flag-message" }, f.message || "")),
        );
      }),
    );
    if (changes.length) this.ctx.announce(`Flags: ${changes.join("; ")}.`);
  }

  renderCurves(kin) {
    if (!kin) {
      setChildren(this.curves, notice("Gait-cycle curves build up as strides are analysed."));
      return;
    }
    const pelvis = kin.pelvis || {};
    const hip = kin.hip || {};
    const charts = [];
    const pc = pelvis.curves || {};
    for (const [name, title, metric] of [
      ["tilt", "Pelvic tilt (anterior +)", "tilt_rom_deg"],
      ["obliquity", "Pelvic obliquity (left side up +)", "obliquity_rom_deg"],
      ["rotation", "Pelvic rotation (pelvis turned left +)", "rotation_rom_deg"],
    ]) {
      const ref = lookup(pelvis, metric, "reference");
      // the report has no normative curves: as in the HTML report, a ROM band centred on zero for orientation
      const band = ref && name !== "tilt" && isNum(ref.high) ? { low: -ref.high / 2, high: ref.high / 2, label: `healthy ROM up to ${ref.high}° (centred on 0, orientation only)` } : null;
      charts.push(curveChart(title, name, pc, name, band));
    }
    const hipCurves = { left: lookup(hip, "left", "curves"), right: lookup(hip, "right", "curves") };
    const extRef = lookup(hip, "left", "peak_extension_deg", "reference") || lookup(hip, "right", "peak_extension_deg", "reference");
    const hipBand = extRef && isNum(extRef.low) && isNum(extRef.high) ? { low: -extRef.high, high: -extRef.low, label: `healthy peak-extension range (${bandText(extRef, "deg")}, drawn as extension −)` } : null;
    charts.push(curveChart("Hip flexion (+) / extension (−)", "hip_flexion", hipCurves, "hip_flexion", hipBand));
    setChildren(this.curves, ...charts);
  }

  // ------------------------------------------------------------------------------------------------ stop / end
  async stop() {
    this.stopConfirm.disabled = true;
    this.stopCancel.disabled = true;
    this.stopNote.textContent = "Stopping…";
    this.stopRequested = true;
    try {
      const live = await api(`/sessions/${encodeURIComponent(this.sessionId)}/live/stop`, { method: "POST", signal: this.ctx.signal });
      if (live && live.analysis_id) {
        this.stopNote.textContent = "Stopped; opening the report…";
        location.hash = `#/reports/${encodeURIComponent(live.analysis_id)}`;
        return;
      }
      this.stopNote.textContent = "Stopping: the report link appears when the session has ended.";
    } catch (err) {
      if (err.name === "AbortError" || err.name === "AuthError") return;
      this.stopRequested = false;
      this.stopNote.textContent = "";
      setChildren(this.errors, notice(`Could not stop the session: ${err.message}`, "error"));
      this.stopConfirm.disabled = false;
      this.stopCancel.disabled = false;
      this.stopAsk.hidden = true;
      this.stopButton.hidden = false;
    }
  }

  showEnded(analysisId, text) {
    if (!analysisId) return;
    this.analysisId = analysisId;
    this.ended.hidden = false;
    setChildren(this.ended, 
      h("p", {}, text, " "),
      h("a", { href: `#/reports/${encodeURIComponent(analysisId)}`, class: "button primary", "data-testid": "report-link" }, "Open the report"),
    );
    this.stopButton.hidden = true;
    this.stopAsk.hidden = true;
  }
}

// ---------------------------------------------------------------------------------------------------- helpers
function kpi(label, valueEl, subEl) {
  return h("div", { class: "kpi" }, h("span", { class: "kpi-label" }, label), valueEl, subEl || null);
}

function fact(label, value) {
  return h("div", {}, h("dt", {}, label), h("dd", {}, value));
}

/** Degrees with one decimal and a real minus sign, as on the trace canvas ("−4.0°"); "—" when unknown. */
function signedDeg(v) {
  if (!isNum(v)) return "—";
  const text = fmt(v, "deg", 1);
  return text === "-0.0°" ? "0.0°" : text.replace(/^-/, "\u2212");
}

function slug(text) {
  return String(text || "none").replace(/[^a-z0-9]+/gi, "-").toLowerCase();
}

function statusText(f) {
  if (f.status === "flagged") return `FLAGGED · ${String(f.level).toUpperCase()} confidence`;
  if (f.status === "pending") return "PENDING (change seen in this session only)";
  if (f.status === "not flagged") return "not flagged";
  if (f.status === "insufficient data") return "insufficient data";
  return String(f.status);
}

function confidenceLine(f) {
  const reasons = lookup(f, "confidence", "reasons");
  if (!Array.isArray(reasons) || !reasons.length || f.status !== "flagged") return null;
  return h("p", { class: "flag-reasons muted" }, `Confidence: ${reasons.join("; ")}`);
}

/** A spatiotemporal metric: the detail object (value, unit, reference) when there is one, else the bare value. */
function metricOf(st, detailKey, fallback) {
  const entry = lookup(st, "detail", detailKey);
  if (entry && typeof entry === "object") return entry;
  const value = fallback ? fallback(st) : st[detailKey];
  return { value: isNum(value) ? value : null, unit: "", reference: null };
}

const ST_ROWS = [
  { label: "Cadence", unit: "steps/min", all: "cadence_spm" },
  { label: "Walking speed", unit: "m/s", all: "walking_speed_mps" },
  { label: "Stride length", unit: "m", all: "stride_length_m" },
  { label: "Stride time", unit: "s", all: "stride_time_s" },
  { label: "Step time", unit: "s", all: "step_time_s", left: "step_time_s_left", right: "step_time_s_right", sym: "step_time_asymmetry", by: "step_time_s_by_side" },
  { label: "Step length", unit: "m", all: "step_length_m", left: "step_length_m_left", right: "step_length_m_right", sym: "step_length_symmetry_ratio", by: "step_length_m_by_side" },
  { label: "Stance", unit: "%", left: "stance_pct_left", right: "stance_pct_right", sym: "stance_symmetry_ratio", by: "stance_pct" },
  { label: "Swing", unit: "%", left: "swing_pct_left", right: "swing_pct_right", sym: "swing_symmetry_ratio", by: "swing_pct" },
  { label: "Double support", unit: "%", all: "double_support_pct" },
  { label: "Stride-time variability (CV)", unit: "%", all: "stride_time_cv_pct" },
];

function spatiotemporalTable(st, nStrides) {
  const cell = (m, unit) => {
    const pos = position(m.value, m.reference);
    return h("td", { class: "num" }, h("span", { class: "value" }, fmt(m.value, "", digitsFor(unit))), pos && pos !== "within" ? h("br") : null, pos && pos !== "within" ? positionBadge(pos) : null);
  };
  const rows = ST_ROWS.map((r) => {
    const all = r.all ? metricOf(st, r.all) : null;
    const left = r.left ? metricOf(st, r.left, (s) => lookup(s, r.by, "left")) : null;
    const right = r.right ? metricOf(st, r.right, (s) => lookup(s, r.by, "right")) : null;
    const sym = r.sym ? metricOf(st, r.sym) : null;
    const ref = (all && all.reference) || (left && left.reference) || (right && right.reference) || null;
    const symPos = sym ? position(sym.value, sym.reference) : "";
    return h(
      "tr",
      {},
      h("th", { scope: "row" }, r.label, " ", h("span", { class: "unit" }, `(${r.unit})`)),
      left ? cell(left, r.unit) : h("td", { class: "na" }, ""),
      right ? cell(right, r.unit) : h("td", { class: "na" }, ""),
      all ? cell(all, r.unit) : h("td", { class: "na" }, ""),
      h("td", {}, ref ? bandText(ref) : "—"),
      sym
        ? h(
            "td",
            { class: "num" },
            fmt(sym.value, "ratio"),
            sym.reference && isNum(sym.reference.high) ? h("span", { class: "muted" }, ` (≤ ${sym.reference.high})`) : null,
            symPos && symPos !== "within" ? h("br") : null,
            symPos && symPos !== "within" ? positionBadge(symPos) : null,
          )
        : h("td", { class: "na" }, ""),
    );
  });
  return h(
    "table",
    { class: "data st-table", "data-testid": "spatiotemporal-table" },
    h("caption", {}, `Everything so far${isNum(nStrides) ? ` (${nStrides} strides analysed)` : ""}. Symmetry: larger / smaller side; “↑ above band” / “↓ below band” mark values outside the reference.`),
    h(
      "thead",
      {},
      h(
        "tr",
        {},
        ["Measure (unit)", "Left", "Right", "Both sides", "Reference band", "Symmetry ratio (limit)"].map((t) => h("th", { scope: "col" }, t)),
      ),
    ),
    h("tbody", {}, rows),
  );
}

function digitsFor(unit) {
  return { "steps/min": 1, "m/s": 2, m: 2, s: 3, "%": 1 }[unit] ?? 2;
}

function curveChart(title, id, curves, name, band) {
  const series = [];
  const parts = [];
  for (const side of ["left", "right"]) {
    const c = curves && curves[side];
    const entry = c && c[name];
    if (!entry || !Array.isArray(entry.mean_deg) || !entry.mean_deg.some(isNum)) continue;
    const x = Array.isArray(c.percent_cycle) ? c.percent_cycle : entry.mean_deg.map((_, i) => i);
    const style = SIDE_STYLE[side];
    series.push({ label: `${side} (n = ${c.n_strides ?? "?"} strides), mean ± SD`, x, y: entry.mean_deg, sd: entry.sd_deg, color: style.color, dash: style.dash });
    const finite = entry.mean_deg.filter(isNum);
    parts.push(`${side}: ${c.n_strides ?? "?"} strides, mean from ${Math.min(...finite).toFixed(1)}° to ${Math.max(...finite).toFixed(1)}°`);
  }
  if (!series.length) {
    const fig = h("figure", { class: "chart-figure", "data-testid": "cycle-chart", "data-curve": id }, h("figcaption", { class: "chart-title" }, title), notice("Not available yet."));
    return fig;
  }
  const fig = lineChart({
    title,
    xLabel: "% of gait cycle (from the side's initial contact)",
    yLabel: "angle (°)",
    series,
    bands: band ? [band] : [],
    xDomain: [0, 100],
    desc: `${title}, mean ± SD over strides per side. ${parts.join("; ")}.`,
    width: 440,
    height: 260,
  });
  fig.setAttribute("data-testid", "cycle-chart");
  fig.setAttribute("data-curve", id);
  return fig;
}
