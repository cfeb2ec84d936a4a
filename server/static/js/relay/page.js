// The phone relay page (relay.html): the platform pieces (IndexedDB, Web Bluetooth, fetch, the clocks, "online"
// events, Web Locks, persistent storage, the screen wake lock) handed to the relay (relay.js), and the patient's
// status screen.
//
// Enrolment: the clinician's dashboard shows a QR code of  https://<service>/relay.html#session=<id>&token=<relay
// token>. The part after # never reaches a server; the page stores the session and token in IndexedDB and takes
// them out of the address bar. A new code for the same session replaces the token; a code for another session is
// taken only once everything of the previous one has been sent.
//
// Options in the query string (for tests and troubleshooting): batch_s (seconds per batch, default 10).

import { IdbStore } from "./idb_store.js";
import { PLACEMENT_TEXT, PLACEMENTS } from "./protocol.js";
import { Relay } from "./relay.js";

const $ = (id) => document.getElementById(id);

function show(id, on = true) {
  $(id).hidden = !on;
}

function problem(text) {
  const box = $("problem");
  box.textContent = text;
  box.hidden = !text;
}

/** {session_id, token} from "#session=…&token=…", or null. */
export function parseEnrolment(hash) {
  const params = new URLSearchParams(String(hash || "").replace(/^#/, ""));
  const session = params.get("session");
  const token = params.get("token");
  return session && token ? { session_id: session, token } : null;
}

/** "3 min", "1 h 05 min". */
export function duration(seconds) {
  const s = Math.max(0, Math.round(seconds));
  if (s < 60) return `${s} s`;
  const m = Math.round(s / 60);
  return m < 60 ? `${m} min` : `${Math.floor(m / 60)} h ${String(m % 60).padStart(2, "0")} min`;
}

function ago(ms, now) {
  if (ms === null || ms === undefined) return "not yet";
  const s = Math.max(0, (now - ms) / 1000);
  if (s < 60) return "just now";
  if (s < 3600) return `${Math.round(s / 60)} min ago`;
  if (s < 86400) return `${Math.round(s / 3600)} h ago`;
  return new Date(ms).toLocaleString();
}

function size(bytes) {
  if (bytes < 1000) return `${bytes} bytes`;
  if (bytes < 1e6) return `${Math.round(bytes / 1000)} kB`;
  return `${(bytes / 1e6).toFixed(1)} MB`;
}

const SENSOR_TEXT = {
  streaming: "Connected",
  connecting: "Connecting…",
  reconnecting: "Reconnecting…",
  failed: "Not usable",
  absent: "Not connected",
  idle: "Not connected",
};

function uploadText(st, online) {
  if (st.upload === "token_refused") {
    return ["bad", "Your clinic’s code is no longer valid. Data stays on this phone: ask your clinic for a new QR code."];
  }
  if (!online || st.upload === "offline") {
    return ["warn", "No internet connection. Data is kept on this phone and sent when you are back online."];
  }
  if (st.upload === "waiting") {
    const when = st.retryInMs ? ` Next try in about ${Math.max(1, Math.round(st.retryInMs / 1000))} s.` : "";
    return ["warn", `Could not reach your clinic’s service; trying again.${when}`];
  }
  if (st.upload === "uploading") return ["ok", "Sending…"];
  if (st.queuedBatches === 0) return ["ok", "Everything recorded so far has been sent."];
  return ["ok", "Sending soon."];
}

function render(relay, extra) {
  const st = relay.status();
  const now = Date.now();
  const online = navigator.onLine !== false;
  const list = $("sensor-list");
  list.replaceChildren(
    ...st.sensors.map((s) => {
      const li = document.createElement("li");
      li.dataset.testid = "relay-sensor";
      li.dataset.placement = s.placement;
      li.dataset.state = s.state;
      const where = Object.assign(document.createElement("span"), { className: "where", textContent: PLACEMENT_TEXT[s.placement] });
      let text = SENSOR_TEXT[s.state] || s.state;
      if (s.state === "streaming" && s.battery !== null) text += `, battery ${s.battery} %`;
      const state = Object.assign(document.createElement("span"), { className: "state", textContent: text });
      li.append(where, state);
      if (s.error && s.state !== "streaming") li.append(Object.assign(document.createElement("span"), { className: "note", textContent: s.error }));
      return li;
    }),
    ...st.unidentified.map((u) => {
      const li = document.createElement("li");
      li.dataset.testid = "relay-sensor";
      li.dataset.state = u.state;
      li.append(
        Object.assign(document.createElement("span"), { className: "where", textContent: u.name }),
        Object.assign(document.createElement("span"), { className: "state", textContent: u.state === "failed" ? "Not usable" : "Waiting for its first data…" }),
      );
      if (u.error) li.append(Object.assign(document.createElement("span"), { className: "note", textContent: u.error }));
      return li;
    }),
  );
  const connected = st.sensors.filter((s) => s.state === "streaming").length;
  $("connect").textContent = connected === PLACEMENTS.length ? "Connect a sensor again" : "Connect a sensor";

  const walking = $("walking");
  walking.textContent = duration(st.walkingTodayS);
  walking.parentElement.dataset.seconds = String(st.walkingTodayS);

  const [kind, text] = uploadText(st, online);
  const up = $("upload-state");
  up.textContent = text;
  up.className = `box box-${kind}`;
  up.dataset.state = online ? st.upload : "offline";

  $("last-upload").textContent = ago(st.lastUploadWallMs, now);
  $("last-upload").parentElement.dataset.wallMs = String(st.lastUploadWallMs ?? "");
  const queued = $("queued");
  const parts = st.queuedBatches ? `${st.queuedBatches} part${st.queuedBatches === 1 ? "" : "s"} (${size(st.queuedBytes)})` : "";
  const recording = st.openRecords ? "the part being recorded" : "";
  queued.textContent = [parts, recording].filter(Boolean).join(" and ") || "nothing";
  Object.assign(queued.parentElement.dataset, { batches: String(st.queuedBatches), bytes: String(st.queuedBytes), open: String(st.openRecords) });

  const c = st.counters;
  const received = Object.values(c.received || {}).reduce((a, b) => a + b, 0);
  const rows = [
    ["Home recording", st.sessionId],
    ["Packets received", String(received)],
    ["Parts sent", `${c.acknowledged} (${c.replayed} already on the server)`],
    ["Parts refused by the server", String(c.rejected)],
    ["Damaged packets", String(c.damaged)],
    ["Storage", extra.persisted === true ? "kept (the browser will not clear it)" : extra.persisted === false ? "may be cleared by the browser when the phone runs out of space" : "unknown"],
    ["Last problem", st.lastError || st.errors.at(-1) || "none"],
  ];
  const dl = $("details");
  dl.replaceChildren(...rows.flatMap(([k, v]) => [Object.assign(document.createElement("dt"), { textContent: k }), Object.assign(document.createElement("dd"), { textContent: v })]));
  Object.assign(dl.dataset, { received: String(received), acknowledged: String(c.acknowledged), replayed: String(c.replayed), rejected: String(c.rejected), damaged: String(c.damaged) });
}

/** Hold the relay lock for the page's lifetime; false when another tab holds it. */
function takeLock() {
  if (!navigator.locks || typeof navigator.locks.request !== "function") return Promise.resolve(true);
  return new Promise((resolve) => {
    navigator.locks.request("fusiongait-relay", { ifAvailable: true }, (lock) => {
      resolve(Boolean(lock));
      return lock ? new Promise(() => {}) : undefined; // held until the page goes away
    });
  });
}

async function main() {
  show("loading", false);
  if (!window.isSecureContext) {
    problem("This page must be opened over a secure (https://) address. Ask your clinic for the right link.");
    return;
  }
  if (!window.indexedDB) {
    problem("This browser cannot keep data on the phone. Open this page in Chrome.");
    return;
  }
  if (!(await takeLock())) {
    problem("The sensor page is already open in another tab or window. Use that one, and close this one.");
    return;
  }
  const store = await IdbStore.open(window.indexedDB);
  let enrolment = await store.getEnrolment();
  const fromLink = parseEnrolment(location.hash);
  if (fromLink) {
    history.replaceState(null, "", location.pathname + location.search); // the token out of the address bar
    if (!enrolment || enrolment.session_id === fromLink.session_id) {
      enrolment = { ...fromLink, enrolled_at: Date.now() };
      await store.putEnrolment(enrolment);
    } else if (!(await store.holdsData())) {
      await store.resetQueue();
      enrolment = { ...fromLink, enrolled_at: Date.now() };
      await store.putEnrolment(enrolment);
    } else {
      problem("This phone still holds data of your previous home recording that has not been sent yet. Connect to the internet and wait until it is sent, then scan the new code again.");
    }
  }
  if (!enrolment) {
    show("enrol");
    return;
  }
  const extra = { persisted: null };
  if (navigator.storage && typeof navigator.storage.persist === "function") {
    navigator.storage.persist().then((ok) => (extra.persisted = ok), () => {});
  }
  const params = new URLSearchParams(location.search);
  const batchS = Number(params.get("batch_s"));
  let pending = false;
  let relay = null;
  const schedule = () => {
    if (pending || !relay) return;
    pending = true;
    requestAnimationFrame(() => {
      pending = false;
      render(relay, extra);
    });
  };
  relay = await Relay.start({
    store,
    sessionId: enrolment.session_id,
    token: () => enrolment.token,
    fetch: (url, init) => window.fetch(url, init),
    bluetooth: navigator.bluetooth,
    isOnline: () => navigator.onLine !== false,
    batchMs: batchS > 0 ? batchS * 1000 : undefined,
    onChange: schedule,
  });
  window.fusiongaitRelay = relay; // for troubleshooting from the browser's console (and the browser test)
  show("relay");
  window.addEventListener("online", () => {
    relay.uploader.wake({ reset: true });
    schedule();
  });
  window.addEventListener("offline", schedule);
  window.addEventListener("pagehide", () => relay.batcher.guard(relay.queue.flush()));
  document.addEventListener("visibilitychange", () => {
    if (document.visibilityState === "hidden") relay.batcher.guard(relay.queue.flush());
  });
  if (!navigator.bluetooth) {
    show("bt-missing");
    $("connect").disabled = true;
  }
  $("connect").addEventListener("click", async () => {
    try {
      await relay.connectSensor();
    } catch (err) {
      if (err && err.name === "NotFoundError") return; // the patient closed the chooser
      problem(`Could not connect the sensor: ${err && err.message}`);
    }
    schedule();
  });
  if (navigator.wakeLock && typeof navigator.wakeLock.request === "function") {
    const button = $("wake");
    show("wake");
    let sentinel = null;
    const take = async () => {
      try {
        sentinel = await navigator.wakeLock.request("screen");
        button.textContent = "The screen stays on (tap to allow it to turn off)";
        button.setAttribute("aria-pressed", "true");
        sentinel.addEventListener("release", () => {
          button.textContent = "Keep the screen on";
          button.setAttribute("aria-pressed", "false");
        });
      } catch (err) {
        problem(`Could not keep the screen on: ${err && err.message}`);
      }
    };
    button.setAttribute("aria-pressed", "false");
    button.addEventListener("click", () => (sentinel && !sentinel.released ? sentinel.release() : take()));
  }
  relay.reconnectKnown().then(schedule, schedule);
  render(relay, extra);
  setInterval(() => render(relay, extra), 1000);
}

main().catch((err) => {
  console.error(err);
  problem(`The page failed to start: ${err && err.message}`);
});
