"""Two real ``fusiongait serve`` processes on one PostgreSQL database (issue 10): analyses submitted to either are
each executed exactly once, by whichever process claims them first (the jobs table, server.job_queue).

Both processes share the data folder (the stored recordings) and the database (a schema of the test's own).
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Iterator, Mapping
from pathlib import Path

import httpx
import pytest
from sqlalchemy import select

from server.db import Analysis, Database, Job
from tests.server.processes import Server

FIXTURE = Path(__file__).resolve().parents[1] / "fixtures" / "healthy_walk.imucap"


@contextlib.contextmanager
def server_pair(
    data_dir: Path, pg_url: str, label: str, settings: Mapping[str, str] | None = None
) -> Iterator[tuple[Server, Server]]:
    """Services A and B on one data folder and database (with ``settings``), started and stopped."""
    a = Server(data_dir, pg_url, settings=dict(settings or {}))
    b = Server(data_dir, pg_url, settings=dict(settings or {}))
    b.starts = 100  # its own log file name
    try:
        a.admin("create-token", "--role", "admin", "--label", label)  # migrates the schema first
        a.start()
        b.start()
        yield a, b
    finally:
        a.stop()
        b.stop()


@pytest.fixture
def servers(tmp_path: Path, pg_url: str) -> Iterator[tuple[Server, Server]]:
    with server_pair(tmp_path / "data", pg_url, "multiprocess test") as pair:
        yield pair


def test_a_job_submitted_to_either_process_runs_exactly_once(servers: tuple[Server, Server], pg_url: str) -> None:
    a, b = servers
    token = a.admin("create-token", "--role", "clinician", "--clinic", "C1")
    headers = {"Authorization": f"Bearer {token}"}
    apis = [httpx.Client(base_url=f"{s.base_url}/api/v1", headers=headers, timeout=30) for s in (a, b)]

    def ok(response: httpx.Response, status: int = 200) -> dict[str, object]:
        assert response.status_code == status, f"{response.status_code}: {response.text}"
        return dict(response.json())

    patient = ok(apis[0].post("/patients", json={"code": "P-MULTI"}), 201)["id"]
    session = ok(apis[1].post(f"/patients/{patient}/sessions", json={"kind": "clinic", "date": "2026-12-04"}), 201)
    url = f"/sessions/{session['id']}/recordings?format=capture&filename=walk.imucap"
    ok(apis[0].post(url, content=FIXTURE.read_bytes()), 201)

    # Six analyses, submitted alternately to A and B; each is polled through the other process.
    submitted = []
    for i in range(6):
        submitted.append(str(ok(apis[i % 2].post(f"/sessions/{session['id']}/analyses"), 202)["id"]))
    deadline = time.monotonic() + 120
    status: dict[str, str] = {}
    while time.monotonic() < deadline and len(status) < len(submitted):
        for i, analysis_id in enumerate(submitted):
            state = ok(apis[(i + 1) % 2].get(f"/analyses/{analysis_id}"))["status"]
            if state in ("done", "failed"):
                status[analysis_id] = str(state)
        time.sleep(0.2)
    assert status == dict.fromkeys(submitted, "done"), f"{status}\nA: {a.log_tail()}\nB: {b.log_tail()}"

    database = Database(pg_url)
    try:
        with database.session() as db:
            jobs = db.scalars(select(Job).where(Job.kind == "analysis")).all()
            analyses = db.scalars(select(Analysis).where(Analysis.id.in_(submitted))).all()
    finally:
        database.dispose()
    assert sorted(j.target_id for j in jobs) == sorted(submitted)  # one job per analysis
    assert {(j.status, j.attempts) for j in jobs} == {("done", 1)}  # each claimed once
    pids = {a.process.pid: "A", b.process.pid: "B"}  # type: ignore[union-attr]
    ran_by = {j.target_id: pids.get(int(str(j.lease_owner).split(":")[1])) for j in jobs}
    assert set(ran_by.values()) == {"A", "B"}, ran_by  # both processes took work, neither twice
    reports = {x.id: x.report for x in analyses}
    first = reports[submitted[0]]
    assert first is not None and all(r == first for r in reports.values())  # the same report whoever ran it
