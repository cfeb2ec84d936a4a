// The live WebSocket of docs/live.md, reconnecting by itself.
//
// The first message authenticates: {"type": "auth", "token", "after": <last seq seen> | null}. After a drop the
// socket reconnects with exponential backoff (0.5 s doubling to 15 s, with jitter) and sends the last seq it saw, so
// the server resumes after it (or sends a fresh snapshot with hello.reset = true). Close codes 4400-4499 are final
// (4000 + the HTTP status: 4401 bad token, 4403 not allowed, 4404 no such live session); so is an `ended`
// message. A socket that stays silent for longer than STALE_MS (status comes every second) is treated as dropped.

const STALE_MS = 8000;
const MAX_DELAY_MS = 15000;

export class LiveSocket {
  /**
   * @param {string} url ws(s)://…/api/v1/sessions/{id}/live/ws
   * @param {{token: () => string|null, onMessage: (msg) => void, onState: (state, info) => void}} handlers
   *   states: "connecting", "open", "reconnecting" (info: {delayMs, attempt, reason}), "ended", "failed"
   *   (info: {code, reason}), "closed" (stopped by the page)
   */
  constructor(url, { token, onMessage, onState }) {
    this.url = url;
    this.token = token;
    this.onMessage = onMessage;
    this.onState = onState;
    this.lastSeq = null;
    this.attempt = 0;
    this.ws = null;
    this.retryTimer = null;
    this.watchdog = null;
    this.lastMessageAt = 0;
    this.finished = false;
  }

  start() {
    this.finished = false;
    this.connect();
  }

  /** Stop for good (leaving the page). */
  close() {
    this.finished = true;
    clearTimeout(this.retryTimer);
    clearInterval(this.watchdog);
    if (this.ws) {
      try {
        this.ws.close(1000, "viewer left");
      } catch {
        // already closed
      }
    }
    this.ws = null;
    this.onState("closed", {});
  }

  connect() {
    clearTimeout(this.retryTimer);
    this.onState(this.attempt ? "reconnecting" : "connecting", { attempt: this.attempt, delayMs: 0, connecting: true });
    let ws;
    try {
      ws = new WebSocket(this.url);
    } catch (err) {
      this.retry(`cannot open the WebSocket (${err.message})`);
      return;
    }
    this.ws = ws;
    ws.addEventListener("open", () => {
      if (ws !== this.ws) return;
      ws.send(JSON.stringify({ type: "auth", token: this.token(), after: this.lastSeq }));
      this.lastMessageAt = Date.now();
      clearInterval(this.watchdog);
      this.watchdog = setInterval(() => {
        if (ws === this.ws && Date.now() - this.lastMessageAt > STALE_MS) {
          ws.close(4000, "no message for too long");
          this.dropped(ws, `no message for ${Math.round(STALE_MS / 1000)} s`);
        }
      }, 1000);
    });
    ws.addEventListener("message", (event) => {
      if (ws !== this.ws) return;
      this.lastMessageAt = Date.now();
      let msg;
      try {
        msg = JSON.parse(event.data);
      } catch {
        return; // not JSON: ignore
      }
      if (!msg || typeof msg !== "object") return;
      if (msg.type === "hello") {
        this.attempt = 0;
        if (msg.reset) this.lastSeq = null;
        this.onState("open", { reset: Boolean(msg.reset) });
      }
      if (typeof msg.seq === "number") this.lastSeq = this.lastSeq === null ? msg.seq : Math.max(this.lastSeq, msg.seq);
      try {
        this.onMessage(msg);
      } catch (err) {
        console.error("live message handler failed", err, msg);
      }
      if (msg.type === "ended") {
        this.finished = true;
        clearInterval(this.watchdog);
        this.onState("ended", { analysisId: msg.analysis_id });
      }
    });
    ws.addEventListener("close", (event) => {
      if (ws !== this.ws) return;
      if (event.code >= 4400 && event.code < 4500) {
        this.finished = true;
        clearInterval(this.watchdog);
        this.ws = null;
        this.onState("failed", { code: event.code, reason: event.reason });
        return;
      }
      this.dropped(ws, event.reason || `connection closed (code ${event.code})`);
    });
  }

  dropped(ws, reason) {
    if (ws !== this.ws) return;
    clearInterval(this.watchdog);
    this.ws = null;
    if (this.finished) return;
    this.retry(reason);
  }

  retry(reason) {
    const base = Math.min(MAX_DELAY_MS, 500 * 2 ** this.attempt);
    const delayMs = Math.round(base * (0.75 + Math.random() * 0.5));
    this.attempt += 1;
    this.onState("reconnecting", { attempt: this.attempt, delayMs, reason });
    this.retryTimer = setTimeout(() => this.connect(), delayMs);
  }
}

/** The WebSocket URL of a session's live feed, on this page's origin. */
export function liveSocketUrl(sessionId) {
  const scheme = location.protocol === "https:" ? "wss:" : "ws:";
  return `${scheme}//${location.host}/api/v1/sessions/${encodeURIComponent(sessionId)}/live/ws`;
}
