// The queue's store on IndexedDB (the interface is described in queue.js). Every change is one readwrite
// transaction with durability "strict" (committed to disk before it completes), so a page killed at any point leaves
// either the state before the change or the state after it.
//
// Object stores: meta ("state": the queue; "enrolment": the session and relay token), chunks (the open batch,
// auto-increment keys), batches (sealed batches' metadata, key seq), bodies (their bytes, key seq), rejected (batches
// the server refused for good, with the reason and the bytes).

export const DB_NAME = "fusiongait-relay";
const VERSION = 1;
const STRICT = { durability: "strict" };

function done(request) {
  return new Promise((resolve, reject) => {
    request.onsuccess = () => resolve(request.result);
    request.onerror = () => reject(request.error);
  });
}

function finished(tx) {
  return new Promise((resolve, reject) => {
    tx.oncomplete = () => resolve();
    tx.onerror = () => reject(tx.error);
    tx.onabort = () => reject(tx.error || new Error("IndexedDB transaction aborted"));
  });
}

function bytesOf(value) {
  if (value instanceof Uint8Array) return value;
  if (value instanceof ArrayBuffer) return new Uint8Array(value);
  throw new Error("IndexedDB: stored bytes are missing");
}

export class IdbStore {
  /** Open the database (indexedDB injected: the page passes window.indexedDB). */
  static async open(indexedDB, name = DB_NAME) {
    const request = indexedDB.open(name, VERSION);
    request.onupgradeneeded = () => {
      const db = request.result;
      for (const store of ["meta", "bodies"]) if (!db.objectStoreNames.contains(store)) db.createObjectStore(store);
      if (!db.objectStoreNames.contains("chunks")) db.createObjectStore("chunks", { autoIncrement: true });
      if (!db.objectStoreNames.contains("batches")) db.createObjectStore("batches", { keyPath: "seq" });
      if (!db.objectStoreNames.contains("rejected")) db.createObjectStore("rejected", { keyPath: "seq" });
    };
    const db = await done(request);
    return new IdbStore(db);
  }

  constructor(db) {
    this.db = db;
  }

  close() {
    this.db.close();
  }

  tx(stores, mode = "readwrite") {
    return this.db.transaction(stores, mode, mode === "readwrite" ? STRICT : undefined);
  }

  async load() {
    const tx = this.tx(["meta", "chunks", "batches"], "readonly");
    const meta = done(tx.objectStore("meta").get("state"));
    const keys = done(tx.objectStore("chunks").getAllKeys());
    const values = done(tx.objectStore("chunks").getAll());
    const batches = done(tx.objectStore("batches").getAll());
    const [m, k, v, b] = await Promise.all([meta, keys, values, batches]);
    return {
      meta: m ?? null,
      chunks: k.map((id, i) => ({ id, bytes: bytesOf(v[i].bytes), records: v[i].records })),
      batches: b.sort((x, y) => x.seq - y.seq),
    };
  }

  async appendChunk(chunk, meta) {
    const tx = this.tx(["chunks", "meta"]);
    const id = done(tx.objectStore("chunks").add({ bytes: chunk.bytes, records: chunk.records }));
    tx.objectStore("meta").put(meta, "state");
    await finished(tx);
    return id;
  }

  async seal({ batch, body, chunkIds, meta }) {
    const tx = this.tx(["chunks", "batches", "bodies", "meta"]);
    tx.objectStore("batches").put(batch);
    tx.objectStore("bodies").put(body, batch.seq);
    for (const id of chunkIds) tx.objectStore("chunks").delete(id);
    tx.objectStore("meta").put(meta, "state");
    await finished(tx);
  }

  async body(seq) {
    const tx = this.tx(["bodies"], "readonly");
    return bytesOf(await done(tx.objectStore("bodies").get(seq)));
  }

  async ack(seq, meta) {
    const tx = this.tx(["batches", "bodies", "meta"]);
    tx.objectStore("batches").delete(seq);
    tx.objectStore("bodies").delete(seq);
    tx.objectStore("meta").put(meta, "state");
    await finished(tx);
  }

  async reject(seq, reason, meta) {
    const tx = this.tx(["batches", "bodies", "rejected", "meta"]);
    const batch = await done(tx.objectStore("batches").get(seq));
    const body = await done(tx.objectStore("bodies").get(seq));
    tx.objectStore("rejected").put({ ...batch, seq, reason, body });
    tx.objectStore("batches").delete(seq);
    tx.objectStore("bodies").delete(seq);
    tx.objectStore("meta").put(meta, "state");
    await finished(tx);
  }

  async putMeta(meta) {
    const tx = this.tx(["meta"]);
    tx.objectStore("meta").put(meta, "state");
    await finished(tx);
  }

  async rejectedCount() {
    const tx = this.tx(["rejected"], "readonly");
    return done(tx.objectStore("rejected").count());
  }

  // ------------------------------------------------------------------------------------------ enrolment
  async getEnrolment() {
    const tx = this.tx(["meta"], "readonly");
    return (await done(tx.objectStore("meta").get("enrolment"))) ?? null;
  }

  async putEnrolment(enrolment) {
    const tx = this.tx(["meta"]);
    tx.objectStore("meta").put(enrolment, "enrolment");
    await finished(tx);
  }

  /** Whether the stored queue holds anything not yet uploaded (batches or an open batch). */
  async holdsData() {
    const tx = this.tx(["batches", "chunks"], "readonly");
    const [b, c] = await Promise.all([done(tx.objectStore("batches").count()), done(tx.objectStore("chunks").count())]);
    return b + c > 0;
  }

  /** Forget the queue's state (only when it holds nothing): a new enrolment for another session starts afresh. */
  async resetQueue() {
    const tx = this.tx(["meta"]);
    tx.objectStore("meta").delete("state");
    await finished(tx);
  }
}
