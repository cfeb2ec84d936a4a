// A stand-in for the service's relay endpoint with the semantics of server/ingest.py (checked against the real
// service by tests/server/test_relay_page_browser.py): the body must be a whole capture whose records name sensors
// the header lists (else 422); packets failing their check are listed in `rejected`, not stored; packets are unique
// on (sensor, type, sample_idx, device time), commands on (sensor, command, token, host time); an Idempotency-Key
// seen before with the same body answers the first answer with replayed: true, with another body 409.
//
// Faults for the tests: offline (fetch rejects like a browser without network), queued answers (a status to send
// instead of storing), `loseAnswers` (store, then the connection drops before the answer arrives) and `hangAfterStore`
// (store, then never answer: the page is killed mid-upload).

import { createHash } from "node:crypto";
import { SOURCE, parseCapture } from "../../../server/static/js/relay/capture.js";
import { parsePacket } from "../../../server/static/js/relay/protocol.js";

export class FakeService {
  constructor({ sessionId, token }) {
    this.sessionId = sessionId;
    this.tokens = new Set([token]);
    this.packets = new Map(); // dedup key → bytes
    this.commands = new Map();
    this.keys = new Map(); // Idempotency-Key → {sha, answer}
    this.offline = false;
    this.answers = []; // statuses (or {status, headers, body}) to answer instead of storing, in order
    this.loseAnswers = 0;
    this.hangAfterStore = 0;
    this.requests = []; // {key, status, outcome}
    this.fetch = this.fetch.bind(this);
  }

  stored() {
    return [...this.packets.values()];
  }

  async fetch(url, init) {
    await Promise.resolve();
    if (this.offline) throw new TypeError("Failed to fetch");
    const key = init.headers["Idempotency-Key"];
    const record = (status, outcome) => this.requests.push({ key, status, outcome });
    const m = url.match(/\/api\/v1\/sessions\/([^/]+)\/relay-batches$/);
    const token = (init.headers.Authorization || "").replace(/^Bearer /, "");
    if (!this.tokens.has(token)) return (record(401, "token"), respond(401, { error: { code: "unauthorized", message: "unknown token" } }));
    if (!m || decodeURIComponent(m[1]) !== this.sessionId) return (record(404, "session"), respond(404, { error: { code: "not_found", message: "no such session" } }));
    if (this.answers.length) {
      const a = this.answers.shift();
      const spec = typeof a === "number" ? { status: a } : a;
      record(spec.status, "scripted");
      return respond(spec.status, spec.body ?? { error: { code: "x", message: `scripted ${spec.status}` } }, spec.headers);
    }
    const body = new Uint8Array(init.body);
    const sha = createHash("sha256").update(body).digest("hex");
    let answer;
    const earlier = this.keys.get(key);
    if (earlier) {
      if (earlier.sha !== sha) return (record(409, "conflict"), respond(409, { error: { code: "conflict", message: "key reused" } }));
      answer = { ...earlier.answer, replayed: true };
    } else {
      let capture;
      try {
        capture = parseCapture(body);
      } catch (err) {
        return (record(422, "bad"), respond(422, { error: { code: "bad_input", message: String(err.message) } }));
      }
      if (capture.tornTailBytes) return (record(422, "torn"), respond(422, { error: { code: "bad_input", message: "truncated" } }));
      const listed = new Set(capture.header.sensors.map((s) => s.id));
      if (capture.records.some((r) => !listed.has(r.sensorId))) return (record(422, "unlisted"), respond(422, { error: { code: "bad_input", message: "unlisted sensor" } }));
      let stored = 0;
      let received = 0;
      const rejected = [];
      capture.records.forEach((r, i) => {
        if (r.source === SOURCE.HOST_COMMAND) {
          received += 1;
          const token = r.bytes.length === 5 ? new DataView(r.bytes.buffer).getUint32(1, true) : 0;
          const k = `${r.sensorId}/c${r.bytes[0]}/${token}/${r.tHostNs}`;
          if (!this.commands.has(k)) (this.commands.set(k, r.bytes), (stored += 1));
          return;
        }
        const info = parsePacket(r.bytes);
        if (!info.ok) return void rejected.push(`record ${i}: ${info.reason}`);
        if (info.sensorId !== r.sensorId) return void rejected.push(`record ${i}: mislabeled`);
        received += 1;
        const k = `${r.sensorId}/${info.type}/${info.sampleIdx}/${info.tUs}`;
        if (!this.packets.has(k)) (this.packets.set(k, r.bytes), (stored += 1));
      });
      answer = { session_id: this.sessionId, received, stored, duplicates: received - stored, rejected, replayed: false };
      this.keys.set(key, { sha, answer });
    }
    if (this.hangAfterStore > 0) {
      this.hangAfterStore -= 1;
      record(200, "hung");
      return new Promise(() => {});
    }
    if (this.loseAnswers > 0) {
      this.loseAnswers -= 1;
      record(200, "lost");
      throw new TypeError("Failed to fetch");
    }
    record(200, answer.replayed ? "replayed" : "stored");
    return respond(200, answer);
  }
}

function respond(status, body, headers = {}) {
  const text = JSON.stringify(body);
  const h = new Map(Object.entries(headers).map(([k, v]) => [k.toLowerCase(), String(v)]));
  return {
    status,
    ok: status >= 200 && status < 300,
    headers: { get: (name) => h.get(name.toLowerCase()) ?? null },
    json: async () => JSON.parse(text),
    text: async () => text,
  };
}
