// One sensor over Web Bluetooth, kept streaming (firmware_bridge/supervisor.py, the same steps): connect, subscribe
// to the data characteristic, and only then write START (PROTOCOL.md §1: a notification sent before the subscription
// completes can be lost), a sync ping at once and then at random phases about once a second; on a disconnect or
// when no data came for `watchdogMs`, reconnect with backoff (the chosen device reconnects without asking the
// patient again). Every command is handed to onRecord as it is sent (host time first), every notification as it
// arrives, so the server can redo the clock sync.
//
// The link learns which sensor it is from the first valid packet (its sensor_id byte: 0 pelvis, 1 left thigh,
// 2 right thigh), so the patient need not know which sensor is which; records before that are held and then handed
// on with their own host times. The `device` is a Web Bluetooth BluetoothDevice (or the tests' fake).

import { COMMAND, COMMAND_UUID, DATA_UUID, PLACEMENTS, SERVICE_UUID, TYPE, encodeCommand, parsePacket } from "./protocol.js";
import { SOURCE } from "./capture.js";

export const LINK_BACKOFF = Object.freeze({ initialMs: 500, factor: 2, maxMs: 30_000, jitter: 0.5 });
const MAX_HELD = 500; // records held before the sensor said who it is

/** Ask the patient to choose a FusionGait sensor (needs a user gesture): a BluetoothDevice. */
export function requestSensor(bluetooth) {
  return bluetooth.requestDevice({ filters: [{ services: [SERVICE_UUID] }] });
}

export class SensorLink {
  /**
   * Options: clockNs (() → BigInt host ns), wallMs, onRecord(tHostNs, source, sensorId, bytes),
   * onPacket(bytes, info, wallMs) for each valid packet of this sensor, onDamaged(reason), claim(sensorId) → error
   * text or "" (another link already has that id), onChange(link), syncPeriodMs, watchdogMs, random, timers
   * ({setTimeout, clearTimeout}), backoff.
   */
  constructor(device, opts) {
    this.device = device;
    this.clockNs = opts.clockNs;
    this.wallMs = opts.wallMs || (() => Date.now());
    this.onRecord = opts.onRecord;
    this.onPacket = opts.onPacket || (() => {});
    this.onDamaged = opts.onDamaged || (() => {});
    this.claim = opts.claim || (() => "");
    this.onChange = opts.onChange || (() => {});
    this.syncPeriodMs = opts.syncPeriodMs ?? 1000;
    this.watchdogMs = opts.watchdogMs ?? 15_000;
    this.random = opts.random || Math.random;
    this.timers = opts.timers || { setTimeout: (f, ms) => setTimeout(f, ms), clearTimeout: (t) => clearTimeout(t) };
    this.backoff = opts.backoff || LINK_BACKOFF;
    this.state = "idle"; // idle | connecting | streaming | reconnecting | stopped | failed
    this.sensorId = null;
    this.error = "";
    this.battery = null; // percent, from status packets
    this.packets = 0;
    this.lastPacketWallMs = null;
    this.held = [];
    this.command = null;
    this.data = null;
    this.writes = Promise.resolve();
    this.pingTimer = null;
    this.watchdogTimer = null;
    this.retryTimer = null;
    this.attempt = 0;
    this.stopping = false;
    this.onValue = (event) => this.received(event.target.value);
    this.onGone = () => this.lost("the sensor disconnected");
    device.addEventListener("gattserverdisconnected", this.onGone);
  }

  get name() {
    return this.device.name || "sensor";
  }

  get placement() {
    return this.sensorId === null ? null : PLACEMENTS[this.sensorId];
  }

  setState(state, error = this.error) {
    this.state = state;
    this.error = error;
    this.onChange(this);
  }

  /** Connect and start streaming; on failure, keep trying with backoff. */
  async start() {
    this.stopping = false;
    try {
      await this.connect();
    } catch (err) {
      this.lost(`cannot connect: ${err && err.message}`);
    }
  }

  async connect() {
    this.setState(this.state === "reconnecting" ? "reconnecting" : "connecting");
    const server = await this.device.gatt.connect();
    const service = await server.getPrimaryService(SERVICE_UUID);
    this.data = await service.getCharacteristic(DATA_UUID);
    this.command = await service.getCharacteristic(COMMAND_UUID);
    this.data.removeEventListener("characteristicvaluechanged", this.onValue);
    this.data.addEventListener("characteristicvaluechanged", this.onValue);
    await this.data.startNotifications();
    if (this.stopping) return;
    await this.send(encodeCommand(COMMAND.START));
    await this.ping();
    this.attempt = 0;
    this.setState("streaming", "");
    this.schedulePing();
    this.feedWatchdog();
  }

  /** Write a command; it is recorded (host time) before it is sent. Writes never overlap (GATT allows one). */
  send(bytes) {
    this.record(this.clockNs(), SOURCE.HOST_COMMAND, bytes);
    const characteristic = this.command;
    const write = () =>
      characteristic.writeValueWithResponse ? characteristic.writeValueWithResponse(bytes) : characteristic.writeValue(bytes);
    const next = this.writes.then(write);
    this.writes = next.catch(() => {});
    return next;
  }

  ping() {
    const token = Math.floor(this.random() * 0x100000000) >>> 0;
    return this.send(encodeCommand(COMMAND.SYNC, token));
  }

  schedulePing() {
    if (this.syncPeriodMs <= 0) return;
    this.timers.clearTimeout(this.pingTimer);
    this.pingTimer = this.timers.setTimeout(() => {
      if (this.state !== "streaming") return;
      this.ping().catch((err) => this.lost(`a sync ping failed: ${err && err.message}`));
      this.schedulePing();
    }, this.syncPeriodMs * (0.5 + this.random()));
  }

  feedWatchdog() {
    if (this.watchdogMs <= 0) return;
    this.timers.clearTimeout(this.watchdogTimer);
    this.watchdogTimer = this.timers.setTimeout(() => {
      if (this.state !== "streaming") return;
      this.lost(`no data for ${Math.round(this.watchdogMs / 1000)} s`);
      try {
        this.device.gatt.disconnect();
      } catch {
        // already gone
      }
    }, this.watchdogMs);
  }

  /** A notification (a DataView). */
  received(value) {
    const t = this.clockNs();
    const bytes = new Uint8Array(value.buffer.slice(value.byteOffset, value.byteOffset + value.byteLength));
    const info = parsePacket(bytes);
    if (this.state === "streaming") this.feedWatchdog();
    if (this.sensorId === null) {
      if (!info.ok) {
        this.onDamaged(info.reason);
        if (this.held.length < MAX_HELD) this.held.push([t, SOURCE.BLE, bytes]);
        return;
      }
      if (info.sensorId >= PLACEMENTS.length) {
        this.fail(`this sensor says it is sensor ${info.sensorId}; expected 0 (lower back), 1 (left thigh) or 2 (right thigh)`);
        return;
      }
      const refused = this.claim(info.sensorId, this);
      if (refused) {
        this.fail(refused);
        return;
      }
      this.sensorId = info.sensorId;
      const held = this.held;
      this.held = [];
      for (const [tn, source, b] of held) this.onRecord(tn, source, this.sensorId, b);
      this.onChange(this);
    }
    this.onRecord(t, SOURCE.BLE, this.sensorId, bytes);
    if (!info.ok) {
      this.onDamaged(info.reason);
      return;
    }
    if (info.sensorId !== this.sensorId) {
      this.onDamaged(`a packet of sensor ${info.sensorId} on the link of sensor ${this.sensorId}`);
      return;
    }
    this.packets += 1;
    this.lastPacketWallMs = this.wallMs();
    if (info.type === TYPE.STATUS) this.battery = bytes[14];
    this.onPacket(bytes, info, this.lastPacketWallMs);
  }

  record(t, source, bytes) {
    if (this.sensorId === null) {
      if (this.held.length < MAX_HELD) this.held.push([t, source, bytes]);
      return;
    }
    this.onRecord(t, source, this.sensorId, bytes);
  }

  /** The link went down (or never came up): reconnect after a backoff delay, unless stopped. */
  lost(reason) {
    this.timers.clearTimeout(this.pingTimer);
    this.timers.clearTimeout(this.watchdogTimer);
    if (this.stopping || this.state === "failed" || this.state === "stopped") return;
    if (this.retryTimer !== null) return; // a retry is already planned
    const base = Math.min(this.backoff.maxMs, this.backoff.initialMs * this.backoff.factor ** this.attempt);
    const delay = base * (1 - this.backoff.jitter * this.random());
    this.attempt += 1;
    this.setState("reconnecting", reason);
    this.retryTimer = this.timers.setTimeout(() => {
      this.retryTimer = null;
      if (this.stopping) return;
      this.connect().catch((err) => this.lost(`cannot reconnect: ${err && err.message}`));
    }, delay);
  }

  /** Give up on this link for good (a sensor the relay cannot use). */
  fail(reason) {
    this.stopping = true;
    this.teardown();
    this.setState("failed", reason);
  }

  teardown() {
    this.timers.clearTimeout(this.pingTimer);
    this.timers.clearTimeout(this.watchdogTimer);
    this.timers.clearTimeout(this.retryTimer);
    this.retryTimer = null;
    this.device.removeEventListener("gattserverdisconnected", this.onGone);
    try {
      if (this.device.gatt.connected) this.device.gatt.disconnect();
    } catch {
      // already gone
    }
  }

  /** Send STOP (the sensor sends its unfinished batch) and disconnect. */
  async stop() {
    const wasStreaming = this.state === "streaming";
    this.stopping = true;
    if (wasStreaming) {
      try {
        await this.send(encodeCommand(COMMAND.STOP));
      } catch {
        // the link is going anyway
      }
    }
    this.teardown();
    this.setState("stopped");
  }
}
