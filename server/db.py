"""Storage: the SQLAlchemy models, the engine (SQLite in WAL mode by default, PostgreSQL by URL) and migrations.

Metadata lives in the database; the bytes of uploaded recordings live as content-addressed files
(:mod:`server.blobs`). Relay packets are rows, one per packet, unique on (session, sensor, type, sample_idx,
device time): a retried or duplicated upload inserts nothing twice (hardware/PROTOCOL.md §6). The device time is
part of the key because ``sample_idx`` restarts at 0 after a sensor reboots (§3), which must not read as a
duplicate of the first boot's samples.

The schema is created and upgraded by Alembic (``server/migrations``); :func:`migrate` runs it at start-up.
"""

from __future__ import annotations

import datetime as dt
import secrets
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    DateTime,
    Enum,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    String,
    Text,
    TypeDecorator,
    UniqueConstraint,
    create_engine,
    event,
)
from sqlalchemy.engine import Engine
from sqlalchemy.orm import DeclarativeBase, Mapped, Session, mapped_column, sessionmaker

__all__ = [
    "ROLES",
    "WALL_BUCKET_NS",
    "Analysis",
    "AuditEntry",
    "Base",
    "Clinic",
    "Database",
    "Device",
    "GaitSession",
    "HomeDay",
    "IdempotencyRecord",
    "Job",
    "Patient",
    "RecordingFile",
    "RelayPacket",
    "RelayPacketBucket",
    "Token",
    "new_id",
    "utcnow",
]

ROLES = ("admin", "clinician", "relay")
#: Width of a :class:`RelayPacketBucket` on the relay's wall clock: 15 min, so every local calendar day (UTC offsets
#: are whole quarter hours) is a whole number of buckets.
WALL_BUCKET_NS = 15 * 60 * 10**9
MIGRATIONS = Path(__file__).with_name("migrations")


def new_id() -> str:
    """An opaque random identifier (not guessable, so ids say nothing about other records)."""
    return secrets.token_hex(12)


def utcnow() -> dt.datetime:
    """Now, in UTC, timezone-aware."""
    return dt.datetime.now(dt.UTC)


class UTCDateTime(TypeDecorator[dt.datetime]):
    """A timestamp stored in UTC and always read back timezone-aware (SQLite drops the zone)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: dt.datetime | None, dialect: Any) -> dt.datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime: expected a timezone-aware UTC time")
        return value.astimezone(dt.UTC)

    def process_result_value(self, value: dt.datetime | None, dialect: Any) -> dt.datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=dt.UTC) if value.tzinfo is None else value.astimezone(dt.UTC)


class Base(DeclarativeBase):
    """Declarative base of the service's tables."""


class Clinic(Base):
    __tablename__ = "clinics"
    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_id)
    name: Mapped[str] = mapped_column(String(200), unique=True)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)


class Patient(Base):
    __tablename__ = "patients"
    __table_args__ = (UniqueConstraint("clinic_id", "code"),)
    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_id)
    clinic_id: Mapped[str] = mapped_column(ForeignKey("clinics.id"), index=True)
    code: Mapped[str] = mapped_column(String(64))  # the clinic's pseudonymous patient code
    height_m: Mapped[float | None]
    sensor_height_m: Mapped[float | None]
    surgery_date: Mapped[dt.date | None]
    notes: Mapped[str] = mapped_column(Text, default="")
    # Home monitoring: the patient's local time (calendar days start at local midnight) and the baseline period
    # the home trends compare with (CLINICAL.md §5 rule 4; unset: the pre-op days, else the first week).
    utc_offset_min: Mapped[int] = mapped_column(Integer, default=0)
    home_baseline_start: Mapped[dt.date | None]
    home_baseline_end: Mapped[dt.date | None]
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)


class GaitSession(Base):
    __tablename__ = "sessions"
    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_id)
    patient_id: Mapped[str] = mapped_column(ForeignKey("patients.id"), index=True)
    kind: Mapped[str] = mapped_column(Enum("clinic", "home", name="session_kind", native_enum=False))
    date: Mapped[dt.date]
    label: Mapped[str] = mapped_column(String(200), default="")
    #: sensor_id (as a string) → placement, fixed by the first relay batch or capture that names them.
    sensors: Mapped[dict[str, str]] = mapped_column(JSON, default=dict)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)


class RecordingFile(Base):
    __tablename__ = "recordings"
    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_id)
    session_id: Mapped[str] = mapped_column(ForeignKey("sessions.id"), index=True)
    format: Mapped[str] = mapped_column(Enum("capture", "csv", name="recording_format", native_enum=False))
    placement: Mapped[str | None] = mapped_column(String(32))  # CSV: the sensor it holds
    filename: Mapped[str] = mapped_column(String(255), default="")
    sha256: Mapped[str] = mapped_column(String(64))
    size_bytes: Mapped[int] = mapped_column(BigInteger)
    summary: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)


class RelayPacket(Base):
    __tablename__ = "relay_packets"
    __table_args__ = (
        UniqueConstraint("session_id", "sensor_id", "ver_type", "sample_idx", "t_us", name="uq_relay_packet"),
        Index("ix_relay_packets_session_wall", "session_id", "t_wall_ns"),
    )
    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True, autoincrement=True)
    session_id: Mapped[str] = mapped_column(ForeignKey("sessions.id"))
    sensor_id: Mapped[int] = mapped_column(Integer)
    ver_type: Mapped[int] = mapped_column(Integer)
    sample_idx: Mapped[int] = mapped_column(BigInteger)
    t_us: Mapped[int] = mapped_column(BigInteger)
    t_host_ns: Mapped[int] = mapped_column(BigInteger)  # the relay's clock at arrival
    # The same instant on the relay's wall clock (UTC ns, from the batch header's clock pair; None without one):
    # orders packets across relay restarts and puts them on calendar days.
    t_wall_ns: Mapped[int | None] = mapped_column(BigInteger)
    packet: Mapped[bytes] = mapped_column(LargeBinary)


class RelayPacketBucket(Base):
    """How many IMU packets (commands excluded) of a session arrived in one ``WALL_BUCKET_NS`` of the relay's wall
    clock (``bucket = t_wall_ns // WALL_BUCKET_NS``), kept up to date by the ingest in the transaction that stores
    them. Finding the home days with new data (:func:`server.home.packet_days`) reads these few rows per day, not
    every packet of the weeks a home session holds."""

    __tablename__ = "relay_packet_buckets"
    session_id: Mapped[str] = mapped_column(ForeignKey("sessions.id"), primary_key=True)
    bucket: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    n_packets: Mapped[int] = mapped_column(BigInteger)


class IdempotencyRecord(Base):
    __tablename__ = "idempotency_keys"
    session_id: Mapped[str] = mapped_column(ForeignKey("sessions.id"), primary_key=True)
    key: Mapped[str] = mapped_column(String(200), primary_key=True)
    body_sha256: Mapped[str] = mapped_column(String(64))
    response: Mapped[dict[str, Any]] = mapped_column(JSON)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)


class Analysis(Base):
    __tablename__ = "analyses"
    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_id)
    session_id: Mapped[str] = mapped_column(ForeignKey("sessions.id"), index=True)
    status: Mapped[str] = mapped_column(
        Enum("queued", "running", "done", "failed", name="analysis_status", native_enum=False), default="queued"
    )
    error: Mapped[str] = mapped_column(Text, default="")
    warnings: Mapped[list[str]] = mapped_column(JSON, default=list)
    report: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    requested_by: Mapped[str | None] = mapped_column(String(32))
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    started_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    finished_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)


class HomeDay(Base):
    """The everyday-walking analysis of one local calendar day of a home session (``fusiongait.daily/1`` day)."""

    __tablename__ = "home_days"
    __table_args__ = (UniqueConstraint("session_id", "date", name="uq_home_day"),)
    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_id)
    session_id: Mapped[str] = mapped_column(ForeignKey("sessions.id"), index=True)
    date: Mapped[dt.date]
    status: Mapped[str] = mapped_column(
        Enum("queued", "running", "done", "failed", name="home_day_status", native_enum=False), default="queued"
    )
    # Relay packets of the day when its analysis was queued: more since then means the day is out of date.
    n_packets: Mapped[int] = mapped_column(BigInteger, default=0)
    result: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    error: Mapped[str] = mapped_column(Text, default="")
    warnings: Mapped[list[str]] = mapped_column(JSON, default=list)
    updated_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)


class Job(Base):
    """A background job that any service process may claim (:mod:`server.job_queue`): one row per target.

    ``kind`` names what runs (``analysis``, ``home_day``) and ``target_id`` the row it works on. A process claims a
    queued job, or a running one whose lease has expired (its process stopped), with ``SELECT ... FOR UPDATE SKIP
    LOCKED`` and holds it by renewing ``lease_expires_at``; ``attempts`` counts the claims.
    """

    __tablename__ = "jobs"
    __table_args__ = (
        UniqueConstraint("kind", "target_id", name="uq_job_target"),
        Index("ix_jobs_claim", "status", "created_at"),
    )
    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_id)
    kind: Mapped[str] = mapped_column(String(32))
    target_id: Mapped[str] = mapped_column(String(32))
    status: Mapped[str] = mapped_column(
        Enum("queued", "running", "done", "failed", name="job_status", native_enum=False), default="queued"
    )
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    #: Queued again while it ran (new data): it goes back to ``queued`` when this run ends.
    requeued: Mapped[bool] = mapped_column(Boolean, default=False)
    lease_owner: Mapped[str | None] = mapped_column(String(100))
    lease_expires_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    error: Mapped[str] = mapped_column(Text, default="")
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)


class Device(Base):
    __tablename__ = "devices"
    __table_args__ = (UniqueConstraint("clinic_id", "address"),)
    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_id)
    clinic_id: Mapped[str] = mapped_column(ForeignKey("clinics.id"), index=True)
    name: Mapped[str] = mapped_column(String(200))
    profile: Mapped[str] = mapped_column(String(64))  # a hardware.profiles name
    address: Mapped[str] = mapped_column(String(200))  # BLE address/name or serial URL
    placement: Mapped[str | None] = mapped_column(String(32))
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)


class Token(Base):
    __tablename__ = "tokens"
    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_id)
    token_sha256: Mapped[str] = mapped_column(String(64), unique=True)
    role: Mapped[str] = mapped_column(Enum(*ROLES, name="token_role", native_enum=False))
    label: Mapped[str] = mapped_column(String(200), default="")
    clinic_id: Mapped[str | None] = mapped_column(ForeignKey("clinics.id"))
    patient_id: Mapped[str | None] = mapped_column(ForeignKey("patients.id"))
    session_id: Mapped[str | None] = mapped_column(ForeignKey("sessions.id"))
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    expires_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    revoked_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)


class AuditEntry(Base):
    __tablename__ = "audit_log"
    __table_args__ = (Index("ix_audit_patient_at", "patient_id", "at"),)
    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True, autoincrement=True)
    at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    token_id: Mapped[str] = mapped_column(String(32))
    role: Mapped[str] = mapped_column(String(16))
    action: Mapped[str] = mapped_column(String(16))  # read | create | update | delete
    resource: Mapped[str] = mapped_column(String(64))
    resource_id: Mapped[str] = mapped_column(String(64), default="")
    patient_id: Mapped[str | None] = mapped_column(String(32))


class Database:
    """The engine and a session factory for one database URL.

    SQLite gets WAL journaling, ``synchronous=FULL`` (a commit is on disk when it returns: the service answers 2xx
    only after its commit), foreign keys on and a busy timeout, so concurrent writers wait instead of failing.
    """

    def __init__(self, url: str) -> None:
        self.url = url
        self.is_sqlite = url.startswith("sqlite")
        kwargs: dict[str, Any] = {"future": True}
        if self.is_sqlite:
            kwargs["connect_args"] = {"check_same_thread": False, "timeout": 30}
        else:
            kwargs["pool_pre_ping"] = True
            kwargs["pool_size"] = 10
            kwargs["max_overflow"] = 20
        self.engine: Engine = create_engine(url, **kwargs)
        if self.is_sqlite:
            event.listen(self.engine, "connect", _sqlite_pragmas)
            # pysqlite's own transaction handling defers BEGIN; take the write lock at BEGIN instead, so a
            # read-then-write transaction cannot fail on upgrade (SQLAlchemy's documented recipe).
            event.listen(self.engine, "begin", _sqlite_begin)
        self._factory = sessionmaker(self.engine, expire_on_commit=False)
        self._read_factory = sessionmaker(self.engine.execution_options(fg_read_only=True), expire_on_commit=False)

    @contextmanager
    def session(self, *, read_only: bool = False) -> Iterator[Session]:
        """A session in one transaction: committed when the block ends, rolled back on an exception.

        ``read_only`` transactions (token look-ups) do not take SQLite's write lock, so they never wait behind a
        writer (WAL readers see the last commit).
        """
        factory = self._read_factory if read_only else self._factory
        with factory() as db, db.begin():
            yield db

    def migrate(self, revision: str = "head") -> None:
        """Create or upgrade the schema to the newest migration (Alembic ``upgrade head``), or to ``revision``."""
        from alembic import command  # noqa: PLC0415 - only at start-up
        from alembic.config import Config  # noqa: PLC0415

        config = Config()
        config.set_main_option("script_location", str(MIGRATIONS))
        config.set_main_option("sqlalchemy.url", self.url.replace("%", "%%"))
        with self.engine.connect() as connection:
            config.attributes["connection"] = connection
            command.upgrade(config, revision)

    def dispose(self) -> None:
        """Close every pooled connection."""
        self.engine.dispose()


def _sqlite_begin(conn: Any) -> None:
    conn.exec_driver_sql("BEGIN" if conn.get_execution_options().get("fg_read_only") else "BEGIN IMMEDIATE")


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    dbapi_connection.isolation_level = None  # let the "begin" listener issue BEGIN itself
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=FULL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA busy_timeout=30000")
    cursor.close()
