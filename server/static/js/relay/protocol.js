// The sensor wire protocol v1 (hardware/PROTOCOL.md §1), the parts a phone relay needs: the GATT UUIDs, the packet
// header, CRC-16/CCITT-FALSE, a check of one BLE notification, IMU6 samples for the walking-time estimate, and the
// host commands (START, STOP, SYNC). Pure functions on Uint8Array; the same bytes as hardware/protocol.py.

// The reference sensor's GATT table (hardware/profiles.py REFERENCE_IMU): base 7cef____-e4a0-47b9-a273-d142b845b5f4.
export const SERVICE_UUID = "7cef0001-e4a0-47b9-a273-d142b845b5f4";
export const DATA_UUID = "7cef0002-e4a0-47b9-a273-d142b845b5f4"; // notify: one packet per notification
export const COMMAND_UUID = "7cef0003-e4a0-47b9-a273-d142b845b5f4"; // write: START, STOP, SYNC

export const HEADER_SIZE = 14;
export const CRC_SIZE = 2;
export const MAX_IMU_SAMPLES = 41;

export const TYPE = Object.freeze({ IMU6: 0x11, SYNC_REPLY: 0x12, STATUS: 0x13, MARKER: 0x14 });
/** Payload bytes of the fixed-size types (the header's `n` must say the same). */
const PAYLOAD = { [TYPE.SYNC_REPLY]: 12, [TYPE.STATUS]: 14, [TYPE.MARKER]: 2 };

export const COMMAND = Object.freeze({ START: 0x01, STOP: 0x02, SYNC: 0x21 });

/** Sensor ids of PROTOCOL.md §1 and the placements the capture header names. */
export const PLACEMENTS = Object.freeze(["pelvis", "left_thigh", "right_thigh"]);
export const PLACEMENT_TEXT = Object.freeze({ pelvis: "Lower back", left_thigh: "Left thigh", right_thigh: "Right thigh" });

const OUTPUT_RATES_HZ = [25, 50, 100, 200, 400, 800];
const ACC_RANGES_G = [2, 4, 8, 16];
const GYR_RANGES_DPS = [125, 250, 500, 1000, 2000];

const CRC_TABLE = (() => {
  const table = new Uint16Array(256);
  for (let i = 0; i < 256; i++) {
    let c = i << 8;
    for (let b = 0; b < 8; b++) c = c & 0x8000 ? ((c << 1) ^ 0x1021) & 0xffff : (c << 1) & 0xffff;
    table[i] = c;
  }
  return table;
})();

/** CRC-16/CCITT-FALSE (poly 0x1021, init 0xFFFF): crc16("123456789") === 0x29b1. */
export function crc16(bytes, start = 0, end = bytes.length) {
  let crc = 0xffff;
  for (let i = start; i < end; i++) crc = ((crc << 8) & 0xffff) ^ CRC_TABLE[((crc >> 8) ^ bytes[i]) & 0xff];
  return crc;
}

/** The rate and ranges of a `cfg` byte, or null when a code is reserved. */
export function decodeCfg(cfg) {
  const rate = OUTPUT_RATES_HZ[cfg & 0x07];
  const acc = ACC_RANGES_G[(cfg >> 3) & 0x03];
  const gyr = GYR_RANGES_DPS[(cfg >> 5) & 0x07];
  if (rate === undefined || gyr === undefined) return null;
  return { rateHz: rate, accRangeG: acc, gyrRangeDps: gyr };
}

/**
 * Check one notification and read its header. Returns {ok: true, type, sensorId, seq, sampleIdx, tUs, n, cfg} or
 * {ok: false, reason, sensorId?}. A packet is never split across notifications (PROTOCOL.md §1), so a notification
 * that is not exactly one whole packet is damaged.
 */
export function parsePacket(bytes) {
  if (!(bytes instanceof Uint8Array)) return { ok: false, reason: "not bytes" };
  if (bytes.length < HEADER_SIZE + CRC_SIZE) return { ok: false, reason: `too short (${bytes.length} bytes)` };
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const type = bytes[0];
  const sensorId = bytes[1];
  const n = bytes[12];
  const cfg = bytes[13];
  let want;
  if (type === TYPE.IMU6) {
    if (n < 1 || n > MAX_IMU_SAMPLES) return { ok: false, reason: `IMU6 with n=${n}`, sensorId };
    want = HEADER_SIZE + 12 * n + CRC_SIZE;
  } else if (type in PAYLOAD) {
    if (n !== PAYLOAD[type]) return { ok: false, reason: `type 0x${type.toString(16)} with n=${n}`, sensorId };
    want = HEADER_SIZE + n + CRC_SIZE;
  } else {
    return { ok: false, reason: `unknown type 0x${type.toString(16).padStart(2, "0")}`, sensorId };
  }
  if (bytes.length !== want) return { ok: false, reason: `length ${bytes.length}, expected ${want}`, sensorId };
  const crc = view.getUint16(want - 2, true);
  if (crc16(bytes, 0, want - 2) !== crc) return { ok: false, reason: "CRC error", sensorId };
  if (decodeCfg(cfg) === null) return { ok: false, reason: `reserved cfg 0x${cfg.toString(16)}`, sensorId };
  return {
    ok: true,
    type,
    sensorId,
    seq: view.getUint16(2, true),
    sampleIdx: view.getUint32(4, true),
    tUs: view.getUint32(8, true),
    n,
    cfg,
  };
}

/**
 * The samples of a valid IMU6 packet (from parsePacket) as {accG: Float64Array(3n), gyrDps: Float64Array(3n)},
 * x y z per sample, scaled by the packet's own cfg.
 */
export function imuSamples(bytes, info) {
  const { accRangeG, gyrRangeDps } = decodeCfg(info.cfg);
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const accG = new Float64Array(3 * info.n);
  const gyrDps = new Float64Array(3 * info.n);
  for (let i = 0; i < info.n; i++) {
    const at = HEADER_SIZE + 12 * i;
    for (let k = 0; k < 3; k++) {
      accG[3 * i + k] = (view.getInt16(at + 2 * k, true) * accRangeG) / 32768;
      gyrDps[3 * i + k] = (view.getInt16(at + 6 + 2 * k, true) * gyrRangeDps) / 32768;
    }
  }
  return { accG, gyrDps };
}

/** The bytes the host writes: [0x01] START, [0x02] STOP, [0x21, token u32 LE] SYNC. */
export function encodeCommand(command, token = 0) {
  if (command === COMMAND.SYNC) {
    const out = new Uint8Array(5);
    out[0] = COMMAND.SYNC;
    new DataView(out.buffer).setUint32(1, token >>> 0, true);
    return out;
  }
  if (command !== COMMAND.START && command !== COMMAND.STOP) throw new Error(`unknown command ${command}`);
  return Uint8Array.of(command);
}

/**
 * An IMU6 packet (for tests and fakes): counts is an array of [ax, ay, az, gx, gy, gz] int16 rows.
 * Default cfg 0x9a: 100 Hz, ±16 g, ±2000 dps.
 */
export function encodeImuPacket({ sensorId, seq, sampleIdx, tUs, cfg = 0x9a, counts }) {
  const n = counts.length;
  const out = new Uint8Array(HEADER_SIZE + 12 * n + CRC_SIZE);
  const view = new DataView(out.buffer);
  out[0] = TYPE.IMU6;
  out[1] = sensorId;
  view.setUint16(2, seq & 0xffff, true);
  view.setUint32(4, sampleIdx >>> 0, true);
  view.setUint32(8, tUs >>> 0, true);
  out[12] = n;
  out[13] = cfg;
  counts.forEach((row, i) => row.forEach((c, k) => view.setInt16(HEADER_SIZE + 12 * i + 2 * k, c, true)));
  view.setUint16(out.length - 2, crc16(out, 0, out.length - 2), true);
  return out;
}
