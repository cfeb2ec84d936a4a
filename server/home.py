"""Home monitoring in the service: relay uploads → one everyday-walking analysis per calendar day → trends.

A home session collects what the patient's relay uploads for weeks (:mod:`server.ingest`). Each packet carries
the relay's wall-clock time, so the service knows which local calendar day (the patient's ``utc_offset_min``) it
belongs to. A day is analysed by :class:`gait.daily.DailyAnalyzer` on that day's packets only, in a background job
(:class:`server.jobs.AnalysisRunner`), and the result stored in ``home_days``. A day is analysed again when packets
arrived for it since (a phone that was offline uploads yesterday's data today): :func:`queue_stale_days` compares
the day's packet count with the count its last analysis was queued for. The service queues stale days by itself
every ``home_analysis_interval_s`` and on request.

Trends (:func:`patient_trends`) put the done days of all the patient's home sessions together and judge them with
:class:`gait.trends.HomeTrendReport` against the baseline period (CLINICAL.md §5 rule 4): the one set on the patient,
else the pre-op home week when there are enough valid days before the surgery date, else the first week of
monitoring (said so in the document, so the clinician sets the post-op plateau).
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import logging
from typing import Any, Final

from sqlalchemy import select
from sqlalchemy.orm import Session

from firmware_bridge.errors import BridgeError
from firmware_bridge.readers.capture_format import assemble_capture
from gait.errors import GaitError
from hardware.errors import HardwareError
from server.db import WALL_BUCKET_NS, Database, GaitSession, HomeDay, Patient, RelayPacketBucket, utcnow
from server.errors import ServiceError
from server.ingest import relay_capture

__all__ = [
    "NS_PER_DAY",
    "baseline_period",
    "day_window_ns",
    "packet_days",
    "patient_home_days",
    "patient_trends",
    "queue_stale_days",
    "run_home_day",
    "stale_home_sessions",
]

log = logging.getLogger("fusiongait.home")

NS_PER_DAY: Final = 86_400 * 10**9
_EPOCH: Final = dt.date(1970, 1, 1).toordinal()


def day_window_ns(day: dt.date, utc_offset_min: int) -> tuple[int, int]:
    """``[start, end)`` of a local calendar day in UTC nanoseconds."""
    start = (day.toordinal() - _EPOCH) * NS_PER_DAY - utc_offset_min * 60 * 10**9
    return start, start + NS_PER_DAY


def packet_days(db: Session, session_id: str, utc_offset_min: int) -> dict[dt.date, int]:
    """IMU packets of a session per local calendar day (packets without a wall-clock time are not counted).

    Read from the session's wall-clock buckets (:class:`server.db.RelayPacketBucket`, kept by the ingest), a few
    rows per day: the service asks this of every home session every ``home_analysis_interval_s``.

    Raises
    ------
    ServiceError
        ``utc_offset_min`` is not a whole number of buckets (a quarter of an hour, as every real UTC offset is).
    """
    offset_ns = utc_offset_min * 60 * 10**9
    if offset_ns % WALL_BUCKET_NS:
        raise ServiceError(
            f"utc_offset_min: {utc_offset_min} min is not a whole number of quarter hours; calendar days can't be "
            "counted on that offset"
        )
    rows = db.execute(
        select(RelayPacketBucket.bucket, RelayPacketBucket.n_packets).where(RelayPacketBucket.session_id == session_id)
    ).all()
    counts: dict[dt.date, int] = {}
    for bucket, n in rows:
        day = dt.date.fromordinal(_EPOCH + (int(bucket) * WALL_BUCKET_NS + offset_ns) // NS_PER_DAY)
        counts[day] = counts.get(day, 0) + int(n)
    return counts


def queue_stale_days(db: Session, session: GaitSession, patient: Patient, *, force: bool = False) -> list[HomeDay]:
    """Queue the days of a home session that have no analysis yet or got packets since their last one.

    Parameters
    ----------
    force : bool
        Queue every day with packets again (after a change of the patient's height or time zone).

    Returns
    -------
    list of HomeDay
        The rows queued (flushed, in date order); the caller submits them once the transaction commits.
    """
    counts = packet_days(db, session.id, patient.utc_offset_min)
    existing = {d.date: d for d in db.scalars(select(HomeDay).where(HomeDay.session_id == session.id))}
    queued = []
    for day, n in sorted(counts.items()):
        row = existing.get(day)
        if row is None:
            row = HomeDay(session_id=session.id, date=day, n_packets=n, status="queued", error="", warnings=[])
            db.add(row)
        elif row.n_packets == n and not force:
            continue
        else:
            row.status, row.n_packets, row.error, row.updated_at = "queued", n, "", utcnow()
        queued.append(row)
    db.flush()
    return queued


def stale_home_sessions(db: Session) -> list[tuple[GaitSession, Patient]]:
    """Home sessions with relay packets on the wall clock, and their patients (for the periodic look for stale days)."""
    rows = db.execute(
        select(GaitSession, Patient)
        .join(Patient, Patient.id == GaitSession.patient_id)
        .where(
            GaitSession.kind == "home",
            select(RelayPacketBucket.bucket).where(RelayPacketBucket.session_id == GaitSession.id).exists(),
        )
    ).all()
    return [(s, p) for s, p in rows]


def run_home_day(database_url: str, home_day_id: str, *, min_wear_s: float | None = None) -> str:
    """Analyse one queued day (in a worker process, or a thread when the pool has none); returns the final status.

    ``min_wear_s`` replaces the rules file's wear time a day needs (a protocol with shorter daily wear).

    Never raises for bad data: the reason goes into the row. When the day was queued again while this ran (more
    packets came), the result is dropped: the newer job writes it.
    """
    from gait.daily import DailyAnalyzer, DailyRules  # noqa: PLC0415 - heavy imports, only in the worker
    from gait.pipeline import GaitPipeline  # noqa: PLC0415

    database = Database(database_url)
    try:
        with database.session() as db:
            row = db.get(HomeDay, home_day_id)
            if row is None:
                return "missing"
            row.status, row.updated_at = "running", utcnow()
            n_packets, day = row.n_packets, row.date
        result: dict[str, Any] | None = None
        warnings: list[str] = []
        try:
            with database.session(read_only=True) as db:
                session = db.get(GaitSession, row.session_id)
                patient = db.get(Patient, session.patient_id) if session is not None else None
                if session is None or patient is None:
                    raise ServiceError("the session was deleted")
                start_ns, end_ns = day_window_ns(day, patient.utc_offset_min)
                capture = relay_capture(db, session, wall_from_ns=start_ns, wall_to_ns=end_ns)
                heights = (patient.height_m if patient.sensor_height_m is None else None, patient.sensor_height_m)
                utc_offset_s = patient.utc_offset_min * 60.0
            if capture is None:
                raise ServiceError(f"no relay packets on {day.isoformat()}")
            assembled = assemble_capture(capture, name=f"relay uploads of {day.isoformat()}")
            warnings = list(assembled.warnings)
            rules = DailyRules.from_rules()
            if min_wear_s is not None:
                rules = dataclasses.replace(rules, min_wear_s=float(min_wear_s))
            analyzer = DailyAnalyzer(
                pipeline=GaitPipeline(height_m=heights[0], sensor_height_m=heights[1]),
                rules=rules,
                utc_offset_s=utc_offset_s,
            )
            doc = analyzer.run(assembled.recording).to_json()
            days = [d for d in doc["days"] if d["date"] == day.isoformat()]
            if not days:
                raise ServiceError(f"the analysis found no data dated {day.isoformat()} in that day's packets")
            result = {**doc, "days": days}
            warnings += [str(w) for w in doc.get("warnings", [])]
            status, error = "done", ""
        except (BridgeError, HardwareError, GaitError, ServiceError) as exc:
            status, error = "failed", " ".join(str(exc).splitlines())
        except Exception as exc:  # a bug must not leave the day 'running' forever
            log.exception("home day %s failed", home_day_id)
            status, error = "failed", f"internal error: {type(exc).__name__}: {exc}"
        with database.session() as db:
            row = db.get(HomeDay, home_day_id)
            if row is None or row.n_packets != n_packets:
                return "superseded"
            row.status, row.error, row.result, row.warnings = status, error, result, warnings
            row.updated_at = utcnow()
        return status
    finally:
        database.dispose()


# ------------------------------------------------------------------------------------------------------ trends
def patient_home_days(db: Session, patient: Patient) -> list[dict[str, Any]]:
    """The analysed days of all the patient's home sessions, one per date (the one with most wear time when two
    relays covered the same day), each with its session id."""
    rows = db.execute(
        select(HomeDay, GaitSession.id)
        .join(GaitSession, GaitSession.id == HomeDay.session_id)
        .where(GaitSession.patient_id == patient.id, GaitSession.kind == "home", HomeDay.status == "done")
    ).all()
    best: dict[str, dict[str, Any]] = {}
    for row, session_id in rows:
        if not row.result or not row.result.get("days"):
            continue
        entry = {**row.result["days"][0], "session_id": session_id}
        have = best.get(entry["date"])
        if have is None or (entry.get("wear_s") or 0.0) > (have.get("wear_s") or 0.0):
            best[entry["date"]] = entry
    return [best[d] for d in sorted(best)]


def baseline_period(patient: Patient, days: list[dict[str, Any]], min_valid_days: int) -> tuple[str, str, str]:
    """The home baseline of a patient (:func:`gait.trends.home_baseline`): first and last ISO date and what it is."""
    from gait.trends import home_baseline  # noqa: PLC0415 - numpy/scipy only where trends are asked for

    start, end = patient.home_baseline_start, patient.home_baseline_end
    chosen = home_baseline(
        days,
        period=(start, end) if start is not None and end is not None else None,
        surgery_date=patient.surgery_date,
        min_valid_days=min_valid_days,
        period_source="baseline period set for the patient",
        plateau_hint="set the post-op plateau on the patient",
    )
    if chosen is None:
        today = dt.date.today().isoformat()
        return today, today, "no home days yet"
    return chosen


def patient_trends(db: Session, patient: Patient) -> dict[str, Any]:
    """The ``fusiongait.home_trends/1`` document of a patient, with the patient's code and the days' sessions."""
    from gait.daily import DailyRules  # noqa: PLC0415 - numpy/scipy only where trends are asked for
    from gait.trends import HomeTrendReport, TrendAnalyzer  # noqa: PLC0415

    days = patient_home_days(db, patient)
    analyzer = TrendAnalyzer()
    start, end, source = baseline_period(patient, days, analyzer.min_valid_days)
    rules = DailyRules.from_rules()
    doc = HomeTrendReport(analyzer=analyzer, min_strides_per_side=rules.kinematics_min_strides_per_side).run(
        days, baseline=(start, end), baseline_source=source
    )
    sessions = {d["date"]: d["session_id"] for d in days}
    for entry in doc["days"]:
        entry["session_id"] = sessions.get(entry["date"])
    return {
        **doc,
        "patient": {"id": patient.id, "code": patient.code, "surgery_date": _iso(patient.surgery_date)},
        "generated_at": utcnow().isoformat(),
    }


def _iso(day: dt.date | None) -> str | None:
    return None if day is None else day.isoformat()
