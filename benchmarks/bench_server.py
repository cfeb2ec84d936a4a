"""Benchmark: the service under relay load (issue 7). How many relays, each uploading three sensors at 100 Hz in
10-second batches, does one ``fusiongait serve`` sustain with p99 upload latency < 500 ms and no loss?

The service runs as a subprocess (``fusiongait serve``: uvicorn, one process, analysis workers 0), on SQLite in a
temporary data folder, or on ``--database-url`` PostgreSQL in a new schema dropped afterwards. This process is the
load generator: it creates one session and one relay token per simulated relay through the API, then drives N
relays with asyncio and one ``httpx.AsyncClient`` (connection pool sized to N) over loopback. Each relay uploads,
every ``--batch-s`` seconds from a random start phase, a batch of real IMU packets (hardware codec: 3 sensors,
100 Hz, 5 samples per packet, so 600 packets and ~53 kB per 10-s batch) with an ``Idempotency-Key``; a failed
upload is retried with the same key and body, at most ``--retries`` times. A step runs ``--duration-s`` seconds of
batches per relay. Afterwards the packets stored per session are counted in the database: loss is any difference
from what the relays sent.

N is stepped up (``--relays 200,400,800,...``) while a step passes (p99 < 500 ms, no loss, no failed attempt) and
the time budget (``--budget-s``) allows, then bisected between the last N that passed and the first that failed,
down to ``--resolution``. Sessions are kept from step to step (each relay continues its own stream).

The load generator shares the machine's cores with the server (on the 2-core reference machine: both on 2 cores);
its CPU share is reported next to the server's, and its own scheduling delay is part of the measured latency.

Run::

    .venv/bin/python benchmarks/bench_server.py      # SQLite; writes docs/performance_server.json
    .venv/bin/python benchmarks/bench_server.py --database-url postgresql+psycopg://postgres@127.0.0.1:5432/test

The JSON file holds one entry per database ("sqlite", "postgresql"); a run replaces only its own.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import datetime as dt
import json
import os
import platform
import random
import resource
import secrets
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from hardware.capture import CaptureHeader, CaptureSensor, Source, encode_header  # noqa: E402
from hardware.protocol import SensorConfig, encode_imu_rows  # noqa: E402
from tests.server.processes import Server  # noqa: E402 - the same service process the tests start

RATE_HZ = 100.0
SAMPLES_PER_PACKET = 5
PACKET_US = 50_000
SENSORS = ((0, "pelvis"), (1, "left_thigh"), (2, "right_thigh"))
CONFIG = SensorConfig(rate_hz=RATE_HZ, acc_range_g=16, gyr_range_dps=2000)
RECORD = np.dtype(
    [("t_host_ns", "<u8"), ("source", "u1"), ("sensor_id", "u1"), ("len", "<u2"), ("packet", "u1", (76,))]
)
P99_TARGET_S = 0.5
CLK_TCK = os.sysconf("SC_CLK_TCK")


# ------------------------------------------------------------------------------------------------------ batches
class BatchMaker:
    """Relay batches of real packets. Counts come from a fixed random pool (the server never looks at them)."""

    def __init__(self, batch_s: float, seed: int = 7) -> None:
        self.packets = round(batch_s * 1e6 / PACKET_US)
        rng = np.random.default_rng(seed)
        self.pool = rng.integers(-4000, 4000, size=(4, self.packets, len(SENSORS), SAMPLES_PER_PACKET, 6))
        self.pool = self.pool.astype(np.int16)
        self.header = encode_header(
            CaptureHeader(
                sensors=tuple(
                    CaptureSensor(i, name, rate_hz=RATE_HZ, acc_range_g=16, gyr_range_dps=2000) for i, name in SENSORS
                )
            )
        )

    def body(self, relay: int, k: int) -> bytes:
        """Batch ``k`` of relay ``relay``: packets ``k*P .. (k+1)*P - 1`` of its three sensors, in arrival order."""
        p = np.arange(k * self.packets, (k + 1) * self.packets)
        counts = self.pool[(relay + k) % len(self.pool)]
        records = np.zeros((self.packets, len(SENSORS)), dtype=RECORD)
        for col, (sensor_id, _placement) in enumerate(SENSORS):
            t_us = 1_000_000 + 7_919 * sensor_id + 13 * relay + p * PACKET_US
            rows = encode_imu_rows(sensor_id, p, p * SAMPLES_PER_PACKET, t_us, CONFIG, counts[:, col])
            records[:, col]["t_host_ns"] = 10**9 + p * PACKET_US * 1000 + 2_000_000 * sensor_id
            records[:, col]["source"] = int(Source.RELAY)
            records[:, col]["sensor_id"] = sensor_id
            records[:, col]["len"] = rows.shape[1]
            records[:, col]["packet"] = rows
        return self.header + records.tobytes()


# --------------------------------------------------------------------------------------------------- the server
def cpu_s(pid: int) -> float:
    """User + system CPU seconds of a process (Linux /proc)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / CLK_TCK


def own_cpu_s() -> float:
    r = resource.getrusage(resource.RUSAGE_SELF)
    return r.ru_utime + r.ru_stime


# ---------------------------------------------------------------------------------------------------- the relays
@dataclass
class Relay:
    index: int
    session_id: str
    token: str
    next_batch: int = 0
    acked_packets: int = 0  # per sensor


@dataclass
class StepLog:
    latencies_s: list[float] = field(default_factory=list)  # every attempt, successful or not
    late_s: list[float] = field(default_factory=list)  # how late each batch started against its schedule
    failed_attempts: int = 0
    errors: dict[str, int] = field(default_factory=dict)
    lost_batches: int = 0
    bytes_sent: int = 0
    duplicates: int = 0


async def setup_relays(client: httpx.AsyncClient, staff: dict[str, str], patient_id: str, relays: list[Relay], n: int):
    """Create sessions and relay tokens until there are ``n`` relays (8 requests at a time)."""
    gate = asyncio.Semaphore(8)

    async def one(i: int) -> Relay:
        async with gate:
            r = await client.post(
                f"/patients/{patient_id}/sessions",
                json={"kind": "home", "date": "2026-12-04", "label": f"relay {i}"},
                headers=staff,
            )
            r.raise_for_status()
            session_id = r.json()["id"]
            r = await client.post(f"/sessions/{session_id}/relay-token", json={"label": f"bench {i}"}, headers=staff)
            r.raise_for_status()
            return Relay(i, session_id, r.json()["token"])

    relays.extend(await asyncio.gather(*(one(i) for i in range(len(relays), n))))


async def run_relay(
    client: httpx.AsyncClient,
    maker: BatchMaker,
    relay: Relay,
    t0: float,
    phase_s: float,
    n_batches: int,
    batch_s: float,
    retries: int,
    log: StepLog,
) -> None:
    for j in range(n_batches):
        due = t0 + phase_s + j * batch_s
        await asyncio.sleep(max(0.0, due - time.perf_counter()))
        log.late_s.append(max(0.0, time.perf_counter() - due))
        k = relay.next_batch
        body = maker.body(relay.index, k)
        headers = {
            "Authorization": f"Bearer {relay.token}",
            "Idempotency-Key": f"r{relay.index}-b{k}",
            "Content-Type": "application/octet-stream",
        }
        url = f"/sessions/{relay.session_id}/relay-batches"
        for attempt in range(retries + 1):
            start = time.perf_counter()
            try:
                response = await client.post(url, content=body, headers=headers)
                ok = response.status_code == 200
                why = str(response.status_code)
            except httpx.HTTPError as exc:
                ok, why = False, type(exc).__name__
            log.latencies_s.append(time.perf_counter() - start)
            log.bytes_sent += len(body)
            if ok:
                answer = response.json()
                log.duplicates += int(answer["duplicates"]) if not answer["replayed"] else 0
                relay.acked_packets += maker.packets
                break
            log.failed_attempts += 1
            log.errors[why] = log.errors.get(why, 0) + 1
            await asyncio.sleep(min(2.0, 0.25 * 2**attempt))
        else:
            log.lost_batches += 1
        relay.next_batch += 1


def stored_per_session(database_url: str, session_ids: list[str]) -> dict[str, dict[int, int]]:
    from sqlalchemy import func, select

    from server.db import Database, RelayPacket

    database = Database(database_url)
    try:
        with database.session() as db:
            rows = db.execute(
                select(RelayPacket.session_id, RelayPacket.sensor_id, func.count())
                .where(RelayPacket.session_id.in_(session_ids))
                .group_by(RelayPacket.session_id, RelayPacket.sensor_id)
            ).all()
    finally:
        database.dispose()
    out: dict[str, dict[int, int]] = {s: {} for s in session_ids}
    for session_id, sensor_id, n in rows:
        out[session_id][int(sensor_id)] = int(n)
    return out


def pct(values: list[float], q: float) -> float:
    return float(np.percentile(np.asarray(values), q)) if values else float("nan")


async def run_step(
    server: Server, database_url: str, maker: BatchMaker, relays: list[Relay], args: argparse.Namespace
) -> dict[str, object]:
    n = len(relays)
    n_batches = max(1, round(args.duration_s / args.batch_s))
    # idle connections are dropped before uvicorn's 5-s keep-alive timeout closes them: reusing one the server is
    # closing fails with ReadError (a relay would retry; here it would count as a failed attempt)
    limits = httpx.Limits(max_connections=n, max_keepalive_connections=n, keepalive_expiry=4.0)
    log = StepLog()
    rng = random.Random(n)
    async with httpx.AsyncClient(base_url=f"{server.base_url}/api/v1", limits=limits, timeout=30.0) as client:
        assert server.process is not None
        cpu_server0, cpu_self0 = cpu_s(server.process.pid), own_cpu_s()
        t0 = time.perf_counter() + 0.5
        await asyncio.gather(
            *(
                run_relay(
                    client, maker, r, t0, rng.uniform(0, args.batch_s), n_batches, args.batch_s, args.retries, log
                )
                for r in relays
            )
        )
        wall = time.perf_counter() - t0
        cpu_server, cpu_self = cpu_s(server.process.pid) - cpu_server0, own_cpu_s() - cpu_self0
    stored = stored_per_session(database_url, [r.session_id for r in relays])
    short = [
        r.session_id
        for r in relays
        if any(stored[r.session_id].get(s, 0) != r.acked_packets for s, _ in SENSORS)
        or r.acked_packets != r.next_batch * maker.packets
    ]
    uploads = len(relays) * n_batches
    step: dict[str, object] = {
        "relays": n,
        "batches": uploads,
        "batches_per_relay": n_batches,
        "wall_s": round(wall, 1),
        "uploads_per_s": round(uploads / wall, 1),
        "attempts": len(log.latencies_s),
        "failed_attempts": log.failed_attempts,
        "errors": log.errors,
        "lost_batches": log.lost_batches,
        "sessions_with_missing_packets": len(short),
        "unexpected_duplicate_packets": log.duplicates,
        "packets_stored_per_s": round(uploads * maker.packets * len(SENSORS) / wall),
        "mib_per_s": round(log.bytes_sent / wall / 2**20, 2),
        "latency_p50_ms": round(1e3 * pct(log.latencies_s, 50), 1),
        "latency_p95_ms": round(1e3 * pct(log.latencies_s, 95), 1),
        "latency_p99_ms": round(1e3 * pct(log.latencies_s, 99), 1),
        "latency_max_ms": round(1e3 * max(log.latencies_s), 1),
        "start_late_p99_ms": round(1e3 * pct(log.late_s, 99), 1),
        "server_cpu_pct_of_one_core": round(100 * cpu_server / wall, 1),
        "loadgen_cpu_pct_of_one_core": round(100 * cpu_self / wall, 1),
        "machine_loadavg_1min_at_end": round(os.getloadavg()[0], 2),
    }
    step["passed"] = bool(
        pct(log.latencies_s, 99) < P99_TARGET_S and not log.failed_attempts and not log.lost_batches and not short
    )
    return step


async def bench(args: argparse.Namespace, server: Server, database_url: str) -> dict[str, object]:
    t_begin = time.monotonic()
    maker = BatchMaker(args.batch_s)
    staff = {"Authorization": f"Bearer {server.admin('create-token', '--role', 'clinician', '--clinic', 'Bench')}"}
    relays: list[Relay] = []
    steps: list[dict[str, object]] = []
    async with httpx.AsyncClient(base_url=f"{server.base_url}/api/v1", timeout=30.0) as client:
        r = await client.post("/patients", json={"code": "BENCH-1"}, headers=staff)
        r.raise_for_status()
        patient_id = r.json()["id"]
        step_s = args.duration_s + args.batch_s + 5
        todo = list(args.relays)
        while todo:
            n = todo.pop(0)
            used = time.monotonic() - t_begin
            setup_guess_s = 0.03 * max(0, n - len(relays))
            if used + step_s + setup_guess_s > args.budget_s:
                print(f"N={n}: skipped, the {args.budget_s:g}-s budget would be exceeded", flush=True)
                break
            t = time.monotonic()
            await setup_relays(client, staff, patient_id, relays, n)
            setup_s = time.monotonic() - t
            step = await run_step(server, database_url, maker, relays[:n], args)
            step["setup_s"] = round(setup_s, 1)
            steps.append(step)
            print(json.dumps(step), flush=True)
            if any(not s["passed"] for s in steps):
                # bisect between the largest N that passed and the smallest that failed, down to --resolution
                low = max((int(s["relays"]) for s in steps if s["passed"]), default=0)
                high = min(int(s["relays"]) for s in steps if not s["passed"])
                mid = (low + high) // 2 // args.resolution * args.resolution
                todo = [mid] if low < mid < high else []
    passed = [s["relays"] for s in steps if s["passed"]]
    failed = [s["relays"] for s in steps if not s["passed"]]
    return {
        "steps": steps,
        "max_sustained_relays": max(passed) if passed else None,
        "first_failing_relays": min(failed) if failed else None,
        "bench_wall_s": round(time.monotonic() - t_begin, 1),
    }


@contextlib.contextmanager
def fresh_schema(url: str | None) -> Iterator[str | None]:
    """A PostgreSQL URL whose tables live in a new schema, dropped afterwards (SQLite: ``None`` as given)."""
    if not url:
        yield None
        return
    from sqlalchemy import create_engine, text

    schema = f"fg_bench_{secrets.token_hex(6)}"
    admin = create_engine(url, isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as conn:
            conn.execute(text(f"CREATE SCHEMA {schema}"))
        yield f"{url}{'&' if '?' in url else '?'}options=-csearch_path%3D{schema}"
    finally:
        with admin.connect() as conn:
            conn.execute(text(f"DROP SCHEMA IF EXISTS {schema} CASCADE"))
        admin.dispose()


def save_per_database(out: Path, figures: dict[str, object]) -> None:
    """Print the figures and write them to ``out``, one file for both databases: a run replaces only the entry of
    its own database (``figures["database"]``)."""
    print(json.dumps(figures, indent=2))
    previous = json.loads(out.read_text()) if out.exists() else {}
    kept = {k: v for k, v in previous.items() if k in ("sqlite", "postgresql")}
    out.write_text(json.dumps({**kept, str(figures["database"]): figures}, indent=2) + "\n")


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--relays", default="200,400,800,1600", help="steps of N, comma-separated (default %(default)s)")
    ap.add_argument("--duration-s", type=float, default=60.0, help="seconds of batches per relay per step")
    ap.add_argument("--batch-s", type=float, default=10.0, help="seconds of data per batch (and between uploads)")
    ap.add_argument("--retries", type=int, default=5, help="retries of a failed upload (same key and body)")
    ap.add_argument("--resolution", type=int, default=50, help="refine the maximum N to this step")
    ap.add_argument("--budget-s", type=float, default=480.0, help="stop stepping before this much wall time")
    ap.add_argument("--database-url", help="PostgreSQL URL (default: SQLite in a temporary folder)")
    ap.add_argument("--out", type=Path, default=ROOT / "docs" / "performance_server.json")
    args = ap.parse_args()
    args.relays = [int(x) for x in args.relays.split(",")]
    loadavg_start = os.getloadavg()[0]
    with tempfile.TemporaryDirectory(prefix="fusiongait-bench-") as tmp, fresh_schema(args.database_url) as url:
        server = Server(Path(tmp) / "data", url)
        database_url = url or f"sqlite:///{server.data_dir / 'fusiongait.db'}"
        try:
            server.start(timeout_s=60)
            result = asyncio.run(bench(args, server, database_url))
        finally:
            server.stop()
    figures: dict[str, object] = {
        "date": dt.date.today().isoformat(),
        "machine": {
            "cpus": os.cpu_count(),
            "python": platform.python_version(),
            "note": "the load generator (this process) and the server share the same cores; other work on the "
            "machine is not controlled (see the load averages)",
            "loadavg_1min_at_start": round(loadavg_start, 2),
        },
        "database": "postgresql" if args.database_url else "sqlite",
        "server": "fusiongait serve (uvicorn, 1 process), analysis workers 0",
        "relay": f"3 sensors at {RATE_HZ:g} Hz, n={SAMPLES_PER_PACKET}/packet, {args.batch_s:g}-s batches "
        f"({round(args.batch_s * 1e6 / PACKET_US) * len(SENSORS)} packets) every {args.batch_s:g} s, random phase",
        "duration_s_per_step": args.duration_s,
        "target": f"p99 upload latency < {P99_TARGET_S * 1e3:.0f} ms, no loss, no failed attempt",
        **result,
    }
    save_per_database(args.out, figures)
    return 0


if __name__ == "__main__":
    sys.exit(main())
