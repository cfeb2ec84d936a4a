// An in-memory store with the interface of server/static/js/relay/idb_store.js (described in queue.js), for the
// tests. The data live in a `Backing` that outlives the app: each app instance gets a `connect()`ion, and
// `kill()`ing a connection makes every later call on it fail as if the page were gone (a call already made
// completes or not, all or nothing, like an IndexedDB transaction). Faults can be injected per method.

const copy = (bytes) => new Uint8Array(bytes);
const clone = (obj) => (obj === null || obj === undefined ? obj : JSON.parse(JSON.stringify(obj)));

export class Backing {
  constructor() {
    this.meta = null;
    this.chunks = new Map();
    this.nextChunkId = 1;
    this.batches = new Map();
    this.bodies = new Map();
    this.rejected = new Map();
    this.faults = []; // [{method, error}] applied once each, in order
    this.calls = [];
  }

  connect() {
    return new MemoryStore(this);
  }

  /** The next call of `method` fails with `message` (nothing changes). */
  failNext(method, message = `injected ${method} failure`) {
    this.faults.push({ method, message });
  }
}

export class MemoryStore {
  constructor(backing) {
    this.b = backing;
    this.dead = false;
  }

  kill() {
    this.dead = true;
  }

  async op(method, fn) {
    await Promise.resolve(); // asynchronous, like IndexedDB
    if (this.dead) return new Promise(() => {}); // the page is gone: the call never returns
    this.b.calls.push(method);
    const i = this.b.faults.findIndex((f) => f.method === method);
    if (i >= 0) {
      const [fault] = this.b.faults.splice(i, 1);
      throw new Error(fault.message);
    }
    return fn();
  }

  load() {
    return this.op("load", () => ({
      meta: clone(this.b.meta),
      chunks: [...this.b.chunks.entries()].sort((x, y) => x[0] - y[0]).map(([id, c]) => ({ id, bytes: copy(c.bytes), records: c.records })),
      batches: [...this.b.batches.values()].map(clone).sort((x, y) => x.seq - y.seq),
    }));
  }

  appendChunk(chunk, meta) {
    return this.op("appendChunk", () => {
      const id = this.b.nextChunkId++;
      this.b.chunks.set(id, { bytes: copy(chunk.bytes), records: chunk.records });
      this.b.meta = clone(meta);
      return id;
    });
  }

  seal({ batch, body, chunkIds, meta }) {
    return this.op("seal", () => {
      this.b.batches.set(batch.seq, clone(batch));
      this.b.bodies.set(batch.seq, copy(body));
      for (const id of chunkIds) this.b.chunks.delete(id);
      this.b.meta = clone(meta);
    });
  }

  body(seq) {
    return this.op("body", () => {
      const body = this.b.bodies.get(seq);
      if (!body) throw new Error(`no body for batch ${seq}`);
      return copy(body);
    });
  }

  ack(seq, meta) {
    return this.op("ack", () => {
      this.b.batches.delete(seq);
      this.b.bodies.delete(seq);
      this.b.meta = clone(meta);
    });
  }

  reject(seq, reason, meta) {
    return this.op("reject", () => {
      this.b.rejected.set(seq, { ...clone(this.b.batches.get(seq)), reason, body: copy(this.b.bodies.get(seq)) });
      this.b.batches.delete(seq);
      this.b.bodies.delete(seq);
      this.b.meta = clone(meta);
    });
  }

  putMeta(meta) {
    return this.op("putMeta", () => {
      this.b.meta = clone(meta);
    });
  }
}
