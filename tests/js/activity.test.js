// The on-phone walking estimate shown to the patient (an estimate, not the clinic's analysis).

import { test } from "node:test";
import assert from "node:assert/strict";
import { WalkingEstimate, localDate } from "../../server/static/js/relay/activity.js";
import { parsePacket } from "../../server/static/js/relay/protocol.js";
import { imu } from "./helpers/packets.js";

const DAY = new Date(2026, 0, 5, 10, 0, 0).getTime(); // local time

function feed(est, sensorId, from, count, walking, wallMs = DAY) {
  for (let k = from; k < from + count; k++) {
    const bytes = imu(sensorId, k, { walking });
    est.add(bytes, parsePacket(bytes), wallMs);
  }
}

test("still time counts nothing; walking counts from its first 3 s on; short bursts count nothing", () => {
  const est = new WalkingEstimate();
  feed(est, 0, 0, 200, false); // 10 s still
  assert.equal(est.secondsOn(localDate(DAY)), 0);
  feed(est, 0, 200, 40, true); // 2 s of movement: too short
  feed(est, 0, 240, 100, false);
  assert.equal(est.secondsOn(localDate(DAY)), 0);
  feed(est, 0, 340, 600, true); // 30 s of walking
  const s = est.secondsOn(localDate(DAY));
  assert.ok(s >= 29 && s <= 30, String(s));
});

test("the lower-back sensor's figure is shown when there is one; a new day starts at zero; state survives a reload", () => {
  const est = new WalkingEstimate();
  feed(est, 2, 0, 200, true); // right thigh only
  assert.ok(est.secondsOn(localDate(DAY)) >= 9);
  feed(est, 0, 0, 100, true); // then the pelvis, 5 s
  assert.ok(est.secondsOn(localDate(DAY)) <= 5);
  const again = new WalkingEstimate(JSON.parse(JSON.stringify(est.toJSON())));
  assert.equal(again.secondsOn(localDate(DAY)), est.secondsOn(localDate(DAY)));
  const tomorrow = DAY + 24 * 3600_000;
  feed(again, 0, 100, 10, true, tomorrow);
  assert.equal(again.secondsOn(localDate(DAY)), 0);
  assert.equal(again.secondsOn(localDate(tomorrow)), 0);
});

test("a gap in the samples ends the run; a repeated packet is not counted twice", () => {
  const est = new WalkingEstimate();
  feed(est, 0, 0, 40, true); // 2 s
  feed(est, 0, 1000, 40, true); // 2 s after a gap: never 3 s in a row
  assert.equal(est.secondsOn(localDate(DAY)), 0);
  const one = new WalkingEstimate();
  feed(one, 0, 0, 200, true);
  const twice = new WalkingEstimate();
  feed(twice, 0, 0, 100, true);
  feed(twice, 0, 50, 50, true); // duplicates of packets already seen
  feed(twice, 0, 100, 100, true);
  assert.equal(twice.secondsOn(localDate(DAY)), one.secondsOn(localDate(DAY)));
});
