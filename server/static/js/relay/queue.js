// The phone relay's durable queue (hardware/PROTOCOL.md §6), the same design as the reference relay's
// (firmware_bridge/relay.py RelayQueue) on an injected key-value store instead of a folder:
//
//   add() ──memory──▶ flush() ──▶ open chunks (durable) ──seal()──▶ batch (a whole capture, durable) ──ack()──▶ gone
//
// Records (packets as received, commands as sent) are kept in memory and written to the store as one chunk per
// flush (the batcher flushes every second: a killed page loses at most that); seal() turns the open chunks into one
// batch, a whole capture with its Idempotency-Key, in one atomic store operation. A batch leaves the store only
// after a 2xx (ack) or a refusal for good (reject, kept aside with the reason). Opening the queue again (the page
// reloaded, the phone restarted) seals what was left open, and every sealed batch is sent again with the same key
// (the key is the SHA-256 of the body, so nothing about keys needs to be remembered).
//
// The store interface (idb_store.js on IndexedDB; the tests' memory store):
//   load() → {meta, chunks: [{id, bytes, records}], batches: [{seq, key, records, bytes, sealedWallMs}]}
//   appendChunk({bytes, records}, meta) → id          atomic: the chunk and the meta
//   seal({batch, body, chunkIds, meta})               atomic: the batch and its body in, the chunks out, the meta
//   body(seq) → Uint8Array
//   ack(seq, meta), reject(seq, reason, meta)          atomic: the batch out (kept aside on reject), the meta
//   putMeta(meta)

import { SOURCE, concat, encodeHeader, encodeRecord } from "./capture.js";
import { PLACEMENTS } from "./protocol.js";

export const QUEUE_FORMAT = "fusiongait.web-relay-queue/1";

/** The Idempotency-Key of a body: "sha256-" and the hex SHA-256 (digest: async (Uint8Array) → ArrayBuffer). */
export async function batchKey(body, digest) {
  const hash = new Uint8Array(await digest(body));
  return `sha256-${Array.from(hash, (b) => b.toString(16).padStart(2, "0")).join("")}`;
}

/** SHA-256 with the Web Crypto API (browsers in a secure context, Node ≥ 19). */
export function webDigest(body) {
  return globalThis.crypto.subtle.digest("SHA-256", body);
}

export class QueueError extends Error {
  constructor(message) {
    super(message);
    this.name = "QueueError";
  }
}

function newCounters() {
  return {
    sealed: 0,
    acknowledged: 0,
    replayed: 0, // acknowledged batches the server had already stored (a re-send)
    rejected: 0,
    stored_records: 0,
    duplicate_records: 0,
    received: {}, // packets received per sensor id (commands not counted)
    damaged: 0, // notifications that were not one valid packet (queued as received; the server lists them)
    last_ack_wall_ms: null,
  };
}

export class RelayQueue {
  /**
   * Open (or create) the queue in `store` for `sessionId`, sealing what a crash left open.
   * Options: digest (SHA-256, default Web Crypto), wallMs (() → ms), relayId (for a new queue), recorder (the
   * header's recorded_by).
   */
  static async open(store, { sessionId, digest = webDigest, wallMs = () => Date.now(), relayId, recorder = "fusiongait web relay" } = {}) {
    if (!sessionId) throw new QueueError("sessionId: expected the server's session id");
    const loaded = await store.load();
    let meta = loaded.meta;
    if (meta && meta.format !== QUEUE_FORMAT) throw new QueueError(`the stored queue is ${meta.format}, expected ${QUEUE_FORMAT}`);
    if (meta && meta.session_id !== sessionId) {
      throw new QueueError(`this phone's queue belongs to session ${meta.session_id}, not ${sessionId}`);
    }
    if (!meta) {
      meta = {
        format: QUEUE_FORMAT,
        session_id: sessionId,
        relay_id: relayId || randomHex(6),
        next_seq: 1,
        open: null,
        counters: newCounters(),
      };
    }
    meta.counters = { ...newCounters(), ...meta.counters };
    const queue = new RelayQueue(store, meta, { digest, wallMs, recorder });
    for (const b of loaded.batches) queue.pending.set(b.seq, b);
    queue.next = Math.max(meta.next_seq, ...loaded.batches.map((b) => b.seq + 1));
    queue.recoveredRecords = 0;
    if (loaded.chunks.length) {
      queue.chunks = loaded.chunks.map((c) => ({ id: c.id, bytes: c.bytes, records: c.records }));
      queue.open = meta.open || { opened_ns: "0", wall_ns: "0", sensor_ids: [] };
      queue.recoveredRecords = loaded.chunks.reduce((n, c) => n + c.records, 0);
      await queue.seal();
    } else if (meta.open) {
      meta.open = null; // begun, nothing written: no batch
      await store.putMeta(queue.snapshot());
    } else if (!loaded.meta) {
      await store.putMeta(queue.snapshot());
    }
    return queue;
  }

  constructor(store, meta, { digest, wallMs, recorder }) {
    this.store = store;
    this.meta = meta;
    this.digest = digest;
    this.wallMs = wallMs;
    this.recorder = recorder;
    this.pending = new Map(); // seq → {seq, key, records, bytes, sealedWallMs}
    this.next = meta.next_seq;
    this.open = null; // {opened_ns, wall_ns, sensor_ids} of the batch being filled
    this.chunks = []; // [{id, bytes, records}] of the open batch, durable
    this.memory = []; // encoded records not yet flushed
    this.memoryBytes = 0;
    this.sensorIds = new Set();
    this.chain = Promise.resolve(); // store writes, one at a time, in order
    this.onSeal = null;
  }

  get sessionId() {
    return this.meta.session_id;
  }

  get counters() {
    return this.meta.counters;
  }

  /** The meta to store (a copy). */
  snapshot() {
    const open = this.open ? { ...this.open, sensor_ids: [...this.sensorIds].sort((a, b) => a - b) } : null;
    return structuredCloneSafe({ ...this.meta, next_seq: this.next, open });
  }

  // ------------------------------------------------------------------------------------------ the open batch
  /** Whether a batch is being filled. */
  get isOpen() {
    return this.open !== null;
  }

  /** Records in the open batch (durable or still in memory). */
  get openRecords() {
    return this.chunks.reduce((n, c) => n + c.records, 0) + this.memory.length;
  }

  get openBytes() {
    return this.chunks.reduce((n, c) => n + c.bytes.length, 0) + this.memoryBytes;
  }

  /** Start a batch at host time `openedNs` (BigInt) with the wall clock `wallNs` (BigInt) beside it. */
  begin(openedNs, wallNs) {
    if (this.open) throw new QueueError("a batch is already open; seal it first");
    this.open = { opened_ns: String(openedNs), wall_ns: String(wallNs) };
    this.sensorIds = new Set();
  }

  /** One record into the open batch (in memory until the next flush). */
  append(tHostNs, source, sensorId, bytes) {
    if (!this.open) throw new QueueError("no batch is open; call begin() first");
    const record = encodeRecord(tHostNs, source, sensorId, bytes);
    this.memory.push(record);
    this.memoryBytes += record.length;
    this.sensorIds.add(sensorId);
    if (source !== SOURCE.HOST_COMMAND) {
      const r = this.meta.counters.received;
      r[sensorId] = (r[sensorId] || 0) + 1;
    }
  }

  /** Write what is in memory to the store as one chunk (resolves when it is durable). */
  flush() {
    return this.enqueue(() => this.flushNow());
  }

  async flushNow() {
    if (!this.memory.length) return;
    const records = this.memory;
    this.memory = [];
    this.memoryBytes = 0;
    const chunk = { bytes: concat(records), records: records.length };
    try {
      const id = await this.store.appendChunk(chunk, this.snapshot());
      this.chunks.push({ id, ...chunk });
    } catch (err) {
      this.memory = [...records, ...this.memory]; // not written: keep it for the next flush
      this.memoryBytes = this.memory.reduce((n, r) => n + r.length, 0);
      throw err;
    }
  }

  /** Flush, then close the open batch and queue it under the next number (null when it held nothing). */
  seal() {
    return this.enqueue(async () => {
      await this.flushNow();
      return this.sealNow();
    });
  }

  async sealNow() {
    const open = this.open;
    const chunks = this.chunks;
    const ids = [...this.sensorIds, ...(open?.sensor_ids || [])];
    this.open = null;
    this.chunks = [];
    this.sensorIds = new Set();
    if (!chunks.length) {
      if (open) await this.store.putMeta(this.snapshot());
      return null;
    }
    const seq = this.next;
    const header = {
      format: "fusiongait.imucap",
      format_version: 1,
      sensors: [...new Set(ids)].sort((a, b) => a - b).map((id) => this.sensorEntry(id)),
      subject_id: "",
      session_id: this.meta.session_id,
      recorded_by: this.recorder,
      relay_id: this.meta.relay_id,
      batch_seq: seq,
    };
    const body = concat([encodeHeader(header, [[BigInt(open.wall_ns), BigInt(open.opened_ns)]]), ...chunks.map((c) => c.bytes)]);
    const key = await batchKey(body, this.digest);
    const batch = { seq, key, records: chunks.reduce((n, c) => n + c.records, 0), bytes: body.length, sealedWallMs: this.wallMs() };
    this.next = seq + 1;
    this.meta.counters.sealed += 1;
    try {
      await this.store.seal({ batch, body, chunkIds: chunks.map((c) => c.id), meta: this.snapshot() });
    } catch (err) {
      // not sealed: the chunks stay open (they are still in the store) and are sealed next time
      this.next = seq;
      this.meta.counters.sealed -= 1;
      this.chunks = [...chunks, ...this.chunks];
      this.open = this.open || open;
      for (const id of ids) this.sensorIds.add(id);
      throw err;
    }
    this.pending.set(seq, batch);
    if (this.onSeal) this.onSeal(batch);
    return batch;
  }

  /** The header entry of a sensor id (placements of PROTOCOL.md §1; device details when known). */
  sensorEntry(id) {
    const known = (this.meta.sensors || {})[id] || {};
    return {
      id,
      placement: PLACEMENTS[id] || `sensor_${id}`,
      device: known.device || "",
      firmware: known.firmware || "",
      rate_hz: known.rate_hz ?? null,
      acc_range_g: known.acc_range_g ?? null,
      gyr_range_dps: known.gyr_range_dps ?? null,
      address: known.address || "",
    };
  }

  /** Remember what is known about a sensor (its name, firmware, rate), for the next batches' headers. */
  describeSensor(id, details) {
    this.meta.sensors = { ...(this.meta.sensors || {}), [id]: { ...((this.meta.sensors || {})[id] || {}), ...details } };
  }

  countDamaged(n = 1) {
    this.meta.counters.damaged += n;
  }

  // ------------------------------------------------------------------------------------------ sealed batches
  /** Sealed batches waiting for a 2xx, oldest first. */
  batches() {
    return [...this.pending.values()].sort((a, b) => a.seq - b.seq);
  }

  oldest() {
    let best = null;
    for (const b of this.pending.values()) if (!best || b.seq < best.seq) best = b;
    return best;
  }

  get depth() {
    return this.pending.size;
  }

  get pendingBytes() {
    let n = 0;
    for (const b of this.pending.values()) n += b.bytes;
    return n;
  }

  body(batch) {
    return this.store.body(batch.seq);
  }

  /** The server stored `batch` (a 2xx with `answer`): delete it. */
  ack(batch, answer = {}) {
    return this.enqueue(async () => {
      if (!this.pending.has(batch.seq)) return;
      const c = this.meta.counters;
      const before = { ...c };
      c.acknowledged += 1;
      if (answer.replayed) c.replayed += 1;
      else {
        c.stored_records += Number(answer.stored) || 0;
        c.duplicate_records += Number(answer.duplicates) || 0;
      }
      c.last_ack_wall_ms = this.wallMs();
      try {
        await this.store.ack(batch.seq, this.snapshot());
      } catch (err) {
        this.meta.counters = { ...before, received: c.received, damaged: c.damaged };
        throw err;
      }
      this.pending.delete(batch.seq);
    });
  }

  /** The server refused `batch` for good: keep it aside with the reason. */
  reject(batch, reason) {
    return this.enqueue(async () => {
      if (!this.pending.has(batch.seq)) return;
      this.meta.counters.rejected += 1;
      try {
        await this.store.reject(batch.seq, reason, this.snapshot());
      } catch (err) {
        this.meta.counters.rejected -= 1;
        throw err;
      }
      this.pending.delete(batch.seq);
    });
  }

  /** Store the meta alone (counters, sensors, the walking estimate). */
  saveMeta() {
    return this.enqueue(() => this.store.putMeta(this.snapshot()));
  }

  enqueue(task) {
    const run = this.chain.then(task);
    this.chain = run.catch(() => {});
    return run;
  }
}

function randomHex(bytes) {
  const a = new Uint8Array(bytes);
  globalThis.crypto.getRandomValues(a);
  return Array.from(a, (b) => b.toString(16).padStart(2, "0")).join("");
}

function structuredCloneSafe(obj) {
  return JSON.parse(JSON.stringify(obj));
}
