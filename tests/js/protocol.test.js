// Packet framing of the phone relay against the project's shared test vectors (hardware/test_vectors/, the same
// bytes the Python codec and the C firmware are checked against) and against damaged notifications.

import { test } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { COMMAND, PLACEMENTS, TYPE, crc16, decodeCfg, encodeCommand, encodeImuPacket, imuSamples, parsePacket } from "../../server/static/js/relay/protocol.js";

const vectors = (name) => JSON.parse(readFileSync(new URL(`../../hardware/test_vectors/${name}.json`, import.meta.url)));
const fromHex = (h) => new Uint8Array(Buffer.from(h, "hex"));
const TYPES = { imu6: TYPE.IMU6, sync_reply: TYPE.SYNC_REPLY, status: TYPE.STATUS, marker: TYPE.MARKER };

test("crc16 matches every CRC vector", () => {
  const { cases } = vectors("crc16");
  assert.ok(cases.length >= 5);
  for (const c of cases) assert.equal(crc16(fromHex(c.data)).toString(16).padStart(4, "0"), c.crc, c.name);
});

test("every packet vector parses with its header fields, and IMU6 vectors re-encode byte for byte", () => {
  const { packets } = vectors("packets");
  assert.ok(packets.length >= 10);
  let imuChecked = 0;
  for (const p of packets) {
    const bytes = fromHex(p.packet);
    const info = parsePacket(bytes);
    assert.equal(info.ok, true, `${p.name}: ${info.reason}`);
    assert.equal(info.type, TYPES[p.type], p.name);
    assert.equal(info.sensorId, p.sensor_id, p.name);
    assert.equal(info.seq, p.seq, p.name);
    assert.equal(info.sampleIdx, p.sample_idx, p.name);
    assert.equal(info.tUs, p.t_us, p.name);
    if (p.type === "imu6") {
      const again = encodeImuPacket({ sensorId: p.sensor_id, seq: p.seq, sampleIdx: p.sample_idx, tUs: p.t_us, cfg: p.cfg, counts: p.counts });
      assert.equal(Buffer.from(again).toString("hex"), p.packet, p.name);
      const { accG, gyrDps } = imuSamples(bytes, info);
      const { accRangeG, gyrRangeDps } = decodeCfg(p.cfg);
      assert.equal(accG[0], (p.counts[0][0] * accRangeG) / 32768);
      assert.equal(gyrDps[2], (p.counts[0][5] * gyrRangeDps) / 32768);
      imuChecked += 1;
    }
  }
  assert.ok(imuChecked >= 3);
});

test("the PROTOCOL.md example packet", () => {
  const bytes = encodeImuPacket({ sensorId: 0, seq: 7, sampleIdx: 1000, tUs: 123456, cfg: 0x9a, counts: [[1, 2, 3, 4, 5, 6]] });
  assert.equal(Buffer.from(bytes.subarray(0, -2)).toString("hex"), "11000700e803000040e20100019a010002000300040005000600");
  assert.deepEqual(decodeCfg(0x9a), { rateHz: 100, accRangeG: 16, gyrRangeDps: 2000 });
});

test("host commands match the command vectors", () => {
  const { commands } = vectors("packets");
  for (const c of commands) {
    assert.equal(Buffer.from(encodeCommand(c.command, c.token)).toString("hex"), c.bytes, c.name);
  }
  assert.throws(() => encodeCommand(0x7f));
  assert.deepEqual([...encodeCommand(COMMAND.SYNC, 0xdeadbeef)], [0x21, 0xef, 0xbe, 0xad, 0xde]);
});

test("damaged notifications are refused with a reason, and keep the sensor id when it can be read", () => {
  const good = encodeImuPacket({ sensorId: 2, seq: 1, sampleIdx: 10, tUs: 20, counts: [[1, 2, 3, 4, 5, 6], [7, 8, 9, 10, 11, 12]] });
  assert.equal(parsePacket(good).ok, true);
  const flipped = good.slice();
  flipped[20] ^= 0x01;
  const cases = [
    [flipped, /CRC/],
    [good.subarray(0, good.length - 1), /length/],
    [Uint8Array.of(...good, 0), /length/],
    [good.subarray(0, 10), /too short/],
    [Object.assign(good.slice(), { 0: 0x1f }), /unknown type/],
    [Object.assign(good.slice(), { 12: 0 }), /n=0/],
    [Object.assign(good.slice(), { 12: 42 }), /n=42/],
  ];
  for (const [bytes, reason] of cases) {
    const info = parsePacket(bytes);
    assert.equal(info.ok, false);
    assert.match(info.reason, reason);
  }
  assert.equal(parsePacket(flipped).sensorId, 2);
  // a reserved cfg (rate code 6) with a correct CRC is still refused
  const reserved = encodeImuPacket({ sensorId: 0, seq: 0, sampleIdx: 0, tUs: 0, cfg: 0x9e, counts: [[0, 0, 0, 0, 0, 0]] });
  assert.match(parsePacket(reserved).reason, /reserved cfg/);
  assert.equal(parsePacket("not bytes").ok, false);
  assert.deepEqual(PLACEMENTS, ["pelvis", "left_thigh", "right_thigh"]);
});
