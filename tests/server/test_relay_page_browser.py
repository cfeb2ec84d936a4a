"""The phone relay page (issue 9) in headless Chromium against a real ``fusiongait serve``, with a fake Web Bluetooth.

There is no phone and no Bluetooth radio here. ``navigator.bluetooth`` is replaced (Playwright's add_init_script,
before the page's own scripts) by a fake whose three devices deliver, when the test says so, real packets: the
packets of three virtual sensors (``hardware.simulator``, encoded by ``hardware.protocol``) walking the schedule of
the relay end-to-end test, generated here in Python and passed in as hex. The fake remembers the devices the page
was allowed to use (as Chrome does), so ``getDevices()`` finds them again after a reload. Everything else is real:
the page's modules, IndexedDB, fetch, the service and its database.

The test enrols the page with the clinician's enrolment link (POST /relay-enrolment), connects the three sensors
through the chooser, streams a third of the walk online, a third offline, and then, with the network back, holds
the first upload after the server stored it (a Playwright route that forwards the request and never answers) and
reloads the page right then: mid-upload and mid-stream. The reloaded page finds its queue in IndexedDB, reconnects
to the sensors without asking, re-sends the held batch (answered as a replay) and streams the last third. At the end
the database holds every valid packet the sensors delivered exactly once, byte for byte, and not the damaged one.

Screenshots go to ``tests/artifacts/relay/`` (ignored by git). Skipped when chromium or playwright is missing.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import time
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import select

from hardware.protocol import Command, SensorConfig, encode_command
from hardware.simulator import PRESETS, simulate_session
from hardware.simulator.device import virtual_sensors
from server.db import Database, RelayPacket
from server.ingest import COMMAND_TYPE_BASE
from tests.server.processes import ROOT, Server
from tests.server.test_relay_e2e import RUN_S, SCHEDULE

ARTIFACTS = ROOT / "tests" / "artifacts" / "relay"
CHROMIUM = "/usr/bin/chromium" if os.access("/usr/bin/chromium", os.X_OK) else shutil.which("chromium")
try:
    from playwright.sync_api import Page, Route, sync_playwright
    from playwright.sync_api import TimeoutError as PlaywrightTimeout

    _PLAYWRIGHT_ERROR = ""
except ImportError as exc:  # pragma: no cover - depends on the environment
    _PLAYWRIGHT_ERROR = f"playwright not importable ({exc}); pip install -e '.[test]'"

pytestmark = [
    pytest.mark.skipif(CHROMIUM is None, reason="chromium not installed (make test installs Debian's package)"),
    pytest.mark.skipif(bool(_PLAYWRIGHT_ERROR), reason=_PLAYWRIGHT_ERROR),
]

PLACEMENTS = ("pelvis", "left_thigh", "right_thigh")

FAKE_BLUETOOTH = """
(() => {
  const SENSORS = %(sensors)s;
  const SERVICE = "7cef0001-e4a0-47b9-a273-d142b845b5f4";
  const DATA = "7cef0002-e4a0-47b9-a273-d142b845b5f4";
  const COMMAND = "7cef0003-e4a0-47b9-a273-d142b845b5f4";
  const GRANTED = "fake-bluetooth-granted"; // what Chrome remembers: the devices this site may use
  const fromHex = (h) => new Uint8Array(h.match(/../g).map((b) => parseInt(b, 16)));
  const devices = SENSORS.map((s) => {
    const device = new EventTarget();
    const data = new EventTarget();
    let connected = false;
    let notifying = false;
    const writes = [];
    data.startNotifications = async () => { notifying = true; return data; };
    const command = {
      uuid: COMMAND,
      writeValueWithResponse: async (bytes) => {
        if (!connected) throw new DOMException("GATT Server is disconnected.", "NetworkError");
        writes.push(Array.from(new Uint8Array(bytes.buffer || bytes, bytes.byteOffset || 0, bytes.byteLength)));
      },
    };
    const service = {
      uuid: SERVICE,
      getCharacteristic: async (uuid) => {
        if (uuid === DATA) return data;
        if (uuid === COMMAND) return command;
        throw new DOMException("No characteristic", "NotFoundError");
      },
    };
    Object.assign(device, {
      id: s.id,
      name: s.name,
      gatt: {
        get connected() { return connected; },
        connect: async () => { connected = true; return device.gatt; },
        disconnect: () => {
          if (!connected) return;
          connected = false;
          notifying = false;
          device.dispatchEvent(new Event("gattserverdisconnected"));
        },
        getPrimaryService: async (uuid) => {
          if (uuid !== SERVICE) throw new DOMException("No service", "NotFoundError");
          return service;
        },
      },
    });
    return {
      device,
      writes,
      packets: s.packets,
      emit(from, to) {
        if (!connected || !notifying) return 0;
        let n = 0;
        for (const hex of this.packets.slice(from, to)) {
          const bytes = fromHex(hex);
          data.value = new DataView(bytes.buffer);
          data.dispatchEvent(new Event("characteristicvaluechanged"));
          n += 1;
        }
        return n;
      },
    };
  });
  const granted = () => JSON.parse(localStorage.getItem(GRANTED) || "[]");
  const bluetooth = {
    requestDevice: async (options) => {
      const ok = options && options.filters && options.filters.some((f) => (f.services || []).includes(SERVICE));
      if (!ok) throw new TypeError("the chooser was asked for other devices");
      const next = devices.find((d) => !granted().includes(d.device.id));
      if (!next) throw new DOMException("User cancelled the requestDevice() chooser.", "NotFoundError");
      localStorage.setItem(GRANTED, JSON.stringify([...granted(), next.device.id]));
      window.__fakeBle.chooser += 1;
      return next.device;
    },
    getDevices: async () => devices.filter((d) => granted().includes(d.device.id)).map((d) => d.device),
  };
  Object.defineProperty(navigator, "bluetooth", { value: bluetooth, configurable: true });
  window.__fakeBle = {
    chooser: 0,
    emit: (i, from, to) => devices[i].emit(from, to),
    writes: (i) => devices[i].writes,
  };
})();
"""


def walker_packets() -> list[list[bytes]]:
    """Each virtual sensor's packets over the schedule (status first), as the firmware sends them after START."""
    session = simulate_session(PRESETS["healthy"](), schedule=SCHEDULE, sampling_rate_hz=100.0, seed=9)
    sensors = virtual_sensors(session, config=SensorConfig(rate_hz=100.0), seed=9)
    out = []
    for placement in PLACEMENTS:
        vs = sensors[placement]
        vs.command(encode_command(Command.START), 0.0)
        out.append([e.packet for e in vs.poll(RUN_S)])
    return out


def _shot(page: Page, name: str) -> None:
    page.screenshot(path=str(ARTIFACTS / f"{name}.png"), full_page=True)


def _wait(page: Page, what: str, script: str, arg: Any = None, timeout_s: float = 30) -> Any:
    try:
        return page.wait_for_function(script, arg=arg, timeout=timeout_s * 1000, polling=100).json_value()
    except PlaywrightTimeout:
        _shot(page, f"failed-{re.sub(r'[^a-z0-9]+', '-', what.lower())}")
        status = page.evaluate("() => window.fusiongaitRelay ? JSON.stringify(window.fusiongaitRelay.status()) : ''")
        pytest.fail(f"waited {timeout_s:.0f} s for {what}; status {status}; screenshot in {ARTIFACTS}")


DETAILS = "document.querySelector('[data-testid=relay-details]')?.dataset"
QUEUED = "document.querySelector('[data-testid=relay-queued]')?.dataset"
SENSORS_STATE = (
    "[...document.querySelectorAll('[data-testid=relay-sensor][data-placement]')].map((s) => s.dataset.state)"
)


def test_relay_page_uploads_every_packet_once_through_offline_and_a_reload_mid_upload(
    server: Server, tmp_path: Path
) -> None:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    for old in ARTIFACTS.glob("*"):
        old.unlink()
    server.admin("create-token", "--role", "admin", "--label", "relay page")
    clinician = {"Authorization": f"Bearer {server.admin('create-token', '--role', 'clinician', '--clinic', 'C1')}"}
    server.start()
    api = httpx.Client(base_url=f"{server.base_url}/api/v1", headers=clinician, timeout=30)
    patient = api.post("/patients", json={"code": "P-PHONE", "height_m": 1.72}).json()["id"]
    session = api.post(f"/patients/{patient}/sessions", json={"kind": "home", "date": "2026-12-05"}).json()["id"]
    enrolment = api.post(f"/sessions/{session}/relay-enrolment", json={"service_url": server.base_url})
    assert enrolment.status_code == 201, enrolment.text
    link = enrolment.json()["relay_url"]
    assert link.startswith(f"{server.base_url}/relay.html#session={session}&token=")
    page_url = link.replace("/relay.html#", "/relay.html?batch_s=2#")  # 2 s batches, so the test is short

    streams = walker_packets()
    damaged = bytearray(streams[0][40])
    damaged[20] ^= 0xFF  # a bit error: the CRC fails; the page queues it, the server lists it and stores nothing
    streams[0].insert(41, bytes(damaged))
    sensors = [
        {"id": f"dev-{p}", "name": f"FG-{p}", "packets": [b.hex() for b in packets]}
        for p, packets in zip(PLACEMENTS, streams, strict=True)
    ]
    thirds = [[len(s) * k // 3 for k in range(4)] for s in streams]
    delivered: list[bytes] = []

    def emit(page: Page, part: int) -> None:
        for i, stream in enumerate(streams):
            a, b = thirds[i][part], thirds[i][part + 1]
            n = page.evaluate("([i, a, b]) => window.__fakeBle.emit(i, a, b)", [i, a, b])
            assert n == b - a, f"sensor {i}: {n} of {b - a} packets delivered (not connected?)"
            delivered.extend(stream[a:b])

    console: list[str] = []
    page_errors: list[str] = []
    held: list[Route] = []
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, headless=True, args=["--no-sandbox"])
        try:
            context = browser.new_context(viewport={"width": 412, "height": 900}, device_scale_factor=1)
            context.add_init_script(FAKE_BLUETOOTH % {"sensors": json.dumps(sensors)})
            page = context.new_page()
            page.on("console", lambda m: console.append(f"{m.type}: {m.text}"))
            page.on("pageerror", lambda e: page_errors.append(str(e)))

            # 1. the enrolment link: the page keeps the token and clears it from the address bar
            page.goto(page_url)
            page.get_by_test_id("relay-connect").wait_for(timeout=15_000)
            assert "token" not in page.url and "#" not in page.url, page.url
            assert page.get_by_test_id("relay-enrol").is_hidden()
            _shot(page, "01-enrolled")

            # 2. the chooser, three times; each link writes START once subscribed
            for _ in PLACEMENTS:
                page.get_by_test_id("relay-connect").click()
            _wait(
                page,
                "START on the three sensors",
                "[0,1,2].every((i) => window.__fakeBle.writes(i).some((w) => w[0] === 1))",
            )
            assert page.evaluate("window.__fakeBle.chooser") == 3

            # 3. a third of the walk, online: three sensors connected, batches stored
            emit(page, 0)
            _wait(page, "the three sensors shown connected", f"{SENSORS_STATE}.every((s) => s === 'streaming')")
            _wait(page, "the first uploads", f"Number({DETAILS}.acknowledged) >= 2")
            assert "battery" in (page.get_by_test_id("relay-sensors").text_content() or "")
            _shot(page, "02-streaming")

            # 4. offline: the next third waits in IndexedDB
            context.set_offline(True)
            emit(page, 1)
            _wait(
                page,
                "the page to say it is offline",
                "document.querySelector('[data-testid=relay-upload]').dataset.state === 'offline'",
            )
            _wait(page, "batches queued while offline", f"Number({QUEUED}.batches) >= 2", timeout_s=15)
            _shot(page, "03-offline")

            # 5. back online, the first upload is stored by the server but never answered; reload right then
            def hold(route: Route) -> None:
                if not held:
                    held.append(route)
                    route.fetch()  # the server stores the batch...
                    return  # ...and the page never hears back
                route.continue_()

            page.route("**/relay-batches", hold)
            context.set_offline(False)
            deadline = time.monotonic() + 20
            while not held and time.monotonic() < deadline:
                page.wait_for_timeout(100)
            assert held, "no upload after going online"
            received_before = len(delivered)
            _wait(
                page,
                "everything received so far to be in IndexedDB",
                "(n) => { const r = window.fusiongaitRelay; const c = r.queue.counters.received;"
                " return Object.values(c).reduce((a, b) => a + b, 0) === n && r.queue.memory.length === 0; }",
                arg=received_before,
            )
            stored_before = api.get(f"/sessions/{session}/relay-packets").json()
            page.reload()
            page.unroute("**/relay-batches")

            # 6. the reloaded page: queue from IndexedDB, sensors again without the chooser, the held batch replayed
            page.get_by_test_id("relay-connect").wait_for(timeout=15_000)
            _wait(
                page,
                "a second START on the three sensors",
                "[0,1,2].every((i) => window.__fakeBle.writes(i).filter((w) => w[0] === 1).length === 1)",
            )
            assert page.evaluate("window.__fakeBle.chooser") == 0, "the patient was asked to choose again"
            emit(page, 2)
            _wait(
                page,
                "the queue to empty with the held batch replayed",
                f"Number({QUEUED}.batches) === 0 && Number({QUEUED}.open) === 0 && Number({DETAILS}.replayed) >= 1",
                timeout_s=60,
            )
            _shot(page, "04-after-reload")
            details = page.evaluate(f"({{...{DETAILS}}})")
            walking_s = float(page.get_by_test_id("relay-walking").get_attribute("data-seconds") or -1)
            last_upload = page.get_by_test_id("relay-last-upload").text_content() or ""
        finally:
            browser.close()
            (ARTIFACTS / "console.txt").write_text("\n".join(console))

    assert not page_errors, page_errors
    assert sum(stored_before.values()) > 0
    assert int(details["damaged"]) == 1, details
    assert int(details["rejected"]) == 0, details
    assert "just now" in last_upload, last_upload

    # Every valid packet delivered is in the database exactly once, byte for byte; the damaged one is not
    valid = [b for b in delivered if b != bytes(damaged)]
    assert len(valid) == len(delivered) - 1
    database = Database(f"sqlite:///{server.data_dir / 'fusiongait.db'}")
    try:
        with database.session() as db:
            rows = db.execute(
                select(RelayPacket.sensor_id, RelayPacket.packet).where(
                    RelayPacket.session_id == session, RelayPacket.ver_type < COMMAND_TYPE_BASE
                )
            ).all()
            commands = db.execute(
                select(RelayPacket.packet).where(
                    RelayPacket.session_id == session, RelayPacket.ver_type >= COMMAND_TYPE_BASE
                )
            ).all()
    finally:
        database.dispose()
    kept = sorted(bytes(p) for _, p in rows)
    assert len(kept) == len(set(kept)), "a packet stored twice"
    assert kept == sorted(valid), f"{len(kept)} stored, {len(valid)} delivered"
    assert all(int(s) == b[1] for s, b in ((s, bytes(p)) for s, p in rows)), "stored under the sensor that sent it"
    starts = [bytes(c) for (c,) in commands if bytes(c) == b"\x01"]
    assert len(starts) == 6, "START of both page loads, for each sensor"
    assert any(bytes(c)[0] == 0x21 for (c,) in commands), "the sync pings went up for the clock sync"
    assert api.get(f"/sessions/{session}/relay-packets").json() == {
        p: sum(1 for b in valid if b[1] == i) for i, p in enumerate(PLACEMENTS)
    }
    # The walking estimate saw the walk (26.5 s with the turn; a reload restarts the 3 s run rule)
    assert 15 <= walking_s <= 27, walking_s
