"""The reference relay end to end (issue 9): three virtual sensors over TCP stream into ``fusiongait relay`` (a real
process) which uploads to ``fusiongait serve`` (a real process, SQLite), while

(a) the server is SIGKILLed for a few seconds and restarted on the same data (the network is gone meanwhile),
(b) the relay is SIGKILLed and restarted on the same queue folder,
(c) a batch the server had already stored is put back into the queue (as if the relay had died between the 2xx and
    deleting the file) and is re-sent with its key.

At the end the server holds every packet the relay received (the two captures the relay's runs wrote) exactly once,
byte for byte, the queue folder is empty, and an analysis of the session runs to the end.
"""

from __future__ import annotations

import json
import shutil
import signal
import subprocess
import time
from collections.abc import Callable
from pathlib import Path

import httpx
import numpy as np
from sqlalchemy import select

from hardware.capture import Source, parse_capture
from hardware.protocol import SensorConfig
from hardware.simulator import PRESETS, Segment, simulate_session
from hardware.simulator.device import virtual_sensors
from server.db import Database, RelayPacket
from server.ingest import COMMAND_TYPE_BASE
from tests.server.processes import FUSIONGAIT, ROOT, Server
from tests.server.sensors import ServedSensors

SCHEDULE = (
    Segment(kind="stand", duration_s=4.0),
    Segment(kind="walk", duration_s=12.0),
    Segment(kind="turn", duration_s=2.5, turn_deg=180.0),
    Segment(kind="walk", duration_s=12.0),
    Segment(kind="stand", duration_s=3.0),
)
RUN_S = sum(s.duration_s for s in SCHEDULE)
OUTAGE_S = 4.0


def healthy_walker() -> ServedSensors:
    """Three virtual sensors walking ``SCHEDULE`` at 100 Hz, served over TCP."""
    session = simulate_session(PRESETS["healthy"](), schedule=SCHEDULE, sampling_rate_hz=100.0, seed=9)
    return ServedSensors(virtual_sensors(session, config=SensorConfig(rate_hz=100.0), seed=9))


def wait_for(what: str, condition: Callable[[], bool], timeout_s: float = 20.0) -> None:
    deadline = time.monotonic() + timeout_s
    while not condition():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.05)


def batches(folder: Path) -> list[Path]:
    return sorted(folder.glob("*.imucap"))


def packet_keys(capture_path: Path) -> dict[tuple[int, int, int, int], bytes]:
    """The packets of a capture by the server's dedup key (sensor, type, sample_idx, device time)."""
    cap = parse_capture(capture_path.read_bytes())
    out = {}
    for i in np.flatnonzero(cap.source != Source.HOST_COMMAND).tolist():
        p = cap.packet(i)
        key = (int(cap.sensor_id[i]), p[0], int.from_bytes(p[4:8], "little"), int.from_bytes(p[8:12], "little"))
        out[key] = p
    return out


def test_the_relay_survives_an_outage_a_kill_and_a_duplicate_and_stores_every_packet_once(
    server: Server, tmp_path: Path
) -> None:
    t_start = time.monotonic()
    server.admin("create-token", "--role", "admin", "--label", "relay e2e")
    clinician = {"Authorization": f"Bearer {server.admin('create-token', '--role', 'clinician', '--clinic', 'C1')}"}
    server.start()
    api = httpx.Client(base_url=f"{server.base_url}/api/v1", headers=clinician, timeout=30)

    def ok(response: httpx.Response, status: int = 200) -> dict[str, object]:
        assert response.status_code == status, f"{response.status_code}: {response.text}"
        return dict(response.json())

    patient_id = ok(api.post("/patients", json={"code": "P-RELAY", "height_m": 1.75}), 201)["id"]
    session_id = str(
        ok(api.post(f"/patients/{patient_id}/sessions", json={"kind": "home", "date": "2026-12-04"}), 201)["id"]
    )
    token_file = tmp_path / "relay.token"
    token_file.write_text(str(ok(api.post(f"/sessions/{session_id}/relay-token", json={"label": "gw"}), 201)["token"]))
    queue = tmp_path / "queue"
    logs: list[Path] = []

    def start_relay(urls: dict[str, str], capture: Path) -> subprocess.Popen[bytes]:
        log = tmp_path / f"relay-{len(logs) + 1}.log"
        logs.append(log)
        sensors = [a for p, u in urls.items() for a in ("--sensor", f"{p}={u}")]
        with log.open("wb") as out:
            return subprocess.Popen(
                [
                    *FUSIONGAIT,
                    "relay",
                    "--server",
                    server.base_url,
                    "--session",
                    session_id,
                    "--token-file",
                    str(token_file),
                    *sensors,
                    "--queue-dir",
                    str(queue),
                    "--batch-s",
                    "1",
                    "--retry-max-s",
                    "1",
                    "--capture",
                    str(capture),
                ],
                env=server.env(),
                cwd=ROOT,
                stdout=out,
                stderr=subprocess.STDOUT,
            )

    def stored() -> int:
        return sum(int(v) for v in ok(api.get(f"/sessions/{session_id}/relay-packets")).values())

    with healthy_walker() as sim:
        t_sim = time.monotonic()
        relay = start_relay(sim.urls, tmp_path / "relay-1.imucap")
        wait_for("the first uploads", lambda: stored() > 0)

        # (a) the server goes away for a while; batches pile up in the queue
        server.kill()
        time.sleep(OUTAGE_S)
        queued = batches(queue)
        assert len(queued) >= 2, f"nothing queued while the server was down: {queued}"
        duplicate = tmp_path / queued[0].name
        shutil.copy2(queued[0], duplicate)
        server.start()
        wait_for("the queue to drain after the outage", lambda: not queued[-1].exists())

        # (b) the relay is killed, and (c) comes back with a batch the server already has in its queue
        assert relay.poll() is None, logs[-1].read_text()
        relay.send_signal(signal.SIGKILL)
        relay.wait(10)
        shutil.copy2(duplicate, queue / duplicate.name)
        relay = start_relay(sim.urls, tmp_path / "relay-2.imucap")
        time.sleep(max(0.0, RUN_S - (time.monotonic() - t_sim)))
        relay.send_signal(signal.SIGINT)  # a clean stop: STOP, the last batch queued and uploaded
        assert relay.wait(30) == 0, logs[-1].read_text()
    summary = logs[-1].read_text()

    # The queue is empty; the re-sent batch was answered as a replay
    assert batches(queue) == [] and not (queue / "open.imucap.part").exists(), summary
    assert list((queue / "rejected").iterdir()) == []
    state = json.loads((queue / "state.json").read_text())
    assert state["counters"]["replayed"] >= 1 and state["counters"]["rejected"] == 0, state
    assert "0 waiting" in summary, summary

    # Every packet the relay received (both runs' captures) is stored exactly once, byte for byte
    received = {**packet_keys(tmp_path / "relay-1.imucap"), **packet_keys(tmp_path / "relay-2.imucap")}
    counts = ok(api.get(f"/sessions/{session_id}/relay-packets"))
    per_sensor = {name: sum(1 for k in received if k[0] == sid) for sid, name in enumerate(sim.sensors)}
    assert counts == per_sensor, (counts, per_sensor)
    database = Database(f"sqlite:///{server.data_dir / 'fusiongait.db'}")
    try:
        with database.session() as db:
            rows = db.execute(
                select(RelayPacket.sensor_id, RelayPacket.ver_type, RelayPacket.sample_idx, RelayPacket.t_us)
                .add_columns(RelayPacket.packet)
                .where(RelayPacket.session_id == session_id, RelayPacket.ver_type < COMMAND_TYPE_BASE)
            ).all()
    finally:
        database.dispose()
    kept = {(int(s), int(v), int(i), int(t)): bytes(p) for s, v, i, t, p in rows}
    assert len(kept) == len(rows) and kept == received

    # The session's analysis runs on what the relay uploaded
    job = ok(api.post(f"/sessions/{session_id}/analyses"), 202)
    deadline = time.monotonic() + 60
    while job["status"] not in ("done", "failed") and time.monotonic() < deadline:
        time.sleep(0.2)
        job = ok(api.get(f"/analyses/{job['id']}"))
    assert job["status"] == "done", job
    report = ok(api.get(f"/analyses/{job['id']}/report"))
    assert report["spatiotemporal"]["n_strides"] >= 10, report["spatiotemporal"]
    api.close()
    print(
        f"\nrelay e2e: {len(received)} packets, {state['counters']['acknowledged']} batches acknowledged "
        f"({state['counters']['replayed']} replayed); {time.monotonic() - t_start:.1f} s"
    )
