"""Background jobs that any service process may claim (issue 10): a ``jobs`` table with leases.

Several ``fusiongait serve`` processes (uvicorn workers, or hosts) on one PostgreSQL database share the jobs table.
A request only commits its row (an ``analyses`` row, a ``home_days`` row) and :meth:`JobQueue.enqueue` a job for
it; the :class:`JobDispatcher` of every process claims queued jobs one at a time with ``SELECT ... FOR UPDATE SKIP
LOCKED`` (so two processes never take the same row, and none waits behind another's claim), sets a lease
(``lease_expires_at``, owner) in the same transaction, and hands the job to its worker pool. While a job runs its
process renews the lease every third of its length; when the job ends the process marks it ``done`` or ``failed``,
but only while it still holds the lease. A process that crashes stops renewing: when the lease has expired any
other process claims the job again (``attempts`` counts the claims); after ``max_attempts`` claims the job and its
target are marked failed, so a job that kills its worker cannot loop forever.

So a job runs exactly once while its process lives, and again only after that process stopped renewing its lease
(at least once overall; the analyses are deterministic and write the same result). Clocks of the hosts must agree
to well within the lease (NTP). On SQLite, the single-process default, ``FOR UPDATE SKIP LOCKED`` is not needed
(``BEGIN IMMEDIATE`` serialises writers) and is not rendered; the jobs a stopped service left running are queued
again at start, without waiting for their leases.
"""

from __future__ import annotations

import concurrent.futures as cf
import datetime as dt
import logging
import os
import secrets
import socket
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import and_, or_, select, update
from sqlalchemy.orm import Session

from server.db import Analysis, Database, HomeDay, Job, utcnow

__all__ = ["ClaimedJob", "JobDispatcher", "JobQueue", "default_owner"]

log = logging.getLogger("fusiongait.jobs")

#: What becomes of a job's target when the job is given up (too many attempts): kind → model with status/error.
_TARGETS: dict[str, Any] = {"analysis": Analysis, "home_day": HomeDay}


def default_owner() -> str:
    """``host:pid:random``: names this process in ``lease_owner`` (random, so a restarted pid is another owner)."""
    return f"{socket.gethostname()[:60]}:{os.getpid()}:{secrets.token_hex(4)}"


@dataclass(frozen=True, slots=True)
class ClaimedJob:
    """A job this process holds the lease of."""

    id: str
    kind: str
    target_id: str
    attempts: int


class JobQueue:
    """Enqueue, claim, renew and finish jobs in the ``jobs`` table.

    Parameters
    ----------
    database : Database
    owner : str
        This process's name in ``lease_owner`` (default: :func:`default_owner`).
    lease_s : float
        How long a claim holds without renewal.
    max_attempts : int
        Claims after which a job whose lease expired is given up (marked failed, its target too).
    """

    def __init__(
        self, database: Database, *, owner: str | None = None, lease_s: float = 60.0, max_attempts: int = 3
    ) -> None:
        if not lease_s > 0:
            raise ValueError(f"lease_s: expected a positive number of seconds, got {lease_s!r}")
        if max_attempts < 1:
            raise ValueError(f"max_attempts: expected at least 1, got {max_attempts!r}")
        self.database = database
        self.owner = owner or default_owner()
        self.lease = dt.timedelta(seconds=lease_s)
        self.max_attempts = max_attempts

    def enqueue(self, kind: str, target_id: str, db: Session | None = None) -> None:
        """Queue a job for ``target_id`` (in ``db``'s transaction, else in a transaction of its own).

        A target's job row is reused: a finished job is queued again; one that is running is marked to run once more
        when it ends (its target got new data meanwhile); a queued one stays as it is.
        """
        if db is None:
            with self.database.session() as own:
                self.enqueue(kind, target_id, own)
            return
        job = db.scalars(select(Job).where(Job.kind == kind, Job.target_id == target_id).with_for_update()).first()
        now = utcnow()
        if job is None:
            db.add(Job(kind=kind, target_id=target_id, status="queued", created_at=now, updated_at=now))
        elif job.status == "running":
            job.requeued, job.updated_at = True, now
        elif job.status in ("done", "failed"):
            job.status, job.attempts, job.error, job.created_at, job.updated_at = "queued", 0, "", now, now
            job.lease_owner = job.lease_expires_at = None

    def enqueue_missing(self, db: Session, kind: str, target_ids: Sequence[str]) -> int:
        """Queue a job for each target that has none (rows whose service stopped before queueing their job)."""
        if not target_ids:
            return 0
        have = set(db.scalars(select(Job.target_id).where(Job.kind == kind, Job.target_id.in_(target_ids))).all())
        missing = [t for t in target_ids if t not in have]
        now = utcnow()
        db.add_all(Job(kind=kind, target_id=t, status="queued", created_at=now, updated_at=now) for t in missing)
        return len(missing)

    def claim(self) -> ClaimedJob | None:
        """Take the oldest queued job, or a running one whose lease expired; None when there is none.

        Jobs past ``max_attempts`` are given up on the way (marked failed with their targets).
        """
        while True:
            with self.database.session() as db:
                now = utcnow()
                job = db.scalars(
                    select(Job)
                    .where(
                        or_(
                            Job.status == "queued",
                            and_(Job.status == "running", Job.lease_expires_at < now),
                        )
                    )
                    .order_by(Job.created_at)
                    .limit(1)
                    .with_for_update(skip_locked=True)
                ).first()
                if job is None:
                    return None
                if job.status == "running" and job.attempts >= self.max_attempts:
                    self._give_up(db, job, now)
                    continue
                if job.status == "running":
                    log.warning(
                        "job %s (%s %s): lease of %s expired, claimed again",
                        job.id,
                        job.kind,
                        job.target_id,
                        job.lease_owner,
                    )
                job.status, job.lease_owner, job.lease_expires_at = "running", self.owner, now + self.lease
                job.attempts, job.updated_at, job.requeued = job.attempts + 1, now, False
                return ClaimedJob(job.id, job.kind, job.target_id, job.attempts)

    def _give_up(self, db: Session, job: Job, now: dt.datetime) -> None:
        message = (
            f"gave up after {job.attempts} attempts: the process running it stopped each time (last: {job.lease_owner})"
        )
        log.error("job %s (%s %s): %s", job.id, job.kind, job.target_id, message)
        job.status, job.error, job.updated_at, job.lease_owner, job.lease_expires_at = (
            "failed",
            message,
            now,
            None,
            None,
        )
        model = _TARGETS.get(job.kind)
        target = db.get(model, job.target_id) if model is not None else None
        if target is not None and target.status in ("queued", "running"):
            target.status, target.error = "failed", message

    def renew(self, job_ids: list[str]) -> set[str]:
        """Extend the leases of jobs this process holds; returns the ids whose lease it no longer holds."""
        if not job_ids:
            return set()
        with self.database.session() as db:
            held = set(
                db.scalars(
                    select(Job.id)
                    .where(Job.id.in_(job_ids), Job.lease_owner == self.owner, Job.status == "running")
                    .with_for_update()
                ).all()
            )
            if held:
                db.execute(update(Job).where(Job.id.in_(held)).values(lease_expires_at=utcnow() + self.lease))
        return set(job_ids) - held

    def finish(self, job_id: str, *, failed: bool = False, error: str = "") -> bool:
        """Mark a job this process holds done (or failed); False when its lease was lost (another process has it).

        ``lease_owner`` is kept as the record of the process that ran it.

        A job queued again while it ran goes back to ``queued``.
        """
        with self.database.session() as db:
            job = db.scalars(select(Job).where(Job.id == job_id).with_for_update()).first()
            if job is None or job.lease_owner != self.owner or job.status != "running":
                return False
            job.lease_expires_at, job.updated_at = None, utcnow()  # lease_owner stays: who ran it last
            if job.requeued:
                job.status, job.requeued, job.attempts, job.error = "queued", False, 0, ""
            else:
                job.status, job.error = ("failed", error) if failed else ("done", "")
            return True

    def release(self, job_id: str) -> None:
        """Give a claimed job back unstarted (the process is stopping): queued again, this claim not counted."""
        with self.database.session() as db:
            job = db.scalars(select(Job).where(Job.id == job_id).with_for_update()).first()
            if job is not None and job.lease_owner == self.owner and job.status == "running":
                job.status, job.lease_owner, job.lease_expires_at = "queued", None, None
                job.attempts = max(0, job.attempts - 1)

    def requeue_orphans(self) -> int:
        """Queue every running job again at once (SQLite: one process, so none of them is running any more)."""
        with self.database.session() as db:
            result = db.execute(
                update(Job)
                .where(Job.status == "running")
                .values(status="queued", lease_owner=None, lease_expires_at=None, updated_at=utcnow())
            )
            return int(getattr(result, "rowcount", 0) or 0)


class JobDispatcher:
    """Claims jobs for this process and runs them in its worker pool, renewing their leases while they run.

    Parameters
    ----------
    queue : JobQueue
    pool : concurrent.futures.Executor
        Where jobs run (the service's process pool, or a thread).
    capacity : int
        Jobs held at once (the pool's size): a process claims no more than it can start.
    handlers : mapping of kind to callable
        ``handler(target_id) -> status`` for each job kind, picklable for a process pool (a module-level function
        or a ``functools.partial`` of one). A returned ``"failed"`` marks the job failed (its target holds why).
    poll_s : float
        How often the queue is looked at when nothing wakes the dispatcher (jobs queued by other processes).
    """

    def __init__(
        self,
        queue: JobQueue,
        pool: cf.Executor,
        *,
        capacity: int,
        handlers: Mapping[str, Callable[[str], str]],
        poll_s: float = 1.0,
    ) -> None:
        self.queue = queue
        self.pool = pool
        self.capacity = max(1, capacity)
        self.handlers = dict(handlers)
        self.poll_s = poll_s
        self._wake = threading.Event()
        self._stopping = threading.Event()
        self._lock = threading.Lock()
        self._inflight: dict[str, cf.Future[str]] = {}
        self._thread: threading.Thread | None = None
        self.completed: dict[str, str] = {}  # job id → final status, of this process (tests, diagnostics)

    def start(self) -> None:
        """Start claiming (on SQLite, first queue again the jobs a stopped service left running)."""
        if self.queue.database.is_sqlite:
            n = self.queue.requeue_orphans()
            if n:
                log.info("queued again %d job(s) left running by a stopped service", n)
        self._thread = threading.Thread(target=self._loop, name="fusiongait-jobs", daemon=True)
        self._thread.start()

    def enqueue(self, kind: str, target_id: str) -> None:
        """Queue a job (its target's row is committed) and wake the dispatcher."""
        if kind not in self.handlers:
            raise ValueError(f"unknown job kind {kind!r}; expected one of {', '.join(self.handlers)}")
        self.queue.enqueue(kind, target_id)
        self._wake.set()

    def stop(self) -> None:
        """Stop claiming; running jobs finish, claimed jobs not started yet are given back."""
        self._stopping.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join()
            self._thread = None

    @property
    def inflight(self) -> int:
        with self._lock:
            return len(self._inflight)

    def _loop(self) -> None:
        renew_every_s = self.queue.lease.total_seconds() / 3.0
        next_renew = 0.0
        while not self._stopping.is_set():
            try:
                now = time.monotonic()
                if now >= next_renew:
                    with self._lock:
                        ids = list(self._inflight)
                    for lost in self.queue.renew(ids):
                        log.warning("job %s: this process lost its lease (it will not record the result)", lost)
                    next_renew = now + renew_every_s
                while self.inflight < self.capacity and not self._stopping.is_set():
                    job = self.queue.claim()
                    if job is None:
                        break
                    self._start(job)
            except Exception:  # the database went away for a moment: try again at the next poll
                log.exception("claiming jobs failed")
            self._wake.wait(timeout=min(self.poll_s, renew_every_s))
            self._wake.clear()

    def _start(self, job: ClaimedJob) -> None:
        handler = self.handlers.get(job.kind)
        if handler is None:
            self.queue.finish(job.id, failed=True, error=f"no handler for job kind {job.kind!r} in this service")
            return
        log.info(
            "job %s (%s %s) claimed by %s, attempt %d", job.id, job.kind, job.target_id, self.queue.owner, job.attempts
        )
        try:
            future = self.pool.submit(handler, job.target_id)
        except RuntimeError:  # the pool is shutting down
            self.queue.release(job.id)
            return
        with self._lock:
            self._inflight[job.id] = future
        future.add_done_callback(lambda f: self._done(job, f))

    def _done(self, job: ClaimedJob, future: cf.Future[str]) -> None:
        try:
            if future.cancelled():
                self.queue.release(job.id)
                return
            exc = future.exception()
            status = "failed" if exc is not None else future.result()
            error = f"{type(exc).__name__}: {exc}" if exc is not None else ""
            if exc is not None:
                log.error("job %s (%s %s) raised %s", job.id, job.kind, job.target_id, error)
            if self.queue.finish(job.id, failed=status == "failed", error=error):
                self.completed[job.id] = status
        except Exception:
            log.exception("finishing job %s failed", job.id)
        finally:
            with self._lock:
                self._inflight.pop(job.id, None)
            self._wake.set()
