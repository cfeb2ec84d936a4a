// Packets for the tests, encoded with the relay's own encoder (itself checked against hardware/test_vectors).

import { TYPE, crc16, encodeImuPacket } from "../../../server/static/js/relay/protocol.js";

export const N = 5; // samples per packet at 100 Hz
const G = 2048; // counts per g at ±16 g

/** IMU6 packet `k` of a sensor: walking (acceleration magnitude swinging ±0.3 g at 1.8 Hz) or still. */
export function imu(sensorId, k, { walking = true, seqBase = 0, tBase = 1_000_000 } = {}) {
  const counts = [];
  for (let i = 0; i < N; i++) {
    const t = (k * N + i) / 100;
    const z = walking ? 1 + 0.3 * Math.sin(2 * Math.PI * 1.8 * t) : 1;
    counts.push([0, 0, Math.round(z * G), 10 * sensorId, 0, 0]);
  }
  return encodeImuPacket({ sensorId, seq: seqBase + k, sampleIdx: k * N, tUs: tBase + k * 50_000, counts });
}

/** A status packet (battery `pct`) of a sensor. */
export function status(sensorId, { seq = 0, sampleIdx = 0, pct = 80 } = {}) {
  const out = new Uint8Array(14 + 14 + 2);
  const view = new DataView(out.buffer);
  out[0] = TYPE.STATUS;
  out[1] = sensorId;
  view.setUint16(2, seq, true);
  view.setUint32(4, sampleIdx, true);
  view.setUint32(8, 999_000, true);
  out[12] = 14;
  out[13] = 0x9a;
  out[14] = pct;
  view.setUint16(16, 3900, true);
  out[18] = 1;
  view.setUint16(out.length - 2, crc16(out, 0, out.length - 2), true);
  return out;
}

/** Hex of bytes, for comparing packets as map keys. */
export function hex(bytes) {
  return Buffer.from(bytes).toString("hex");
}
