// Cut the stream of records into batches (firmware_bridge/relay.py Batcher): each record goes into the queue's open
// batch at once, packets as source 2 (relay) and the commands the relay sent (START, sync pings, STOP) as source 3,
// so the server can redo the clock sync. The open batch is flushed to the store every `flushMs` and sealed when
// `batchMs` has passed since its first record, or when it grows past `maxBatchBytes`. A time with no record makes
// no batch. tick() is called by a timer (the page: every 250 ms).

import { SOURCE } from "./capture.js";

export const DEFAULTS = Object.freeze({ batchMs: 10_000, flushMs: 1_000, maxBatchBytes: 1 << 20 });

export class Batcher {
  /**
   * queue: RelayQueue. Options: batchMs, flushMs, maxBatchBytes; clockNs (() → BigInt host ns, the records'
   * clock), wallNs (() → BigInt wall-clock ns), nowMs (() → ms, for the timing), onError (a failed store write).
   */
  constructor(queue, { batchMs, flushMs, maxBatchBytes, clockNs, wallNs, nowMs = () => Date.now(), onError = () => {} } = {}) {
    this.queue = queue;
    this.batchMs = batchMs ?? DEFAULTS.batchMs;
    this.flushMs = flushMs ?? DEFAULTS.flushMs;
    this.maxBatchBytes = maxBatchBytes ?? DEFAULTS.maxBatchBytes;
    if (!(this.batchMs > 0) || !(this.flushMs >= 0) || !(this.maxBatchBytes > 0)) throw new RangeError("Batcher: bad timing");
    this.clockNs = clockNs;
    this.wallNs = wallNs;
    this.nowMs = nowMs;
    this.onError = onError;
    this.openedMs = 0;
    this.flushedMs = 0;
  }

  /** One record as it arrives: a packet (`source` BLE or RELAY: stored as RELAY) or a command the relay sent. */
  add(tHostNs, source, sensorId, bytes) {
    if (!this.queue.isOpen) {
      this.openedMs = this.nowMs();
      this.flushedMs = this.openedMs;
      this.queue.begin(this.clockNs(), this.wallNs());
    }
    const stored = source === SOURCE.HOST_COMMAND ? SOURCE.HOST_COMMAND : SOURCE.RELAY;
    this.queue.append(tHostNs, stored, sensorId, bytes);
    if (this.queue.openBytes >= this.maxBatchBytes) this.guard(this.cut());
    else if (this.flushMs === 0) this.guard(this.queue.flush());
  }

  /** Whether the open batch is `batchMs` old. */
  due() {
    return this.queue.isOpen && this.nowMs() - this.openedMs >= this.batchMs;
  }

  /** Seal the open batch if it is due, else flush it if the last flush is `flushMs` old. */
  tick() {
    if (this.due()) return this.guard(this.cut());
    if (this.queue.isOpen && this.nowMs() - this.flushedMs >= this.flushMs) {
      this.flushedMs = this.nowMs();
      return this.guard(this.queue.flush());
    }
    return Promise.resolve(null);
  }

  /** Seal the open batch now (on stop, or when it is full). */
  cut() {
    return this.queue.seal();
  }

  guard(promise) {
    return promise.catch((err) => {
      this.onError(err);
      return null;
    });
  }
}
