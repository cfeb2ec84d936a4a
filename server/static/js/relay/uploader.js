// Send the queue's batches to the service, oldest first, one at a time (firmware_bridge/relay.py Uploader and
// hardware/PROTOCOL.md §6):
//
//   POST {base}/api/v1/sessions/{session}/relay-batches   Authorization: Bearer <relay token>
//        Idempotency-Key: sha256-<hex SHA-256 of the body>, Content-Type: application/octet-stream, the capture body
//
//   2xx                     stored (replayed: true if it was already): delete the batch
//   401, 403, 404           the token (or its session) is refused: stop, keep the batches, wait for a new token
//   408, 425, 429, 5xx,     retry the same batch after min(max, initial · 2^k) × U(1 − jitter, 1), a Retry-After
//   other statuses, network   honoured up to the cap; forever
//   any other 4xx           (409, 413, 422, …) it can never be stored as it is: set it aside, go on
//
// Everything from the platform is injected: fetch, sleep, random, the clock, whether the browser says it is online.

export const RELAY_BACKOFF = Object.freeze({ initialMs: 1000, factor: 2, maxMs: 60_000, jitter: 0.5 });
const RETRY_4XX = new Set([408, 425, 429]);
const TOKEN_4XX = new Set([401, 403, 404]);
/** How often an offline uploader looks again without an "online" event. */
const OFFLINE_POLL_MS = 30_000;

/** What a relay does with an HTTP status: "stored" | "token" | "rejected" | "retry". */
export function classify(status) {
  if (status >= 200 && status < 300) return "stored";
  if (TOKEN_4XX.has(status)) return "token";
  if (status >= 400 && status < 500 && !RETRY_4XX.has(status)) return "rejected";
  return "retry";
}

/** Delay before retry `attempt` (0-based) of the same batch, in ms; `random` in [0, 1). */
export function backoffDelayMs(attempt, random, backoff = RELAY_BACKOFF) {
  const base = Math.min(backoff.maxMs, backoff.initialMs * backoff.factor ** Math.max(0, attempt));
  return base * (1 - backoff.jitter * random);
}

function retryAfterMs(response) {
  const value = response.headers && response.headers.get ? response.headers.get("Retry-After") : null;
  if (value === null || value === undefined) return null;
  const seconds = Number(value);
  return Number.isFinite(seconds) ? Math.max(0, seconds * 1000) : null;
}

async function errorDetail(response) {
  try {
    const text = await response.text();
    try {
      const body = JSON.parse(text);
      const message = body && body.error && typeof body.error === "object" ? body.error.message : body.detail ?? text;
      return String(message).replace(/\s+/g, " ").slice(0, 300);
    } catch {
      return text.replace(/\s+/g, " ").slice(0, 300);
    }
  } catch {
    return "";
  }
}

export class Uploader {
  /**
   * queue: RelayQueue. Options: fetch, token (() → the relay token), baseUrl ("" = the page's own origin),
   * sleep ((ms) → Promise), random (() → [0, 1)), wallMs (() → ms), isOnline (() → bool), backoff, timeoutMs
   * (an attempt with no answer by then is a network error), timers ({setTimeout, clearTimeout}), onChange (called after every state change, for the status display).
   */
  constructor(queue, { fetch, token, baseUrl = "", sleep, random = Math.random, wallMs = () => Date.now(), isOnline = () => true, backoff = RELAY_BACKOFF, timeoutMs = 30_000, timers, onChange = () => {} }) {
    this.queue = queue;
    this.fetch = fetch;
    this.token = token;
    this.url = `${baseUrl.replace(/\/$/, "")}/api/v1/sessions/${encodeURIComponent(queue.sessionId)}/relay-batches`;
    this.sleep = sleep || ((ms) => new Promise((resolve) => setTimeout(resolve, ms)));
    this.random = random;
    this.wallMs = wallMs;
    this.isOnline = isOnline;
    this.backoff = backoff;
    this.timeoutMs = timeoutMs;
    this.timers = timers || { setTimeout: (f, ms) => setTimeout(f, ms), clearTimeout: (t) => clearTimeout(t) };
    this.onChange = onChange;
    this.state = "idle"; // idle | uploading | waiting | offline | token_refused | stopped
    this.counters = {
      attempts: 0,
      uploaded: 0,
      replayed: 0,
      rejected: 0,
      failures: 0, // attempts answered by a network error or a status to retry
      last_upload_wall_ms: null,
      last_error: "",
      retry_in_ms: null,
      token_refused: false,
    };
    this.stopping = false;
    this.failuresInRow = 0;
    this.waker = null;
  }

  setState(state) {
    this.state = state;
    this.onChange(this);
  }

  /** Something changed (a batch was queued, the browser came online, a new token): look again now. With reset,
   *  the backoff starts over (the network is back). */
  wake({ reset = false } = {}) {
    if (reset) this.failuresInRow = 0;
    if (this.waker) this.waker();
  }

  stop() {
    this.stopping = true;
    this.wake();
  }

  /** Sleep `ms` (null: until woken), cut short by wake() or stop(). */
  wait(ms) {
    return new Promise((resolve) => {
      let done = false;
      const finish = () => {
        if (done) return;
        done = true;
        this.waker = null;
        resolve();
      };
      this.waker = finish;
      if (ms !== null) this.sleep(ms).then(finish, finish);
    });
  }

  /** Upload `batch` once: {outcome, status, detail, answer, retryAfterMs}. */
  async attempt(batch) {
    const body = await this.queue.body(batch);
    this.counters.attempts += 1;
    const controller = typeof AbortController === "function" ? new AbortController() : null;
    let timer = null;
    let response;
    try {
      if (controller && this.timeoutMs) timer = this.timers.setTimeout(() => controller.abort(), this.timeoutMs);
      response = await this.fetch(this.url, {
        method: "POST",
        headers: {
          Authorization: `Bearer ${this.token()}`,
          "Idempotency-Key": batch.key,
          "Content-Type": "application/octet-stream",
        },
        body,
        cache: "no-store",
        signal: controller ? controller.signal : undefined,
      });
    } catch (err) {
      const what = err && err.name === "AbortError" ? `no answer in ${this.timeoutMs / 1000} s` : `${err && err.name}: ${err && err.message}`;
      return { outcome: "retry", status: null, detail: what, answer: {}, retryAfterMs: null };
    } finally {
      if (timer) this.timers.clearTimeout(timer);
    }
    const outcome = classify(response.status);
    if (outcome === "stored") {
      let answer = {};
      try {
        answer = await response.json();
      } catch {
        answer = {};
      }
      return { outcome, status: response.status, detail: "", answer: answer && typeof answer === "object" ? answer : {}, retryAfterMs: null };
    }
    return { outcome, status: response.status, detail: await errorDetail(response), answer: {}, retryAfterMs: retryAfterMs(response) };
  }

  /** Run a queue write; when the phone's storage fails, say so and wait (the batch stays queued: the next attempt
   *  is answered as a replay). Returns whether it worked. */
  async storeStep(step) {
    try {
      await step();
      return true;
    } catch (err) {
      this.counters.last_error = `phone storage: ${err && err.message}`;
      const delay = backoffDelayMs(this.failuresInRow++, this.random(), this.backoff);
      this.counters.retry_in_ms = delay;
      this.setState("waiting");
      await this.wait(delay);
      return false;
    }
  }

  /** Upload until stop(). */
  async run() {
    try {
      while (!this.stopping) {
        const batch = this.queue.oldest();
        if (!batch) {
          this.setState("idle");
          await this.wait(null);
          continue;
        }
        if (!this.isOnline()) {
          this.setState("offline");
          await this.wait(OFFLINE_POLL_MS);
          continue;
        }
        this.setState("uploading");
        const result = await this.attempt(batch);
        if (this.stopping) return;
        this.counters.retry_in_ms = null;
        if (result.outcome === "stored") {
          this.failuresInRow = 0;
          if (!(await this.storeStep(() => this.queue.ack(batch, result.answer)))) continue;
          this.counters.uploaded += 1;
          if (result.answer.replayed) this.counters.replayed += 1;
          this.counters.last_upload_wall_ms = this.wallMs();
          this.counters.last_error = "";
          this.counters.token_refused = false;
        } else if (result.outcome === "rejected") {
          this.failuresInRow = 0;
          const reason = `HTTP ${result.status}: ${result.detail}`;
          if (!(await this.storeStep(() => this.queue.reject(batch, reason)))) continue;
          this.counters.rejected += 1;
          this.counters.last_error = reason;
        } else if (result.outcome === "token") {
          const refused = this.token();
          this.counters.token_refused = true;
          this.counters.last_error = `HTTP ${result.status}: ${result.detail}`;
          this.setState("token_refused");
          while (!this.stopping && this.token() === refused) await this.wait(null);
        } else {
          this.counters.failures += 1;
          this.counters.last_error = `${result.status === null ? "network error" : `HTTP ${result.status}`}: ${result.detail}`;
          let delay = backoffDelayMs(this.failuresInRow, this.random(), this.backoff);
          if (result.retryAfterMs !== null) delay = Math.max(delay, Math.min(result.retryAfterMs, this.backoff.maxMs));
          this.failuresInRow += 1;
          this.counters.retry_in_ms = delay;
          this.setState("waiting");
          await this.wait(delay);
        }
      }
    } finally {
      this.setState("stopped");
    }
  }
}
