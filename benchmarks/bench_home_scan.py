"""Benchmark: finding the home days with new uploads (server.home.queue_stale_days), which the service runs for every
home session every ``home_analysis_interval_s`` (15 min by default).

It used to count every stored IMU packet of the session by local day (``GROUP BY`` over ``relay_packets``); it now
reads the per-15-min counts the ingest keeps (``relay_packet_buckets``). This script stores a home session of
``--days`` days of ``--wear-h`` hours of three sensors at 100 Hz (60 packets/s, 600-packet batches as the relay
sends them, through ``server.ingest.store_relay_batch``), then times, in the same run and alternately:

- the look for stale days when nothing is new, from the buckets (what the service does now) and with the full count
  of the packets (what it did before: the same query as the old ``packet_days``);
- storing one more 600-packet batch with the bucket upkeep and with it skipped (its cost on the ingest).

Medians of ``--repeats`` runs. SQLite in a temporary folder by default; PostgreSQL by ``--database-url`` (in a new
schema dropped afterwards).

Run::

    .venv/bin/python benchmarks/bench_home_scan.py       # writes docs/performance_home_scan.json
    .venv/bin/python benchmarks/bench_home_scan.py --database-url postgresql+psycopg://postgres@127.0.0.1:5432/test

The JSON file holds one entry per database; a run replaces only its own.
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import platform
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
from sqlalchemy import func, select

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from benchmarks.bench_server import fresh_schema, save_per_database  # noqa: E402
from server import ingest  # noqa: E402
from server.db import Clinic, Database, GaitSession, HomeDay, Patient, RelayPacket  # noqa: E402
from server.home import NS_PER_DAY, queue_stale_days  # noqa: E402

PACKETS_PER_S = 60  # 3 sensors × 100 Hz / 5 samples per packet
BATCH = 600  # one 10-s relay batch
PACKET_BYTES = 76
SENSORS = {0: "pelvis", 1: "left_thigh", 2: "right_thigh"}
UTC_OFFSET_MIN = 60
FIRST_DAY_NS = int(dt.datetime(2026, 3, 2, 7, 0, tzinfo=dt.UTC).timestamp()) * 10**9  # 08:00 local


class Filler:
    """Batches of a home session: ``wear_h`` hours a day from 08:00 local, packets 1/60 s apart."""

    def __init__(self, wear_h: float, seed: int = 3) -> None:
        self.per_day = round(wear_h * 3600 * PACKETS_PER_S)
        self.payload = np.random.default_rng(seed).integers(0, 256, (64, PACKET_BYTES), dtype=np.uint8)
        self.sent = 0

    def batch(self, day: int, k: int) -> list[dict[str, Any]]:
        i = np.arange(k * BATCH, min((k + 1) * BATCH, self.per_day))
        t_wall_ns = FIRST_DAY_NS + day * NS_PER_DAY + i * (10**9 // PACKETS_PER_S)
        seq = day * self.per_day + i
        return [
            {
                "sensor_id": int(s % 3),
                "ver_type": 0x11,
                "sample_idx": int(s // 3) * 5,
                "t_us": int(s // 3) * 50_000,
                "t_host_ns": int(t - FIRST_DAY_NS),
                "t_wall_ns": int(t),
                "packet": self.payload[s % 64].tobytes(),
            }
            for s, t in zip(seq.tolist(), t_wall_ns.tolist(), strict=True)
        ]


def store(database: Database, session_id: str, rows: list[dict[str, Any]], key: str) -> None:
    with database.session() as db:
        session = db.get(GaitSession, session_id)
        assert session is not None
        batch = ingest.ParsedBatch(SENSORS, rows, body_sha256=key.rjust(64, "0")[:64])
        ingest.store_relay_batch(db, session, batch, key)


def old_packet_days(db: Any, session_id: str, utc_offset_min: int) -> dict[dt.date, int]:
    """The count before the buckets: every IMU packet of the session, grouped by local day (the old query)."""
    local_day = (RelayPacket.t_wall_ns + utc_offset_min * 60 * 10**9) // NS_PER_DAY
    rows = db.execute(
        select(local_day, func.count())
        .where(
            RelayPacket.session_id == session_id,
            RelayPacket.ver_type < ingest.COMMAND_TYPE_BASE,
            RelayPacket.t_wall_ns.is_not(None),
        )
        .group_by(local_day)
    ).all()
    return {dt.date(1970, 1, 1) + dt.timedelta(days=int(d)): int(n) for d, n in rows}


def timed(fn: Callable[[], object]) -> float:
    t0 = time.perf_counter()
    fn()
    return time.perf_counter() - t0


def bench(database: Database, args: argparse.Namespace) -> dict[str, Any]:
    with database.session() as db:
        clinic = Clinic(name="bench")
        db.add(clinic)
        db.flush()
        patient = Patient(clinic_id=clinic.id, code="B1", utc_offset_min=UTC_OFFSET_MIN)
        db.add(patient)
        db.flush()
        # The session looked at, and a second one that takes the timed batches (so the looks stay "nothing new").
        session, other = (GaitSession(patient_id=patient.id, kind="home", date=dt.date(2026, 3, 2)) for _ in "ab")
        db.add_all([session, other])
        db.flush()
        session_id, other_id, patient_id = session.id, other.id, patient.id
    filler = Filler(args.wear_h)
    n_batches = -(-filler.per_day // BATCH)
    t0 = time.perf_counter()
    for day in range(args.days):
        for k in range(n_batches):
            store(database, session_id, filler.batch(day, k), f"d{day}b{k}")
    fill_s = time.perf_counter() - t0
    with database.session() as db:
        n_packets = db.scalar(select(func.count()).select_from(RelayPacket).where(RelayPacket.session_id == session_id))
        looked, person = db.get(GaitSession, session_id), db.get(Patient, patient_id)
        assert looked is not None and person is not None
        queued = queue_stale_days(db, looked, person)  # first look: every day queued
        assert len(queued) == args.days, len(queued)
        assert {d.date: d.n_packets for d in queued} == old_packet_days(db, session_id, UTC_OFFSET_MIN)

    def look_now() -> None:
        with database.session() as db:
            session, patient = db.get(GaitSession, session_id), db.get(Patient, patient_id)
            assert session is not None and patient is not None
            assert queue_stale_days(db, session, patient) == []

    def look_before() -> None:
        # queue_stale_days as it was: the full count, then the same comparison with the stored days
        with database.session() as db:
            counts = old_packet_days(db, session_id, UTC_OFFSET_MIN)
            existing = {
                d.date: d.n_packets for d in db.scalars(select(HomeDay).where(HomeDay.session_id == session_id))
            }
            assert all(existing.get(day) == n for day, n in counts.items())

    keep_buckets = ingest._add_to_buckets

    def store_one(variant: str, k: int) -> float:
        rows = filler.batch(0, k)
        ingest._add_to_buckets = keep_buckets if variant == "with_buckets" else (lambda *a, **kw: None)
        try:
            return timed(lambda: store(database, other_id, rows, f"x{k}"))
        finally:
            ingest._add_to_buckets = keep_buckets

    look_s: dict[str, list[float]] = {"buckets": [], "full_count": []}
    store_s: dict[str, list[float]] = {"with_buckets": [], "without_buckets": []}
    for r in range(args.repeats):
        look_s["buckets"].append(timed(look_now))
        look_s["full_count"].append(timed(look_before))
        for j, variant in enumerate(
            ("with_buckets", "without_buckets") if r % 2 == 0 else ("without_buckets", "with_buckets")
        ):
            store_s[variant].append(store_one(variant, 2 * r + j))
    med = {k: statistics.median(v) for k, v in {**look_s, **store_s}.items()}
    return {
        "days": args.days,
        "wear_h_per_day": args.wear_h,
        "packets_stored": int(n_packets or 0),
        "fill_s": round(fill_s, 1),
        "repeats": args.repeats,
        "look_for_stale_days_ms_median": {
            "from_buckets": round(1e3 * med["buckets"], 2),
            "full_count_of_packets": round(1e3 * med["full_count"], 2),
            "ratio_full_count_to_buckets": round(med["full_count"] / med["buckets"], 1),
        },
        "store_600_packet_batch_ms_median": {
            "with_bucket_upkeep": round(1e3 * med["with_buckets"], 2),
            "without_bucket_upkeep": round(1e3 * med["without_buckets"], 2),
            "ratio_with_to_without": round(med["with_buckets"] / med["without_buckets"], 3),
        },
    }


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--days", type=int, default=7)
    ap.add_argument("--wear-h", type=float, default=14.0, help="hours of wear a day (default %(default)s)")
    ap.add_argument("--repeats", type=int, default=9)
    ap.add_argument("--database-url", help="PostgreSQL URL (default: SQLite in a temporary folder)")
    ap.add_argument("--out", type=Path, default=ROOT / "docs" / "performance_home_scan.json")
    args = ap.parse_args()
    loadavg_start = os.getloadavg()[0]
    with tempfile.TemporaryDirectory(prefix="fusiongait-bench-") as tmp, fresh_schema(args.database_url) as url:
        database = Database(url or f"sqlite:///{Path(tmp) / 'fusiongait.db'}")
        try:
            database.migrate()
            result = bench(database, args)
        finally:
            database.dispose()
    figures: dict[str, object] = {
        "date": dt.date.today().isoformat(),
        "machine": {
            "cpus": os.cpu_count(),
            "python": platform.python_version(),
            "loadavg_1min_at_start": round(loadavg_start, 2),
        },
        "database": "postgresql" if args.database_url else "sqlite",
        **result,
    }
    save_per_database(args.out, figures)
    return 0


if __name__ == "__main__":
    sys.exit(main())
