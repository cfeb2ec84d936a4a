// The capture body of a relay batch (hardware/PROTOCOL.md §5): header with exact 64-bit clock pairs, records, and
// a torn tail.

import { test } from "node:test";
import assert from "node:assert/strict";
import { MAGIC, SOURCE, concat, encodeHeader, encodeRecord, parseCapture } from "../../server/static/js/relay/capture.js";

test("header and records round-trip, 64-bit times exact", () => {
  const wall = 1_767_225_600_123_456_789n;
  const mono = 18_446_744_073_709_551_615n; // u64 max
  const header = encodeHeader({ format: "fusiongait.imucap", format_version: 1, sensors: [{ id: 0, placement: "pelvis" }] }, [[wall, mono]]);
  assert.deepEqual([...header.subarray(0, 8)], [...MAGIC]);
  const json = new TextDecoder().decode(header.subarray(12));
  assert.match(json, /"clock_pairs":\[\[1767225600123456789,18446744073709551615\]\]/);
  const records = [
    encodeRecord(mono, SOURCE.RELAY, 0, Uint8Array.of(1, 2, 3)),
    encodeRecord(5n, SOURCE.HOST_COMMAND, 2, Uint8Array.of(0x01)),
    encodeRecord(6n, SOURCE.RELAY, 1, new Uint8Array(0)),
  ];
  assert.equal(records[0].length, 15);
  const parsed = parseCapture(concat([header, ...records]));
  assert.equal(parsed.tornTailBytes, 0);
  assert.deepEqual(parsed.header.sensors, [{ id: 0, placement: "pelvis" }]);
  assert.deepEqual(
    parsed.records.map((r) => [r.tHostNs, r.source, r.sensorId, [...r.bytes]]),
    [
      [mono, 2, 0, [1, 2, 3]],
      [5n, 3, 2, [1]],
      [6n, 2, 1, []],
    ],
  );
  const torn = parseCapture(concat([header, ...records]).subarray(0, header.length + 20));
  assert.equal(torn.records.length, 1);
  assert.equal(torn.tornTailBytes, 5);
  assert.throws(() => parseCapture(Uint8Array.of(1, 2, 3)), /magic/);
  assert.throws(() => encodeRecord(0n, 2, 0, new Uint8Array(70_000)), RangeError);
});
