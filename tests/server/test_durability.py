"""Relay uploads survive a server crash (issue 7): ``fusiongait serve`` runs as a real process and is killed with
SIGKILL in the middle of a stream of relay batches, then restarted on the same data. Every batch that got a 2xx is
stored afterwards, and the relays' retries (the same ``Idempotency-Key`` and body, hardware/PROTOCOL.md §6) of what
was not acknowledged, plus re-sends of some acknowledged batches, store every packet exactly once.

Run on SQLite (the default) and on PostgreSQL (skipped when no server answers at 127.0.0.1:5432). SIGKILL loses
the process, not the machine: what this shows is that a 2xx is only sent after the commit, and that replays and
overlaps deduplicate; it does not simulate a power cut. A second test checks the same promise for the routes that
write through the request's database session: their commit happens before the response starts.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import numpy as np
import pytest
from sqlalchemy import func, select

from hardware.capture import CaptureHeader, CaptureSensor, Source, encode_header
from hardware.protocol import SensorConfig, encode_imu_rows
from server.db import Database, RelayPacket
from tests.server.processes import FUSIONGAIT, ROOT, Server, free_port

__all__ = ["FUSIONGAIT", "ROOT", "Server", "free_port"]  # where other tests and scripts found them before


RATE_HZ = 100.0
SAMPLES_PER_PACKET = 5
PACKET_S = SAMPLES_PER_PACKET / RATE_HZ  # 50 ms
SENSORS = ((0, "pelvis"), (1, "left_thigh"), (2, "right_thigh"))
CONFIG = SensorConfig(rate_hz=RATE_HZ, acc_range_g=16, gyr_range_dps=2000)

N_RELAYS = 3
BATCHES_PER_RELAY = 30
BATCH_S = 1.0
KILL_AFTER_ACKS = 12  # SIGKILL once this many batches (of all relays) were acknowledged


# ------------------------------------------------------------------------------------------------- relay batches
@dataclass
class Batch:
    """One relay batch: its key, its body, and its packets by dedup key ``(sensor_id, sample_idx, t_us)``."""

    key: str
    body: bytes
    packets: dict[tuple[int, int, int], bytes]


PACKETS_PER_BATCH = round(BATCH_S / PACKET_S)
TOTAL_PACKETS = BATCHES_PER_RELAY * PACKETS_PER_BATCH
RECORD = np.dtype(
    [("t_host_ns", "<u8"), ("source", "u1"), ("sensor_id", "u1"), ("len", "<u2"), ("packet", "u1", (76,))]
)


def relay_counts(relay: int) -> np.ndarray:
    """The raw counts a relay's sensors produce, packet by packet: shape (packets, sensors, 5, 6), fixed by seed."""
    rng = np.random.default_rng(relay)
    return rng.integers(-4000, 4000, size=(TOTAL_PACKETS, len(SENSORS), SAMPLES_PER_PACKET, 6), dtype=np.int16)


def make_batch(session_id: str, relay: int, first_packet: int, n_packets: int, key: str) -> Batch:
    """Packets ``first_packet .. first_packet + n_packets - 1`` of every sensor, as a capture body.

    A packet's bytes depend only on the relay and its index, so batches that overlap carry identical packets (a
    relay re-sending from its queue).
    """
    p = np.arange(first_packet, first_packet + n_packets)
    counts = relay_counts(relay)[p]
    records = np.zeros((n_packets, len(SENSORS)), dtype=RECORD)
    packets: dict[tuple[int, int, int], bytes] = {}
    for col, (sensor_id, _placement) in enumerate(SENSORS):
        t0_us = 1_000_000 * (relay + 1) + 7_919 * sensor_id  # each sensor's own device clock
        sample_idx = p * SAMPLES_PER_PACKET
        t_us = t0_us + p * round(PACKET_S * 1e6)
        rows = encode_imu_rows(sensor_id, p, sample_idx, t_us, CONFIG, counts[:, col])
        records[:, col]["t_host_ns"] = 5_000_000_000 + p * round(PACKET_S * 1e9) + 2_000_000 * sensor_id
        records[:, col]["source"] = int(Source.RELAY)
        records[:, col]["sensor_id"] = sensor_id
        records[:, col]["len"] = rows.shape[1]
        records[:, col]["packet"] = rows
        for s, t, row in zip(sample_idx.tolist(), t_us.tolist(), rows, strict=True):
            packets[(sensor_id, s, t % (1 << 32))] = row.tobytes()
    header = CaptureHeader(
        sensors=tuple(
            CaptureSensor(i, name, rate_hz=RATE_HZ, acc_range_g=16, gyr_range_dps=2000) for i, name in SENSORS
        ),
        session_id=session_id,
    )
    return Batch(key, encode_header(header) + records.tobytes(), packets)


def relay_queue(session_id: str, relay: int) -> list[Batch]:
    return [
        make_batch(session_id, relay, k * PACKETS_PER_BATCH, PACKETS_PER_BATCH, f"relay{relay}-batch{k:03d}")
        for k in range(BATCHES_PER_RELAY)
    ]


# ---------------------------------------------------------------------------------------------------- the server
@pytest.fixture(params=["sqlite", "postgresql"])
def server(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Server]:
    url = request.getfixturevalue("pg_url") if request.param == "postgresql" else None
    srv = Server(tmp_path / "data", url)
    try:
        yield srv
    finally:
        srv.stop()


# ------------------------------------------------------------------------------------------------------ the test
@dataclass
class RelayLog:
    acked: dict[str, dict[str, object]] = field(default_factory=dict)  # key → the server's answer
    failed: list[str] = field(default_factory=list)  # keys not acknowledged (error, 5xx, connection lost)
    lock: threading.Lock = field(default_factory=threading.Lock)


def upload(client: httpx.Client, url: str, token: str, batch: Batch) -> httpx.Response:
    return client.post(
        url,
        content=batch.body,
        headers={
            "Authorization": f"Bearer {token}",
            "Idempotency-Key": batch.key,
            "Content-Type": "application/octet-stream",
        },
        timeout=30,
    )


def run_relay(base_url: str, session_id: str, token: str, queue: list[Batch], log: RelayLog) -> None:
    """Upload the queue in order, one batch at a time; the first failure takes the relay offline."""
    url = f"{base_url}/api/v1/sessions/{session_id}/relay-batches"
    with httpx.Client() as client:
        for i, batch in enumerate(queue):
            try:
                response = upload(client, url, token, batch)
                ok = 200 <= response.status_code < 300
            except httpx.TransportError:
                ok = False
            with log.lock:
                if ok:
                    log.acked[batch.key] = response.json()
                else:
                    log.failed.extend(b.key for b in queue[i:])
            if not ok:
                return


def test_acknowledged_relay_batches_survive_sigkill_and_retries_store_nothing_twice(server: Server) -> None:
    t_start = time.monotonic()
    server.admin("create-token", "--role", "admin", "--label", "durability test")
    clinician = {"Authorization": f"Bearer {server.admin('create-token', '--role', 'clinician', '--clinic', 'C1')}"}
    server.start()
    api = httpx.Client(base_url=f"{server.base_url}/api/v1", headers=clinician, timeout=30)

    def ok(response: httpx.Response, status: int = 200) -> dict[str, object]:
        assert response.status_code == status, f"{response.status_code}: {response.text}"
        return dict(response.json())

    patient_id = ok(api.post("/patients", json={"code": "P-DURABLE"}), 201)["id"]
    sessions, tokens, queues = [], [], []
    for relay in range(N_RELAYS):
        session_id = str(
            ok(api.post(f"/patients/{patient_id}/sessions", json={"kind": "home", "date": "2026-12-04"}), 201)["id"]
        )
        tokens.append(
            str(ok(api.post(f"/sessions/{session_id}/relay-token", json={"label": f"phone {relay}"}), 201)["token"])
        )
        sessions.append(session_id)
        queues.append(relay_queue(session_id, relay))

    # 1. Three relays stream; the server is killed once enough batches were acknowledged.
    logs = [RelayLog() for _ in range(N_RELAYS)]
    threads = [
        threading.Thread(target=run_relay, args=(server.base_url, sessions[r], tokens[r], queues[r], logs[r]))
        for r in range(N_RELAYS)
    ]
    for t in threads:
        t.start()
    deadline = time.monotonic() + 30
    while sum(len(log.acked) for log in logs) < KILL_AFTER_ACKS and time.monotonic() < deadline:
        time.sleep(0.001)
    server.kill()
    for t in threads:
        t.join(timeout=30)
    acked_before = sum(len(log.acked) for log in logs)
    assert acked_before >= KILL_AFTER_ACKS, f"only {acked_before} batches acknowledged before the kill"
    assert all(log.failed for log in logs), "a relay finished its whole queue before the kill: nothing was tested"

    # 2. Restart on the same data. Every relay re-sends, with the same keys and bodies, what was not acknowledged
    #    and, as after an app kill that lost its acknowledgements, its last three acknowledged batches too.
    server.start()
    committed_unacked = 0  # batches stored before the kill whose 2xx never reached the relay
    with httpx.Client() as client:
        for relay, log in enumerate(logs):
            url = f"{server.base_url}/api/v1/sessions/{sessions[relay]}/relay-batches"
            by_key = {b.key: b for b in queues[relay]}
            acked_keys = [b.key for b in queues[relay] if b.key in log.acked]
            for key in acked_keys[-3:]:
                answer = ok(upload(client, url, tokens[relay], by_key[key]))
                assert answer == {**log.acked[key], "replayed": True}, key
            for key in log.failed:
                answer = ok(upload(client, url, tokens[relay], by_key[key]))
                committed_unacked += bool(answer["replayed"])
                assert answer["stored"] + answer["duplicates"] == answer["received"] == 3 * PACKETS_PER_BATCH
                log.acked[key] = answer
            assert len(log.acked) == BATCHES_PER_RELAY
            # an overlapping re-send under a new key (a relay that re-batched its queue): packets deduplicate
            overlap = make_batch(sessions[relay], relay, 10, 40, f"relay{relay}-rebatched")
            answer = ok(upload(client, url, tokens[relay], overlap))
            assert answer["stored"] == 0 and answer["duplicates"] == answer["received"] == 120, answer

    # 3. Every packet sent is stored exactly once, byte for byte: by the API, and row by row in the database.
    for session_id in sessions:
        counts = ok(api.get(f"/sessions/{session_id}/relay-packets"))
        assert counts == {name: TOTAL_PACKETS for _, name in SENSORS}, counts
    api.close()
    database = Database(server.database_url or f"sqlite:///{server.data_dir / 'fusiongait.db'}")
    try:
        with database.session() as db:
            for relay, session_id in enumerate(sessions):
                rows = db.execute(
                    select(RelayPacket.sensor_id, RelayPacket.sample_idx, RelayPacket.t_us, RelayPacket.packet).where(
                        RelayPacket.session_id == session_id
                    )
                ).all()
                stored = {(int(s), int(i), int(t)): bytes(b) for s, i, t, b in rows}
                assert len(stored) == len(rows), "duplicate packets stored"
                sent = {k: v for b in queues[relay] for k, v in b.packets.items()}
                assert len(sent) == TOTAL_PACKETS * len(SENSORS)
                assert stored == sent, "the stored packets differ from the packets sent"
            total = db.scalar(select(func.count()).select_from(RelayPacket))
            assert total == N_RELAYS * TOTAL_PACKETS * len(SENSORS)
    finally:
        database.dispose()
    print(
        f"\n{'postgresql' if server.database_url else 'sqlite'}: {acked_before} of {N_RELAYS * BATCHES_PER_RELAY} "
        f"batches acknowledged before SIGKILL; {committed_unacked} stored but unacknowledged (answered as replays "
        f"on retry); {time.monotonic() - t_start:.1f} s"
    )


# ------------------------------------------------------------------------------------- commit before the answer
def test_a_2xx_is_sent_only_after_the_commit(tmp_path: Path) -> None:
    """Routes that write through the request's database session commit before the response starts (FastAPI runs
    a yield dependency's exit code after the response unless its scope is "function"): otherwise a client that
    got 201 can find nothing on its next request, and a crash in between loses an acknowledged change."""
    from fastapi.testclient import TestClient
    from sqlalchemy import event

    from server.app import create_app
    from server.auth import issue_token
    from server.config import Settings

    app = create_app(Settings(data_dir=tmp_path / "data", analysis_workers=0))
    order: list[str] = []

    async def recording_app(scope, receive, send):  # type: ignore[no-untyped-def]
        async def recording_send(message):  # type: ignore[no-untyped-def]
            if message["type"] == "http.response.start":
                order.append("response")
            await send(message)

        await app(scope, receive, recording_send)

    with TestClient(recording_app) as client:
        database = app.state.service.database
        with database.session() as db:
            admin, _ = issue_token(db, role="admin", label="tests")
        event.listen(database.engine, "commit", lambda _conn: order.append("commit"))
        order.clear()
        response = client.post("/api/v1/clinics", json={"name": "C"}, headers={"Authorization": f"Bearer {admin}"})
        assert response.status_code == 201, response.text
        assert order[-2:] == ["commit", "response"], order
        listed = client.get("/api/v1/clinics", headers={"Authorization": f"Bearer {admin}"}).json()
        assert response.json()["id"] in [c["id"] for c in listed]
