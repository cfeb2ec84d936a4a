"""The home days with new uploads are found from per-15-min packet counts kept at ingest (server.db.RelayPacketBucket)
instead of reading every packet: the counts must equal a count of the packets themselves, whatever the order,
duplication and mix of the batches, the patient's UTC offset, and for packets stored before the buckets existed."""

from __future__ import annotations

import datetime as dt
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from sqlalchemy import func, select, text

from server.db import Clinic, Database, GaitSession, Patient, RelayPacket, RelayPacketBucket
from server.errors import ServiceError
from server.home import NS_PER_DAY, packet_days, queue_stale_days
from server.ingest import COMMAND_TYPE_BASE, ParsedBatch, store_relay_batch
from tests.server.conftest import Api

#: 2026-03-01 20:00 UTC: three days of uploads cross several local midnights whatever the offset.
T0_NS = int(dt.datetime(2026, 3, 1, 20, 0, tzinfo=dt.UTC).timestamp()) * 10**9
SPAN_NS = 3 * NS_PER_DAY


def packet_rows(seed: int, n: int = 3000) -> list[dict[str, Any]]:
    """Packets of three sensors over three days: IMU packets, a few host commands, a few without a wall clock."""
    rng = np.random.default_rng(seed)
    t_wall = np.sort(T0_NS + rng.integers(0, SPAN_NS, n))
    kinds = rng.choice(3, n, p=[0.9, 0.05, 0.05])  # 0 IMU packet, 1 command, 2 IMU packet without wall clock
    return [
        {
            "sensor_id": int(i % 3) + 1,
            "ver_type": COMMAND_TYPE_BASE + 1 if k == 1 else 0x11,
            "sample_idx": int(i // 3) * 5,
            "t_us": int(i // 3) * 50_000,
            "t_host_ns": int(t - T0_NS),
            "t_wall_ns": None if k == 2 else int(t),
            "packet": bytes([i % 251]) * 20,
        }
        for i, (t, k) in enumerate(zip(t_wall, kinds, strict=True))
    ]


def counted_from_packets(db: Any, session_id: str, utc_offset_min: int) -> dict[dt.date, int]:
    """The reference: every stored IMU packet with a wall-clock time, put on its local calendar day."""
    rows = db.execute(
        select(RelayPacket.t_wall_ns).where(
            RelayPacket.session_id == session_id,
            RelayPacket.ver_type < COMMAND_TYPE_BASE,
            RelayPacket.t_wall_ns.is_not(None),
        )
    ).scalars()
    epoch = dt.date(1970, 1, 1)
    days = Counter(epoch + dt.timedelta(days=(t + utc_offset_min * 60 * 10**9) // NS_PER_DAY) for t in rows)
    return dict(days)


@pytest.fixture
def database(tmp_path: Path, database_url: str | None) -> Iterator[Database]:
    db = Database(database_url or f"sqlite:///{tmp_path / 'fg.sqlite3'}")
    db.migrate()
    yield db
    db.dispose()


def new_session(db: Any, utc_offset_min: int = 0) -> GaitSession:
    clinic = Clinic(name=f"clinic {utc_offset_min}")
    db.add(clinic)
    db.flush()
    patient = Patient(clinic_id=clinic.id, code="P1", height_m=1.75, utc_offset_min=utc_offset_min)
    db.add(patient)
    db.flush()
    session = GaitSession(patient_id=patient.id, kind="home", date=dt.date(2026, 3, 1), sensors={})
    db.add(session)
    db.flush()
    return session


SENSORS = {1: "pelvis", 2: "thigh_left", 3: "thigh_right"}


def test_bucket_counts_equal_the_packets_on_every_offset(database: Database) -> None:
    rows = packet_rows(seed=3)
    rng = np.random.default_rng(4)
    # Overlapping batches in a random order, one sent twice under another key: many rows arrive more than once.
    starts = rng.integers(0, len(rows) - 200, 40)
    batches = [rows[s : s + int(rng.integers(50, 400))] for s in starts] + [rows]
    with database.session() as db:
        session_id = new_session(db).id
    stored = 0
    for k, batch in enumerate(batches):
        with database.session() as db:
            session = db.get(GaitSession, session_id)
            assert session is not None
            answer = store_relay_batch(db, session, ParsedBatch(SENSORS, batch, body_sha256=f"{k:064x}"), f"k{k}")
            stored += answer["stored"]
    assert stored == len(rows)  # every packet once, the duplicates refused
    with database.session(read_only=True) as db:
        total = db.scalar(
            select(func.sum(RelayPacketBucket.n_packets)).where(RelayPacketBucket.session_id == session_id)
        )
        assert total == sum(1 for r in rows if r["ver_type"] < COMMAND_TYPE_BASE and r["t_wall_ns"] is not None)
        # UTC, Central Europe, Newfoundland, India, Nepal, Marquesas, Chatham, Line Islands.
        for offset_min in (0, 60, -210, 330, 345, -570, 765, 840):
            expected = counted_from_packets(db, session_id, offset_min)
            assert packet_days(db, session_id, offset_min) == expected, offset_min
            assert len(expected) >= 3


def test_the_buckets_queue_the_days_that_got_packets(database: Database) -> None:
    rows = packet_rows(seed=5)
    first, late = rows[: len(rows) // 2], rows[len(rows) // 2 :]
    with database.session() as db:
        session = new_session(db, utc_offset_min=60)
        store_relay_batch(db, session, ParsedBatch(SENSORS, first, body_sha256="1" * 64), "first")
    with database.session() as db:
        session = db.get(GaitSession, session.id)
        assert session is not None
        patient = db.get(Patient, session.patient_id)
        assert patient is not None
        queued = {d.date: d.n_packets for d in queue_stale_days(db, session, patient)}
        assert queued == counted_from_packets(db, session.id, 60)
        assert queue_stale_days(db, session, patient) == []  # nothing new
        store_relay_batch(db, session, ParsedBatch(SENSORS, late[:100], body_sha256="2" * 64), "late")
        again = {d.date: d.n_packets for d in queue_stale_days(db, session, patient)}
        now = counted_from_packets(db, session.id, 60)
        days_late = {
            dt.date(1970, 1, 1) + dt.timedelta(days=(r["t_wall_ns"] + 3600 * 10**9) // NS_PER_DAY)
            for r in late[:100]
            if r["t_wall_ns"] is not None and r["ver_type"] < COMMAND_TYPE_BASE
        }
        assert again == {d: now[d] for d in days_late}


def test_an_offset_off_the_quarter_hour_is_refused(database: Database) -> None:
    with database.session(read_only=True) as db, pytest.raises(ServiceError, match="utc_offset_min: 7 min"):
        packet_days(db, "no-such-session", 7)


def test_the_migration_counts_packets_stored_before_it(tmp_path: Path) -> None:
    database = Database(f"sqlite:///{tmp_path / 'old.sqlite3'}")
    try:
        database.migrate("0003")
        rows = packet_rows(seed=6, n=500)
        with database.session() as db:
            db.execute(text("INSERT INTO clinics (id, name, created_at) VALUES ('c', 'c', '2026-03-01')"))
            db.execute(
                text(
                    "INSERT INTO patients (id, clinic_id, code, notes, utc_offset_min, created_at) "
                    "VALUES ('p', 'c', 'P', '', 330, '2026-03-01')"
                )
            )
            db.execute(
                text(
                    "INSERT INTO sessions (id, patient_id, kind, date, label, sensors, created_at) "
                    "VALUES ('s', 'p', 'home', '2026-03-01', '', '{}', '2026-03-01')"
                )
            )
            db.execute(
                text(
                    "INSERT INTO relay_packets (session_id, sensor_id, ver_type, sample_idx, t_us, t_host_ns, "
                    "t_wall_ns, packet) VALUES ('s', :sensor_id, :ver_type, :sample_idx, :t_us, :t_host_ns, "
                    ":t_wall_ns, :packet)"
                ),
                rows,
            )
        database.migrate()
        with database.session(read_only=True) as db:
            assert packet_days(db, "s", 330) == counted_from_packets(db, "s", 330)
            assert sum(packet_days(db, "s", 330).values()) > 400
    finally:
        database.dispose()


def test_the_api_refuses_an_offset_off_the_quarter_hour(sqlite_api: Api) -> None:
    clinician = sqlite_api.clinician(sqlite_api.clinic())
    response = sqlite_api.client.post("/api/v1/patients", json={"code": "Q1", "utc_offset_min": 100}, headers=clinician)
    assert response.status_code == 422
    assert "utc_offset_min" in response.text and "multiple of 15" in response.text
