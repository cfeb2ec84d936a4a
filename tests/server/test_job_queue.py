"""The jobs table (server.job_queue): claims are exclusive across processes' connections, leases expire and are
claimed again, a job is given up after too many claims, and SQLite re-queues what a stopped service left running.
Each test runs on SQLite and on PostgreSQL (a schema of its own; skipped when no server answers)."""

from __future__ import annotations

import concurrent.futures as cf
import datetime as dt
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import select

from server.db import Analysis, Clinic, Database, GaitSession, Job, Patient
from server.job_queue import JobDispatcher, JobQueue
from tests.server.conftest import make_api


@pytest.fixture
def database(tmp_path: Path, database_url: str | None) -> Iterator[Database]:
    db = Database(database_url or f"sqlite:///{tmp_path / 'fg.db'}")
    db.migrate()
    try:
        yield db
    finally:
        db.dispose()


def _analysis(database: Database) -> str:
    with database.session() as db:
        clinic = Clinic(name=f"c{time.monotonic_ns()}")
        db.add(clinic)
        db.flush()
        patient = Patient(clinic_id=clinic.id, code="P1")
        db.add(patient)
        db.flush()
        session = GaitSession(patient_id=patient.id, kind="clinic", date=dt.date(2026, 3, 1))
        db.add(session)
        db.flush()
        analysis = Analysis(session_id=session.id, status="queued")
        db.add(analysis)
        db.flush()
        return analysis.id


def test_concurrent_claims_take_each_job_exactly_once(database: Database) -> None:
    n_jobs, n_claimers = 30, 4
    seed = JobQueue(database)
    for i in range(n_jobs):
        seed.enqueue("analysis", f"target{i:03d}")
    claimed: list[list[str]] = [[] for _ in range(n_claimers)]
    barrier = threading.Barrier(n_claimers)

    def claimer(k: int) -> None:
        own = Database(database.url)  # a connection pool of its own, as another process would have
        try:
            queue = JobQueue(own, owner=f"claimer-{k}")
            barrier.wait()
            while (job := queue.claim()) is not None:
                claimed[k].append(job.target_id)
                assert queue.finish(job.id)
        finally:
            own.dispose()

    with cf.ThreadPoolExecutor(n_claimers) as pool:
        for f in [pool.submit(claimer, k) for k in range(n_claimers)]:
            f.result()
    everything = [t for c in claimed for t in c]
    assert sorted(everything) == [f"target{i:03d}" for i in range(n_jobs)]  # each once, none lost
    with database.session() as db:
        jobs = db.scalars(select(Job)).all()
    assert {(j.status, j.attempts, j.lease_expires_at) for j in jobs} == {("done", 1, None)}
    assert {j.target_id: j.lease_owner for j in jobs} == {t: f"claimer-{k}" for k, c in enumerate(claimed) for t in c}


def test_an_expired_lease_is_claimed_again_and_the_old_owner_cannot_finish(database: Database) -> None:
    a = JobQueue(database, owner="a", lease_s=0.3)
    b = JobQueue(database, owner="b", lease_s=30.0)
    a.enqueue("analysis", "t1")
    job = a.claim()
    assert job is not None and job.attempts == 1
    assert b.claim() is None  # held by a
    assert a.renew([job.id]) == set()  # a renews: still held
    time.sleep(0.4)  # a "crashes": no renewal
    again = b.claim()
    assert again is not None and (again.id, again.attempts) == (job.id, 2)
    assert a.renew([job.id]) == {job.id}
    assert not a.finish(job.id)  # a's late result is not recorded
    assert b.finish(job.id)
    with database.session() as db:
        row = db.get(Job, job.id)
        assert row is not None and (row.status, row.lease_owner, row.lease_expires_at) == ("done", "b", None)


def test_a_job_whose_process_keeps_dying_is_given_up_with_its_target(database: Database) -> None:
    analysis_id = _analysis(database)
    queue = JobQueue(database, owner="x", lease_s=0.1, max_attempts=2)
    queue.enqueue("analysis", analysis_id)
    assert queue.claim() is not None
    time.sleep(0.15)
    assert queue.claim() is not None  # attempt 2
    time.sleep(0.15)
    assert queue.claim() is None  # attempt 3 would pass max_attempts: given up instead
    with database.session() as db:
        job = db.scalars(select(Job)).one()
        analysis = db.get(Analysis, analysis_id)
        assert job.status == "failed" and "gave up after 2 attempts" in job.error
        assert analysis is not None and analysis.status == "failed" and "gave up" in analysis.error


def test_queued_again_while_running_runs_once_more(database: Database) -> None:
    queue = JobQueue(database, owner="x")
    queue.enqueue("home_day", "d1")
    job = queue.claim()
    assert job is not None
    queue.enqueue("home_day", "d1")  # new data came while it ran
    assert queue.claim() is None  # not twice at once
    assert queue.finish(job.id)
    again = queue.claim()
    assert again is not None and again.id == job.id and again.attempts == 1
    assert queue.finish(again.id)
    queue.enqueue("home_day", "d1")  # a finished job is queued again
    assert queue.claim() is not None


def test_dispatcher_runs_jobs_in_its_pool_and_sqlite_requeues_orphans(tmp_path: Path) -> None:
    database = Database(f"sqlite:///{tmp_path / 'fg.db'}")
    database.migrate()
    try:
        stale = JobQueue(database, owner="stopped-service", lease_s=3600)
        stale.enqueue("analysis", "left-running")
        assert stale.claim() is not None  # the service stopped while this ran
        ran: list[str] = []
        with cf.ThreadPoolExecutor(2) as pool:
            dispatcher = JobDispatcher(
                JobQueue(database, owner="new"),
                pool,
                capacity=2,
                handlers={"analysis": lambda t: ran.append(t) or "done"},
                poll_s=0.05,
            )
            dispatcher.start()
            dispatcher.enqueue("analysis", "fresh")
            deadline = time.monotonic() + 10
            while len(dispatcher.completed) < 2 and time.monotonic() < deadline:
                time.sleep(0.02)
            dispatcher.stop()
        assert sorted(ran) == ["fresh", "left-running"]
        with pytest.raises(ValueError, match="unknown job kind"):
            dispatcher.enqueue("nope", "x")
    finally:
        database.dispose()


def test_the_lease_and_poll_settings_reach_the_runner(tmp_path: Path) -> None:
    for api in make_api(tmp_path, None, job_lease_s=30.0, job_poll_s=0.25):
        runner = api.client.app.state.service.runner  # type: ignore[attr-defined]
        assert (runner.lease_s, runner.poll_s) == (30.0, 0.25)
