// The uploader against the fake service: the answers of PROTOCOL.md §6 (stored, replayed, retried with backoff and
// jitter, token refused, refused for good), offline, and the same key with the same body on every re-send.

import { test } from "node:test";
import assert from "node:assert/strict";
import { RELAY_BACKOFF, Uploader, backoffDelayMs, classify } from "../../server/static/js/relay/uploader.js";
import { RelayQueue } from "../../server/static/js/relay/queue.js";
import { Batcher } from "../../server/static/js/relay/batcher.js";
import { SOURCE } from "../../server/static/js/relay/capture.js";
import { Backing } from "./helpers/memory_store.js";
import { FakeService } from "./helpers/fake_service.js";
import { FakeTimers, settle } from "./helpers/fake_timers.js";
import { hex, imu } from "./helpers/packets.js";

const SID = "s-1";
const TOKEN = "fg_relay_token";

test("classify follows PROTOCOL.md §6", () => {
  const table = { 200: "stored", 201: "stored", 401: "token", 403: "token", 404: "token", 408: "retry", 425: "retry", 429: "retry", 409: "rejected", 413: "rejected", 422: "rejected", 400: "rejected", 500: "retry", 502: "retry", 503: "retry", 302: "retry" };
  for (const [status, outcome] of Object.entries(table)) assert.equal(classify(Number(status)), outcome, status);
});

test("backoff doubles from 1 s to the 60 s cap, with jitter taking up to half off", () => {
  assert.deepEqual([0, 1, 2, 3, 6, 7, 20].map((k) => backoffDelayMs(k, 0)), [1000, 2000, 4000, 8000, 60_000, 60_000, 60_000]);
  assert.equal(backoffDelayMs(3, 0.999999), 8000 * (1 - 0.5 * 0.999999));
  for (let k = 0; k < 12; k++) {
    const d = backoffDelayMs(k, Math.random());
    const base = Math.min(60_000, 1000 * 2 ** k);
    assert.ok(d > base / 2 - 1e-9 && d <= base, `${k}: ${d}`);
  }
  assert.deepEqual(RELAY_BACKOFF, { initialMs: 1000, factor: 2, maxMs: 60_000, jitter: 0.5 });
});

async function setup({ batches = 3, online = () => true, random = () => 0 } = {}) {
  const backing = new Backing();
  const queue = await RelayQueue.open(backing.connect(), { sessionId: SID });
  const b = new Batcher(queue, { nowMs: () => 0, clockNs: () => 1n, wallNs: () => 2n });
  for (let i = 0; i < batches; i++) {
    b.add(BigInt(i), SOURCE.BLE, 0, imu(0, i));
    await b.cut();
  }
  const service = new FakeService({ sessionId: SID, token: TOKEN });
  const timers = new FakeTimers();
  let token = TOKEN;
  const uploader = new Uploader(queue, { fetch: service.fetch, token: () => token, sleep: timers.sleep(), random, isOnline: online, wallMs: () => timers.now });
  const run = uploader.run();
  return { backing, queue, service, timers, uploader, run, setToken: (t) => (token = t) };
}

test("uploads every batch oldest first, once, and then idles", async () => {
  const { queue, service, timers, uploader, run } = await setup();
  await timers.advance(0);
  assert.equal(queue.depth, 0);
  assert.deepEqual(service.requests.map((r) => r.outcome), ["stored", "stored", "stored"]);
  assert.deepEqual(service.stored().map(hex), [0, 1, 2].map((k) => hex(imu(0, k))));
  assert.equal(uploader.state, "idle");
  assert.equal(uploader.counters.uploaded, 3);
  assert.equal(uploader.counters.last_upload_wall_ms, timers.now);
  uploader.stop();
  await run;
  assert.equal(uploader.state, "stopped");
});

test("server errors and network errors are retried with growing delays, the same key and body each time", async () => {
  const { queue, service, timers, uploader, run } = await setup({ batches: 1 });
  service.answers.push(503, 500, { status: 429, headers: { "Retry-After": "30" } });
  service.offline = true;
  await timers.advance(0);
  assert.equal(service.requests.length, 0, "offline: the fetch failed before reaching the service");
  assert.equal(uploader.state, "waiting");
  assert.equal(uploader.counters.retry_in_ms, 1000);
  assert.match(uploader.counters.last_error, /network error: TypeError: Failed to fetch/);
  service.offline = false;
  await timers.advance(1000); // 503
  assert.equal(uploader.counters.retry_in_ms, 2000);
  await timers.advance(2000); // 500
  assert.equal(uploader.counters.retry_in_ms, 4000);
  await timers.advance(4000); // 429 with Retry-After: 30 s beats the 8 s backoff
  assert.equal(uploader.counters.retry_in_ms, 30_000);
  await timers.advance(29_000);
  assert.equal(queue.depth, 1, "not before the Retry-After");
  await timers.advance(1000);
  assert.equal(queue.depth, 0);
  const keys = new Set(service.requests.map((r) => r.key));
  assert.equal(keys.size, 1, "one key for every attempt");
  assert.deepEqual(service.requests.map((r) => r.status), [503, 500, 429, 200]);
  assert.equal(uploader.counters.failures, 4);
  assert.equal(service.stored().length, 1);
  uploader.stop();
  await run;
});

test("a Retry-After beyond the cap waits only the cap", async () => {
  const { service, timers, uploader, run } = await setup({ batches: 1 });
  service.answers.push({ status: 503, headers: { "Retry-After": "3600" } });
  await timers.advance(0);
  assert.equal(uploader.counters.retry_in_ms, 60_000);
  uploader.stop();
  await run;
});

test("an answer lost after the server stored the batch: the re-send is answered as a replay, stored once", async () => {
  const { queue, service, timers, uploader, run } = await setup({ batches: 2 });
  service.loseAnswers = 1;
  await timers.advance(0);
  assert.equal(queue.depth, 2, "no answer: the batch stays");
  await timers.advance(1000);
  assert.equal(queue.depth, 0);
  assert.deepEqual(service.requests.map((r) => r.outcome), ["lost", "replayed", "stored"]);
  assert.equal(uploader.counters.replayed, 1);
  assert.equal(queue.counters.replayed, 1);
  assert.equal(service.stored().length, 2);
  uploader.stop();
  await run;
});

test("a refused token stops uploads, keeps the batches, and a new token resumes them", async () => {
  const { queue, service, timers, uploader, run, setToken } = await setup({ batches: 2 });
  service.tokens.clear();
  await timers.advance(60 * 60_000);
  assert.equal(uploader.state, "token_refused");
  assert.equal(service.requests.length, 1, "no retries with a refused token");
  assert.equal(queue.depth, 2);
  service.tokens.add("fg_new");
  setToken("fg_new");
  uploader.wake();
  await timers.advance(0);
  assert.equal(queue.depth, 0);
  assert.equal(uploader.counters.token_refused, false);
  uploader.stop();
  await run;
});

test("a batch refused for good (409, 413, 422) is set aside and the next one goes", async () => {
  const { backing, queue, service, timers, uploader, run } = await setup({ batches: 3 });
  service.answers.push(422, 409);
  await timers.advance(0);
  assert.equal(queue.depth, 0);
  assert.deepEqual([...backing.rejected.keys()], [1, 2]);
  assert.match(backing.rejected.get(1).reason, /^HTTP 422: scripted 422/);
  assert.equal(uploader.counters.rejected, 2);
  assert.equal(service.stored().length, 1);
  uploader.stop();
  await run;
});

test("offline: no attempt until the browser is online again, then at once with a fresh backoff", async () => {
  let online = false;
  const { queue, service, timers, uploader, run } = await setup({ batches: 2, online: () => online });
  await timers.advance(10 * 60_000);
  assert.equal(uploader.state, "offline");
  assert.equal(service.requests.length, 0);
  online = true;
  uploader.wake({ reset: true });
  await timers.advance(0);
  assert.equal(queue.depth, 0);
  assert.equal(service.stored().length, 2);
  uploader.stop();
  await run;
});

test("a store that fails to delete an acknowledged batch: it stays queued and is replayed later", async () => {
  const { backing, queue, service, timers, uploader, run } = await setup({ batches: 1 });
  backing.failNext("ack", "disk I/O error");
  await timers.advance(0);
  assert.equal(queue.depth, 1);
  assert.match(uploader.counters.last_error, /phone storage: disk I\/O error/);
  await timers.advance(1000);
  assert.equal(queue.depth, 0);
  assert.deepEqual(service.requests.map((r) => r.outcome), ["stored", "replayed"]);
  uploader.stop();
  await run;
  await settle();
});
