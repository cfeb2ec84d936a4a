"""Background analyses: a worker pool in the service, off the request path, with the job's state in the database.

A request only inserts an ``analyses`` row (``queued``) and hands its id to :class:`AnalysisRunner`. A worker
process opens the database itself, loads the session's data (an uploaded capture, the CSV files, or the relay
packets), runs :func:`server.analysis.analyze_recording` with the patient's earlier reports as baselines, and stores
the report (``done``) or the reason it could not (``failed``). The jobs go through the ``jobs`` table
(:mod:`server.job_queue`): any service process on the same database may claim one (``SELECT ... FOR UPDATE SKIP
LOCKED``, with a lease that a crashed process stops renewing), so several processes share the work and a job left
by a stopped service runs again, here or in another process.
"""

from __future__ import annotations

import concurrent.futures as cf
import functools
import logging
import multiprocessing
import tempfile
from pathlib import Path
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from firmware_bridge.errors import BridgeError
from firmware_bridge.readers.capture_format import assemble_capture
from firmware_bridge.readers.csv_format import read_recording
from gait.errors import GaitError
from gait.recording import Recording
from hardware.capture import parse_capture
from hardware.errors import HardwareError
from server.analysis import AnalysisOptions, analyze_recording
from server.blobs import BlobStore
from server.db import Analysis, Database, GaitSession, HomeDay, Patient, RecordingFile, utcnow
from server.errors import ServiceError
from server.home import run_home_day
from server.ingest import relay_capture
from server.job_queue import JobDispatcher, JobQueue

__all__ = ["AnalysisRunner", "load_session_recording", "run_analysis"]

log = logging.getLogger("fusiongait.jobs")


def load_session_recording(
    db: Session, blobs: BlobStore, session: GaitSession
) -> tuple[Recording, list[str], dict[str, str]]:
    """The data of a session as one Recording: the newest uploaded capture, else its CSV files (one per placement,
    the newest of each), else what its relays uploaded.

    Returns
    -------
    recording, warnings, inputs (placement → where its data came from)

    Raises
    ------
    BridgeError, HardwareError
        When the data cannot be read; ServiceError when the session has none.
    """
    files = db.scalars(
        select(RecordingFile).where(RecordingFile.session_id == session.id).order_by(RecordingFile.created_at.desc())
    ).all()
    captures = [f for f in files if f.format == "capture"]
    if captures:
        f = captures[0]
        assembled = assemble_capture(parse_capture(blobs.get(f.sha256)), name=f.filename or f"recording {f.id}")
        return assembled.recording, assembled.warnings, {p: f.filename or f.id for p in assembled.recording.placements}
    csv_files: dict[str, RecordingFile] = {}
    for f in files:
        if f.format == "csv" and f.placement is not None:
            csv_files.setdefault(f.placement, f)
    if csv_files:
        with tempfile.TemporaryDirectory(prefix="fusiongait-") as tmp:
            paths = {}
            for placement, f in csv_files.items():
                path = Path(tmp) / (Path(f.filename).name if f.filename else f"{placement}.csv")
                if path.exists():
                    path = Path(tmp) / f"{placement}-{f.id}.csv"
                path.write_bytes(blobs.get(f.sha256))
                paths[placement] = path
            recording, warnings = read_recording(paths)
        warnings = [w.replace(f"{tmp}/", "") for w in warnings]
        return recording, warnings, {p: f.filename or f.id for p, f in csv_files.items()}
    capture = relay_capture(db, session)
    if capture is not None:
        assembled = assemble_capture(capture, name="relay uploads")
        return assembled.recording, assembled.warnings, dict.fromkeys(assembled.recording.placements, "relay")
    raise ServiceError("the session has no recording: upload a capture or CSV files, or relay batches")


def _baselines(db: Session, session: GaitSession) -> list[dict[str, Any]]:
    """The newest finished report of each earlier session of the same patient, oldest session first."""
    earlier = db.scalars(
        select(GaitSession)
        .where(GaitSession.patient_id == session.patient_id, GaitSession.date < session.date)
        .order_by(GaitSession.date, GaitSession.created_at)
    ).all()
    reports = []
    for s in earlier:
        done = db.scalars(
            select(Analysis)
            .where(Analysis.session_id == s.id, Analysis.status == "done")
            .order_by(Analysis.finished_at.desc())
            .limit(1)
        ).first()
        if done is not None and done.report is not None:
            reports.append(done.report)
    return reports


def run_analysis(database_url: str, blob_root: str, analysis_id: str) -> str:
    """Run one queued analysis to its end (in a worker process, or a thread when the pool has no processes).

    Returns the final status. Never raises for bad data: the reason goes into the row.
    """
    database = Database(database_url)
    blobs = BlobStore(Path(blob_root))
    try:
        with database.session() as db:
            job = db.get(Analysis, analysis_id)
            if job is None or job.status == "done":
                return "missing" if job is None else job.status
            job.status, job.started_at, job.error = "running", utcnow(), ""
        try:
            with database.session() as db:
                session = db.get(GaitSession, job.session_id)
                patient = db.get(Patient, session.patient_id) if session is not None else None
                if session is None or patient is None:
                    raise ServiceError("the session was deleted")
                recording, reader_warnings, inputs = load_session_recording(db, blobs, session)
                baselines = _baselines(db, session)
                options = AnalysisOptions(
                    height_m=patient.height_m if patient.sensor_height_m is None else None,
                    sensor_height_m=patient.sensor_height_m,
                    session={"patient": patient.code, "date": session.date.isoformat(), "label": session.label},
                )
            outcome = analyze_recording(
                recording, options=options, reader_warnings=reader_warnings, inputs=inputs, baselines=baselines
            )
        except (BridgeError, HardwareError, GaitError, ServiceError) as exc:
            status, error, report, warnings = "failed", " ".join(str(exc).splitlines()), None, list[str]()
        except Exception as exc:  # a bug must not leave the job 'running' forever
            log.exception("analysis %s failed", analysis_id)
            status, error, report, warnings = "failed", f"internal error: {type(exc).__name__}: {exc}", None, []
        else:
            status, error, report, warnings = "done", "", outcome.report, outcome.warnings
        with database.session() as db:
            job = db.get(Analysis, analysis_id)
            if job is not None:
                job.status, job.error, job.report, job.warnings = status, error, report, warnings
                job.finished_at = utcnow()
        return status
    finally:
        database.dispose()


class AnalysisRunner:
    """The service's pool of analysis workers.

    Parameters
    ----------
    database_url : str
    blob_root : Path
    workers : int
        Worker processes (spawned, so they share nothing with the service's threads); 0 runs jobs in one thread
        of the service instead (tests, tiny deployments).
    home_min_wear_s : float, optional
        Wear time a home day needs (default: the rules file's).
    """

    def __init__(
        self,
        database_url: str,
        blob_root: Path,
        *,
        workers: int = 1,
        home_min_wear_s: float | None = None,
        lease_s: float = 60.0,
        poll_s: float = 1.0,
    ) -> None:
        self.home_min_wear_s = home_min_wear_s
        self.database_url = database_url
        self.blob_root = str(blob_root)
        self.workers = workers
        self.lease_s = lease_s
        self.poll_s = poll_s
        self._pool: cf.Executor | None = None
        self.dispatcher: JobDispatcher | None = None

    def start(self, database: Database) -> None:
        """Start the pool and claim jobs: queued ones, and those a stopped process left (lease expired)."""
        if self.workers > 0:
            self._pool = cf.ProcessPoolExecutor(self.workers, mp_context=multiprocessing.get_context("spawn"))
        else:
            self._pool = cf.ThreadPoolExecutor(1, thread_name_prefix="fusiongait-analysis")
        handlers = {
            "analysis": functools.partial(run_analysis, self.database_url, self.blob_root),
            "home_day": functools.partial(run_home_day, self.database_url, min_wear_s=self.home_min_wear_s),
        }
        queue = JobQueue(database, lease_s=self.lease_s)
        # Rows queued by a service that stopped between their commit and their job's: give them a job now.
        with database.session() as db:
            pending = db.scalars(select(Analysis.id).where(Analysis.status.in_(("queued", "running")))).all()
            days = db.scalars(select(HomeDay.id).where(HomeDay.status.in_(("queued", "running")))).all()
            queue.enqueue_missing(db, "analysis", pending)
            queue.enqueue_missing(db, "home_day", days)
        self.dispatcher = JobDispatcher(
            queue, self._pool, capacity=max(1, self.workers), handlers=handlers, poll_s=self.poll_s
        )
        self.dispatcher.start()

    def submit(self, analysis_id: str) -> None:
        """Queue an analysis whose row is committed (any service process on the database may run it)."""
        if self.dispatcher is None:
            raise RuntimeError("the analysis runner is not started")
        self.dispatcher.enqueue("analysis", analysis_id)

    def submit_home_day(self, home_day_id: str) -> None:
        """Queue the everyday-walking analysis of one home day whose row is committed (:mod:`server.home`)."""
        if self.dispatcher is None:
            raise RuntimeError("the analysis runner is not started")
        self.dispatcher.enqueue("home_day", home_day_id)

    def stop(self) -> None:
        """Stop claiming jobs; running ones finish, claimed ones not started go back to the queue."""
        if self.dispatcher is not None:
            self.dispatcher.stop()
        if self._pool is not None:
            self._pool.shutdown(wait=True, cancel_futures=True)
            self._pool = None
        self.dispatcher = None
