// The durable queue and the batcher on the memory store: batches are whole captures keyed by their SHA-256, a
// killed app loses nothing that was flushed and seals it at the next start, and a failed store write loses nothing.

import { test } from "node:test";
import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { RelayQueue, QueueError } from "../../server/static/js/relay/queue.js";
import { Batcher } from "../../server/static/js/relay/batcher.js";
import { SOURCE, parseCapture } from "../../server/static/js/relay/capture.js";
import { COMMAND, encodeCommand } from "../../server/static/js/relay/protocol.js";
import { Backing } from "./helpers/memory_store.js";
import { hex, imu } from "./helpers/packets.js";

const SID = "sess01";

function clock() {
  let ms = 1_000;
  return { nowMs: () => ms, advance: (d) => (ms += d), clockNs: () => BigInt(ms) * 1_000_000n, wallNs: () => BigInt(ms) * 1_000_000n + 7n };
}

function chunkRecords(backing) {
  return [...backing.chunks.values()].reduce((n, c) => n + c.records, 0);
}

async function records(backing, seq) {
  return parseCapture(backing.bodies.get(seq)).records;
}

test("a batch is a whole capture of the records in arrival order, its key the SHA-256 of its bytes", async () => {
  const backing = new Backing();
  const q = await RelayQueue.open(backing.connect(), { sessionId: SID, relayId: "r1" });
  const c = clock();
  const b = new Batcher(q, { batchMs: 10_000, flushMs: 1_000, ...c });
  b.add(c.clockNs(), SOURCE.HOST_COMMAND, 0, encodeCommand(COMMAND.START));
  for (let k = 0; k < 3; k++) b.add(c.clockNs() + BigInt(k), SOURCE.BLE, 0, imu(0, k));
  b.add(c.clockNs(), SOURCE.BLE, 2, imu(2, 0));
  assert.equal(q.openRecords, 5);
  const batch = await b.cut();
  assert.equal(batch.seq, 1);
  assert.equal(batch.records, 5);
  const body = backing.bodies.get(1);
  assert.equal(batch.key, `sha256-${createHash("sha256").update(body).digest("hex")}`);
  assert.equal(batch.bytes, body.length);
  const cap = parseCapture(body);
  assert.equal(cap.header.session_id, SID);
  assert.equal(cap.header.relay_id, "r1");
  assert.equal(cap.header.batch_seq, 1);
  assert.deepEqual(cap.header.sensors.map((s) => [s.id, s.placement]), [[0, "pelvis"], [2, "right_thigh"]]);
  assert.deepEqual(cap.records.map((r) => r.source), [3, 2, 2, 2, 2]); // the command as source 3, packets as 2
  assert.deepEqual(cap.records.slice(1, 4).map((r) => hex(r.bytes)), [0, 1, 2].map((k) => hex(imu(0, k))));
  assert.equal(q.depth, 1);
  assert.equal(await b.cut(), null); // nothing open: no batch
});

test("batches are sealed by age and by size, flushed every flushMs, and a quiet time makes no batch", async () => {
  const backing = new Backing();
  const q = await RelayQueue.open(backing.connect(), { sessionId: SID });
  const c = clock();
  const b = new Batcher(q, { batchMs: 10_000, flushMs: 1_000, maxBatchBytes: 100_000, ...c });
  b.add(c.clockNs(), SOURCE.BLE, 0, imu(0, 0));
  await b.tick();
  assert.equal(backing.chunks.size, 0, "not flushed before flushMs");
  c.advance(1_000);
  await b.tick();
  assert.equal(backing.chunks.size, 1, "flushed after flushMs");
  b.add(c.clockNs(), SOURCE.BLE, 0, imu(0, 1));
  c.advance(9_000);
  await b.tick();
  assert.equal(q.depth, 1, "sealed at batchMs");
  assert.equal(backing.chunks.size, 0, "the chunks went into the batch");
  assert.equal((await records(backing, 1)).length, 2);
  c.advance(60_000);
  await b.tick();
  assert.equal(q.depth, 1, "no record, no batch");
  for (let k = 0; k < 1500; k++) b.add(c.clockNs(), SOURCE.BLE, 1, imu(1, k)); // 1500 × 88 B > 100 kB
  await q.chain;
  assert.equal(q.depth, 2, "sealed by size");
});

test("a killed app loses nothing flushed: the next start seals the open chunks with their header", async () => {
  const backing = new Backing();
  const store1 = backing.connect();
  const q1 = await RelayQueue.open(store1, { sessionId: SID, relayId: "r1" });
  const c = clock();
  const b1 = new Batcher(q1, { flushMs: 0, ...c }); // flushed at every record
  for (let k = 0; k < 4; k++) b1.add(c.clockNs(), SOURCE.BLE, 1, imu(1, k));
  await q1.chain;
  store1.kill(); // the page is gone; nothing sealed
  assert.equal(backing.batches.size, 0);
  assert.equal(chunkRecords(backing), 4, "every record is in a durable chunk");

  const q2 = await RelayQueue.open(backing.connect(), { sessionId: SID });
  assert.equal(q2.recoveredRecords, 4);
  assert.equal(q2.depth, 1);
  assert.equal(backing.chunks.size, 0);
  const cap = parseCapture(backing.bodies.get(1));
  assert.equal(cap.header.relay_id, "r1");
  assert.deepEqual(cap.header.sensors.map((s) => s.placement), ["left_thigh"]);
  assert.deepEqual(cap.records.map((r) => hex(r.bytes)), [0, 1, 2, 3].map((k) => hex(imu(1, k))));
  assert.equal(cap.header.clock_pairs.length, 1);

  // a queue belongs to one session
  await assert.rejects(RelayQueue.open(backing.connect(), { sessionId: "another" }), QueueError);
  // the next batch gets the next number
  const q3 = await RelayQueue.open(backing.connect(), { sessionId: SID });
  const b3 = new Batcher(q3, clock());
  b3.add(1n, SOURCE.BLE, 0, imu(0, 9));
  assert.equal((await b3.cut()).seq, 2);
});

test("a failed store write keeps the records for the next flush, and a failed seal keeps the chunks open", async () => {
  const backing = new Backing();
  const q = await RelayQueue.open(backing.connect(), { sessionId: SID });
  const c = clock();
  const errors = [];
  const b = new Batcher(q, { flushMs: 0, onError: (e) => errors.push(e.message), ...c });
  backing.failNext("appendChunk", "QuotaExceededError");
  b.add(c.clockNs(), SOURCE.BLE, 0, imu(0, 0));
  await q.chain;
  assert.deepEqual(errors, ["QuotaExceededError"]);
  assert.equal(backing.chunks.size, 0);
  b.add(c.clockNs(), SOURCE.BLE, 0, imu(0, 1));
  await q.chain;
  assert.equal(q.openRecords, 2);
  backing.failNext("seal");
  assert.equal(await b.cut().catch(() => "failed"), "failed");
  assert.equal(q.depth, 0);
  assert.equal(chunkRecords(backing), 2, "the chunks are still in the store");
  const batch = await b.cut();
  assert.equal(batch.seq, 1);
  assert.deepEqual((await records(backing, 1)).map((r) => hex(r.bytes)), [hex(imu(0, 0)), hex(imu(0, 1))]);
});

test("ack deletes a batch and counts what the server said; reject keeps it aside with the reason", async () => {
  const backing = new Backing();
  const q = await RelayQueue.open(backing.connect(), { sessionId: SID, wallMs: () => 42 });
  const b = new Batcher(q, clock());
  b.add(1n, SOURCE.BLE, 0, imu(0, 0));
  const one = await b.cut();
  b.add(2n, SOURCE.BLE, 0, imu(0, 1));
  const two = await b.cut();
  assert.deepEqual(q.batches().map((x) => x.seq), [1, 2]);
  assert.equal(q.oldest().seq, 1);
  await q.ack(one, { stored: 1, duplicates: 0, replayed: false });
  await q.reject(two, "HTTP 422: not a capture");
  assert.equal(q.depth, 0);
  assert.equal(backing.batches.size, 0);
  assert.equal(backing.rejected.get(2).reason, "HTTP 422: not a capture");
  assert.ok(backing.rejected.get(2).body.length > 0);
  const counters = backing.meta.counters;
  assert.equal(counters.acknowledged, 1);
  assert.equal(counters.stored_records, 1);
  assert.equal(counters.rejected, 1);
  assert.equal(counters.last_ack_wall_ms, 42);
  assert.deepEqual(counters.received, { 0: 2 });
});
