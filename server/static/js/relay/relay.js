// The phone relay, put together: sensors (sensors.js) → batcher → durable queue → uploader, plus the walking
// estimate and one status object for the page. Every platform piece is passed in (the store, fetch, Bluetooth,
// clocks, timers, whether the browser is online), so the tests run it whole in Node against fakes.

import { Batcher } from "./batcher.js";
import { PLACEMENTS } from "./protocol.js";
import { RelayQueue } from "./queue.js";
import { SensorLink, requestSensor } from "./sensors.js";
import { Uploader } from "./uploader.js";
import { WalkingEstimate, localDate } from "./activity.js";

const TICK_MS = 250;

/** The host clock of the records, in ns (BigInt): the page's time origin plus its monotonic clock. */
export function pageClockNs() {
  return BigInt(Math.round((performance.timeOrigin + performance.now()) * 1000)) * 1000n;
}

export class Relay {
  /**
   * Options: store, sessionId, token (() → relay token), fetch, bluetooth, baseUrl, clockNs, wallMs, nowMs,
   * random, sleep, timers, isOnline, batchMs, flushMs, maxBatchBytes, syncPeriodMs, watchdogMs, backoff,
   * onChange (the status changed), onError (a store write failed).
   */
  static async start(opts) {
    const queue = await RelayQueue.open(opts.store, { sessionId: opts.sessionId, wallMs: opts.wallMs, digest: opts.digest });
    return new Relay(queue, opts);
  }

  constructor(queue, opts) {
    this.opts = opts;
    this.queue = queue;
    this.wallMs = opts.wallMs || (() => Date.now());
    this.clockNs = opts.clockNs || pageClockNs;
    this.timers = opts.timers || { setTimeout: (f, ms) => setTimeout(f, ms), clearTimeout: (t) => clearTimeout(t), setInterval: (f, ms) => setInterval(f, ms), clearInterval: (t) => clearInterval(t) };
    this.onChange = opts.onChange || (() => {});
    this.errors = [];
    this.links = [];
    this.activity = new WalkingEstimate(queue.meta.activity);
    this.batcher = new Batcher(queue, {
      batchMs: opts.batchMs,
      flushMs: opts.flushMs,
      maxBatchBytes: opts.maxBatchBytes,
      clockNs: this.clockNs,
      wallNs: () => BigInt(Math.round(this.wallMs())) * 1_000_000n,
      nowMs: opts.nowMs || (() => Date.now()),
      onError: (err) => this.storeError(err),
    });
    this.uploader = new Uploader(queue, {
      fetch: opts.fetch,
      token: opts.token,
      baseUrl: opts.baseUrl || "",
      sleep: opts.sleep || ((ms) => new Promise((resolve) => this.timers.setTimeout(resolve, ms))),
      random: opts.random,
      wallMs: this.wallMs,
      isOnline: opts.isOnline,
      backoff: opts.backoff,
      timers: this.timers,
      onChange: () => this.onChange(this),
    });
    queue.onSeal = () => this.uploader.wake();
    this.uploading = this.uploader.run().catch((err) => this.storeError(err));
    this.ticker = this.timers.setInterval(() => this.tick(), TICK_MS);
  }

  storeError(err) {
    this.errors.push(`phone storage: ${err && err.message}`);
    this.errors.splice(0, this.errors.length - 5);
    this.onChange(this);
  }

  tick() {
    this.queue.meta.activity = this.activity.toJSON(); // written with the next flush
    return this.batcher.tick();
  }

  /** Ask the patient to choose a sensor (needs a user gesture) and connect to it. */
  async connectSensor() {
    const device = await requestSensor(this.opts.bluetooth);
    return this.addDevice(device);
  }

  /** Reconnect to the sensors this site may already use (Chrome's getDevices, where it is available). */
  async reconnectKnown() {
    const bt = this.opts.bluetooth;
    if (!bt || typeof bt.getDevices !== "function") return [];
    let devices = [];
    try {
      devices = await bt.getDevices();
    } catch {
      return [];
    }
    return Promise.all(devices.map((d) => this.addDevice(d)));
  }

  async addDevice(device) {
    const existing = this.links.find((l) => l.device === device || (device.id && l.device.id === device.id));
    if (existing && existing.state !== "failed" && existing.state !== "stopped") return existing;
    if (existing) this.links.splice(this.links.indexOf(existing), 1);
    const link = new SensorLink(device, {
      clockNs: this.clockNs,
      wallMs: this.wallMs,
      onRecord: (t, source, sensorId, bytes) => this.batcher.add(t, source, sensorId, bytes),
      onPacket: (bytes, info, wallMs) => this.activity.add(bytes, info, wallMs),
      onDamaged: () => this.queue.countDamaged(),
      claim: (sensorId, self) => {
        const other = this.links.find((l) => l !== self && l.sensorId === sensorId && l.state !== "failed" && l.state !== "stopped");
        if (other) return `two sensors say they are the ${PLACEMENTS[sensorId].replace("_", " ")} sensor (${other.name} and ${self.name})`;
        this.queue.describeSensor(sensorId, { device: device.name || "", address: device.id || "" });
        return "";
      },
      onChange: () => this.onChange(this),
      syncPeriodMs: this.opts.syncPeriodMs,
      watchdogMs: this.opts.watchdogMs,
      random: this.opts.random,
      timers: this.timers,
    });
    this.links.push(link);
    this.onChange(this);
    await link.start();
    return link;
  }

  /** Everything the page shows. */
  status() {
    const q = this.queue;
    const up = this.uploader.counters;
    const sensors = PLACEMENTS.map((placement, id) => {
      const link = this.links.find((l) => l.sensorId === id && l.state !== "stopped");
      return link
        ? { placement, id, state: link.state, name: link.name, battery: link.battery, packets: link.packets, lastPacketWallMs: link.lastPacketWallMs, error: link.error }
        : { placement, id, state: "absent", name: "", battery: null, packets: 0, lastPacketWallMs: null, error: "" };
    });
    const unidentified = this.links.filter((l) => l.sensorId === null && l.state !== "stopped").map((l) => ({ name: l.name, state: l.state, error: l.error }));
    return {
      sessionId: q.sessionId,
      sensors,
      unidentified,
      walkingTodayS: this.activity.secondsOn(localDate(this.wallMs())),
      lastUploadWallMs: up.last_upload_wall_ms ?? q.counters.last_ack_wall_ms,
      queuedBatches: q.depth,
      queuedBytes: q.pendingBytes,
      openRecords: q.openRecords,
      upload: this.uploader.state,
      retryInMs: up.retry_in_ms,
      lastError: up.last_error,
      counters: { ...q.counters },
      errors: [...this.errors],
    };
  }

  /** Stop the sensors (STOP) and queue the open batch; uploads go on. */
  async stopSensors() {
    await Promise.all(this.links.map((l) => l.stop()));
    this.links = [];
    this.queue.meta.activity = this.activity.toJSON();
    await this.batcher.guard(this.batcher.cut());
    this.onChange(this);
  }

  /** Stop everything: the sensors, the batcher's timer and the uploader (what is left stays queued). */
  async stop() {
    await this.stopSensors();
    this.timers.clearInterval(this.ticker);
    this.uploader.stop();
    await this.uploading;
  }
}
