"""Service settings: read from the environment (``FUSIONGAIT_*``) once, by :func:`Settings`, never at import.

Every setting has a safe default, so ``fusiongait serve`` runs with none set: data under the user's data
directory, SQLite in WAL mode, CORS closed, uploads capped.
"""

from __future__ import annotations

from pathlib import Path

import platformdirs
from pydantic import Field, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

__all__ = ["Settings"]

MIB = 1 << 20


def _default_data_dir() -> Path:
    return Path(platformdirs.user_data_dir("fusiongait", appauthor=False))


class Settings(BaseSettings):
    """The service's configuration.

    Attributes
    ----------
    data_dir : Path
        Where the SQLite database and the stored files (content-addressed blobs) live
        (``FUSIONGAIT_DATA_DIR``; default: the user's data directory).
    database_url : str, optional
        A SQLAlchemy URL (``FUSIONGAIT_DATABASE_URL``), e.g. ``postgresql+psycopg://user@host/db``; default:
        ``sqlite:///<data_dir>/fusiongait.db``.
    max_upload_bytes : int
        Largest recording upload accepted (a capture or one CSV file); larger ones get 413.
    max_relay_batch_bytes : int
        Largest relay batch accepted.
    analysis_workers : int
        Processes that run analyses in the background (0: run them in a thread of the service, for tests).
    cors_origins : list of str
        Origins allowed by CORS; empty (the default) means CORS is closed.
    home_analysis_interval_s : float
        How often the service looks for home days with new relay uploads and analyses them (0: only on request).
    job_lease_s, job_poll_s : float
        A background job's lease (renewed while it runs; when it runs out, another service process claims the job
        again) and how often each process looks for jobs other processes queued (docs/deployment.md).
    fanout_url : str, optional
        Where the live feed is fanned out to the other service processes (``FUSIONGAIT_FANOUT_URL``):
        ``redis://host:6379/0`` or ``postgresql://user@host/db`` (docs/deployment.md); default: none (one process).
    fanout_namespace : str
        Prefix of the fan-out's channels (``FUSIONGAIT_FANOUT_NAMESPACE``): the same for the processes of one
        deployment, another for a second deployment on the same Redis or PostgreSQL.
    home_min_wear_h : float, optional
        Wear time a home day needs to count (default: the rules file's ``daily.min_wear_s``, 12 h); for a
        monitoring protocol with shorter daily wear.
    """

    model_config = SettingsConfigDict(env_prefix="FUSIONGAIT_", extra="ignore")

    data_dir: Path = Field(default_factory=_default_data_dir)
    database_url: str | None = None
    max_upload_bytes: int = Field(default=256 * MIB, gt=0)
    max_relay_batch_bytes: int = Field(default=8 * MIB, gt=0)
    analysis_workers: int = Field(default=1, ge=0, le=32)
    cors_origins: list[str] = Field(default_factory=list)
    home_analysis_interval_s: float = Field(default=900.0, ge=0.0)
    home_min_wear_h: float | None = Field(default=None, gt=0.0, le=24.0)
    job_lease_s: float = Field(default=60.0, ge=5.0, le=3600.0)
    job_poll_s: float = Field(default=1.0, gt=0.0, le=60.0)
    fanout_url: str | None = None
    fanout_namespace: str = Field(default="fusiongait", pattern=r"^[A-Za-z0-9_.-]{1,40}$")

    @field_validator("database_url")
    @classmethod
    def _known_database(cls, value: str | None) -> str | None:
        if value is None or value.strip() == "":
            return None
        if not value.startswith(("sqlite", "postgresql")):
            raise ValueError(f"expected a sqlite:// or postgresql:// URL, got {value.split(':', 1)[0]}://...")
        return value

    @field_validator("fanout_url")
    @classmethod
    def _known_fanout(cls, value: str | None) -> str | None:
        if value is None or value.strip() == "":
            return None
        scheme = value.split("://", 1)[0].lower() if "://" in value else ""
        if scheme not in ("redis", "rediss", "unix", "postgresql", "postgres", "postgresql+psycopg"):
            raise ValueError(f"expected a redis:// or postgresql:// URL, got {value.split(':', 1)[0]}://...")
        return value.strip()

    @property
    def effective_database_url(self) -> str:
        """The database URL in use (the SQLite file in the data directory unless one is given)."""
        return self.database_url or f"sqlite:///{self.data_dir / 'fusiongait.db'}"

    @property
    def blob_dir(self) -> Path:
        """Folder of the content-addressed stored files."""
        return self.data_dir / "blobs"
