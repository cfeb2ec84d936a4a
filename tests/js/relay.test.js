// The whole phone relay in Node: fake Web Bluetooth sensors → links → batcher → durable queue (memory store) →
// uploader → fake service, on virtual time. Offline, retries, duplicates, the app killed mid-upload and between
// flush and seal, damaged packets, reconnects: the service ends with every packet the sensors delivered exactly once.

import { test } from "node:test";
import assert from "node:assert/strict";
import { Relay } from "../../server/static/js/relay/relay.js";
import { SOURCE, parseCapture } from "../../server/static/js/relay/capture.js";
import { COMMAND, SERVICE_UUID } from "../../server/static/js/relay/protocol.js";
import { Backing } from "./helpers/memory_store.js";
import { FakeService } from "./helpers/fake_service.js";
import { FakeBluetooth, FakeDevice } from "./helpers/fake_bluetooth.js";
import { FakeTimers } from "./helpers/fake_timers.js";
import { hex, imu, status } from "./helpers/packets.js";

const SID = "home-1";
const TOKEN = "fg_relay";

function world() {
  const timers = new FakeTimers();
  const backing = new Backing();
  const service = new FakeService({ sessionId: SID, token: TOKEN });
  const devices = [new FakeDevice("dev-a", "FG-A"), new FakeDevice("dev-b", "FG-B"), new FakeDevice("dev-c", "FG-C")];
  const bluetooth = new FakeBluetooth(devices);
  const net = { online: true };
  // the devices as the sensors they are: dev-a is the right thigh, dev-b the pelvis, dev-c the left thigh
  const sensorOf = new Map([
    [devices[0], 2],
    [devices[1], 0],
    [devices[2], 1],
  ]);
  const delivered = new Map(); // hex → count of valid packets the relay received
  const next = new Map(devices.map((d) => [d, 0]));
  let seq = 0;
  let rnd = 0;
  return {
    timers,
    backing,
    service,
    devices,
    bluetooth,
    net,
    delivered,
    async app(owner) {
      const store = backing.connect();
      const relay = await Relay.start({
        store,
        sessionId: SID,
        token: () => TOKEN,
        fetch: service.fetch,
        bluetooth,
        clockNs: () => BigInt(Math.round(timers.now * 1000)) * 1000n + BigInt(seq++), // distinct host times
        wallMs: () => timers.now,
        nowMs: () => timers.now,
        random: () => (rnd = (rnd * 7 + 0.31) % 1),
        timers: timers.api(owner),
        sleep: timers.sleep(owner),
        isOnline: () => net.online,
        syncPeriodMs: 1000,
        watchdogMs: 0,
      });
      relay.kill = () => {
        timers.kill(owner); // no timer of this app runs again
        store.kill(); // and its store calls never return
      };
      return relay;
    },
    /** Every connected device sends `k` more IMU packets (50 ms each), with virtual time passing. */
    async walk(packets, { walking = true } = {}) {
      for (let i = 0; i < packets; i++) {
        for (const d of devices) {
          const k = next.get(d);
          const bytes = imu(sensorOf.get(d), k, { walking });
          if (d.notify(bytes)) delivered.set(hex(bytes), (delivered.get(hex(bytes)) || 0) + 1);
          next.set(d, k + 1);
        }
        await timers.advance(50);
      }
    },
    sendStatus(d, pct) {
      const bytes = status(sensorOf.get(d), { pct });
      if (d.notify(bytes)) delivered.set(hex(bytes), 1);
    },
  };
}

/** The service holds exactly the packets the relay received, each once (its store is keyed like the server's). */
function assertExactlyOnce(w) {
  const stored = w.service.stored().map(hex);
  assert.equal(new Set(stored).size, stored.length, "no packet stored twice");
  assert.deepEqual(new Set(stored), new Set(w.delivered.keys()), "every delivered packet is stored");
  for (const [h, n] of w.delivered) assert.equal(n, 1, `packet ${h.slice(0, 16)} delivered once by the fake`);
}

test("three sensors: chooser, START after subscribing, ids from the packets, batches uploaded exactly once", async () => {
  const w = world();
  const relay = await w.app("app");
  for (let i = 0; i < 3; i++) await relay.connectSensor();
  assert.deepEqual(w.bluetooth.requests[0], { filters: [{ services: [SERVICE_UUID] }] });
  for (const d of w.devices) {
    assert.equal(d.notifying, true);
    assert.deepEqual([...d.writes[0]], [COMMAND.START], "START first, after subscribing");
    assert.equal(d.writes[1][0], COMMAND.SYNC, "then a sync ping");
  }
  assert.deepEqual(relay.status().unidentified.map((u) => u.name), ["FG-A", "FG-B", "FG-C"], "not yet identified");
  for (const d of w.devices) w.sendStatus(d, 77);
  await w.walk(400); // 20 s of walking
  const st = relay.status();
  assert.deepEqual(st.sensors.map((s) => [s.placement, s.state, s.name, s.battery]), [
    ["pelvis", "streaming", "FG-B", 77],
    ["left_thigh", "streaming", "FG-C", 77],
    ["right_thigh", "streaming", "FG-A", 77],
  ]);
  assert.deepEqual(st.unidentified, []);
  assert.ok(w.devices.every((d) => d.writes.filter((c) => c[0] === COMMAND.SYNC).length >= 15), "about one ping a second");
  await relay.stopSensors();
  assert.ok(w.devices.every((d) => d.writes.at(-1)[0] === COMMAND.STOP), "STOP on stop");
  await w.timers.advance(0);
  assert.equal(relay.queue.depth, 0);
  assertExactlyOnce(w);
  assert.ok(w.service.requests.length >= 2, "uploaded in several batches");
  assert.ok(w.service.requests.every((r) => r.outcome === "stored"));
  // the commands went up too, as source 3 under the sensor they were sent to
  const commands = [...w.service.commands.keys()];
  assert.ok(commands.some((k) => k.startsWith("0/c1/")) && commands.some((k) => k.startsWith("2/c33/")), commands.slice(0, 5));
  // walking today: the 20 s walk at the lower back, counted once the first 3 s were seen
  assert.ok(st.walkingTodayS >= 17 && st.walkingTodayS <= 20, `walking ${st.walkingTodayS}`);
  assert.equal(st.lastUploadWallMs !== null, true);
});

test("offline for ten minutes: everything waits in the queue and goes up, once, when the network is back", async () => {
  const w = world();
  const relay = await w.app("app");
  for (let i = 0; i < 3; i++) await relay.connectSensor();
  w.net.online = false;
  w.service.offline = true;
  await w.walk(600 * 20 / 10); // the sensors deliver for 60 s...
  await w.timers.advance(9 * 60_000); // ...then idle time
  const st = relay.status();
  assert.equal(st.upload, "offline");
  assert.ok(st.queuedBatches >= 5, `queued ${st.queuedBatches}`);
  assert.equal(w.service.requests.length, 0, "no attempt while the browser says offline");
  w.net.online = true;
  w.service.offline = false;
  relay.uploader.wake({ reset: true }); // the page's "online" event
  await w.timers.advance(0);
  assert.equal(relay.queue.depth, 0);
  await relay.stopSensors();
  await w.timers.advance(0);
  assertExactlyOnce(w);
});

test("the app killed mid-upload, after the server stored the batch: reloaded from storage, re-sent, stored once", async () => {
  const w = world();
  const first = await w.app("first");
  for (let i = 0; i < 3; i++) await first.connectSensor();
  w.service.hangAfterStore = 1; // the next upload is stored and then never answered...
  await w.walk(240); // 12 s: one batch sealed and sent
  assert.equal(w.service.requests.filter((r) => r.outcome === "hung").length, 1);
  await w.walk(20); // a second more, flushed into the open batch
  await w.timers.advance(1000);
  first.kill(); // ...because the page is killed right then
  for (const d of w.devices) d.drop(); // the page's GATT connections go with it
  const chunksLeft = [...w.backing.chunks.values()].reduce((n, c) => n + c.records, 0);
  assert.ok(chunksLeft > 0, "an open batch was left in storage");

  const second = await w.app("second");
  assert.ok(second.queue.recoveredRecords > 0, "the open batch was sealed at start");
  const reconnected = await second.reconnectKnown(); // getDevices(): no chooser this time
  assert.equal(reconnected.length, 3);
  assert.equal(w.bluetooth.requests.length, 3, "the patient was not asked again");
  await w.walk(100);
  await second.stopSensors();
  await w.timers.advance(0);
  assert.equal(second.queue.depth, 0);
  const outcomes = w.service.requests.map((r) => r.outcome);
  assert.equal(outcomes[0], "hung");
  assert.ok(outcomes.includes("replayed"), outcomes.join(" "));
  assert.equal(w.backing.meta.counters.replayed, 1);
  assertExactlyOnce(w);
});

test("damaged notifications are queued as received and counted; the service refuses them; good ones stored once", async () => {
  const w = world();
  const relay = await w.app("app");
  for (let i = 0; i < 3; i++) await relay.connectSensor();
  const [a, b] = w.devices;
  a.notify(Uint8Array.of(0x11, 0x02, 0x00)); // a torn notification before dev-a said who it is: held
  await w.walk(10);
  const bad = imu(0, 500);
  bad[20] ^= 0xff; // CRC error
  b.notify(bad);
  b.notify(imu(0, 501).subarray(0, 40)); // truncated
  b.notify(imu(2, 502)); // a packet of sensor 2 on the pelvis' link
  await w.walk(10);
  await relay.stopSensors();
  await w.timers.advance(0);
  const st = relay.status();
  assert.equal(st.counters.damaged, 4);
  const rejected = w.service.requests.length && [...w.service.keys.values()].flatMap((k) => k.answer.rejected);
  assert.equal(rejected.length, 4, rejected.join("; "));
  assert.ok(rejected.some((r) => /CRC/.test(r)) && rejected.some((r) => /mislabeled/.test(r)));
  assertExactlyOnce(w);
});

test("a dropped link reconnects with growing delays and START again; no data is lost from the queue meanwhile", async () => {
  const w = world();
  const relay = await w.app("app");
  for (let i = 0; i < 3; i++) await relay.connectSensor();
  await w.walk(20);
  const [a] = w.devices;
  a.failConnects = 2;
  a.drop();
  const link = relay.links.find((l) => l.device === a);
  assert.equal(link.state, "reconnecting");
  assert.equal(relay.status().sensors[2].state, "reconnecting");
  await w.walk(200); // 10 s: two failed tries (about 0.5 s, 1 s), then connected
  assert.equal(link.state, "streaming");
  assert.equal(a.connects, 2);
  const starts = a.writes.filter((c) => c[0] === COMMAND.START).length;
  assert.equal(starts, 2, "START again after the reconnect");
  await relay.stopSensors();
  await w.timers.advance(0);
  assertExactlyOnce(w);
});

test("two sensors that say they are the same placement: the second is refused with a reason", async () => {
  const w = world();
  const relay = await w.app("app");
  await relay.connectSensor();
  await relay.connectSensor();
  const [a, b] = w.devices;
  a.notify(imu(0, 0));
  b.notify(imu(0, 0));
  const links = relay.links;
  assert.equal(links[0].sensorId, 0);
  assert.equal(links[1].state, "failed");
  assert.match(links[1].error, /two sensors say they are the pelvis sensor \(FG-A and FG-B\)/);
  assert.equal(b.gatt.connected, false);
  await relay.stop();
});

test("records sent before the sensor said who it is go up under its id, at their own host times", async () => {
  const w = world();
  const relay = await w.app("app");
  await relay.connectSensor();
  const [a] = w.devices;
  await w.timers.advance(3000); // START and pings, no data yet: held
  assert.equal(relay.queue.openRecords, 0);
  a.notify(imu(2, 0));
  await relay.stopSensors();
  await w.timers.advance(0);
  assert.equal(w.service.keys.size, 1, "one batch");
  const cmds = [...w.service.commands.keys()].map((k) => k.split("/"));
  assert.ok(cmds.length >= 4, "START, the pings and STOP");
  assert.ok(cmds.every(([sensor]) => sensor === "2"), "under the id the sensor gave");
  assert.deepEqual(cmds.slice(0, 1).map((c) => c[1]), ["c1"], "START first");
  const times = cmds.map((c) => BigInt(c[3]));
  assert.deepEqual([...times].sort((x, y) => (x < y ? -1 : x > y ? 1 : 0)), times, "in the order they were sent");
  assert.ok(times[0] < times.at(-1));
  assert.equal(w.service.stored().length, 1);
});
