"""The service under test: real HTTP (FastAPI's TestClient, which runs the app's lifespan) on a real database,
SQLite in a temporary folder and the same tests on PostgreSQL (127.0.0.1:5432, database ``test``, a schema of its
own per test), skipped only when no PostgreSQL server answers."""

from __future__ import annotations

import secrets
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from server.app import create_app
from server.auth import issue_token
from server.config import Settings
from tests.server.processes import Server

PG_BASE = "postgresql+psycopg://postgres@127.0.0.1:5432/test"
FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"


def _postgres_reachable() -> bool:
    try:
        import psycopg

        with psycopg.connect("host=127.0.0.1 port=5432 user=postgres dbname=test connect_timeout=2"):
            return True
    except Exception:
        return False


@pytest.fixture(scope="session")
def postgres_available() -> bool:
    return _postgres_reachable()


@pytest.fixture
def pg_url(postgres_available: bool) -> Iterator[str]:
    """A PostgreSQL URL whose tables live in a fresh schema, dropped afterwards."""
    if not postgres_available:
        pytest.skip("no PostgreSQL server at 127.0.0.1:5432")
    import psycopg

    schema = f"fg_test_{secrets.token_hex(6)}"
    with psycopg.connect("host=127.0.0.1 port=5432 user=postgres dbname=test", autocommit=True) as conn:
        conn.execute(f"CREATE SCHEMA {schema}")
    try:
        yield f"{PG_BASE}?options=-csearch_path%3D{schema}"
    finally:
        with psycopg.connect("host=127.0.0.1 port=5432 user=postgres dbname=test", autocommit=True) as conn:
            conn.execute(f"DROP SCHEMA {schema} CASCADE")


@dataclass
class Api:
    """A running service and a few helpers to set up clinics, tokens, patients and sessions through its API."""

    client: TestClient
    settings: Settings
    admin: dict[str, str] = field(default_factory=dict)

    def ok(self, response: Any, status: int = 200) -> Any:
        assert response.status_code == status, f"{response.status_code}: {response.text}"
        return response.json() if response.content else None

    def clinic(self, name: str | None = None) -> str:
        name = name or f"Clinic {secrets.token_hex(3)}"
        return str(self.ok(self.client.post("/api/v1/clinics", json={"name": name}, headers=self.admin), 201)["id"])

    def clinician(self, clinic_id: str, **extra: Any) -> dict[str, str]:
        body = {"role": "clinician", "clinic_id": clinic_id, **extra}
        token = self.ok(self.client.post("/api/v1/tokens", json=body, headers=self.admin), 201)["token"]
        return {"Authorization": f"Bearer {token}"}

    def patient(self, headers: dict[str, str], code: str | None = None, **extra: Any) -> str:
        body = {"code": code or f"P-{secrets.token_hex(3)}", **extra}
        return str(self.ok(self.client.post("/api/v1/patients", json=body, headers=headers), 201)["id"])

    def session(
        self,
        headers: dict[str, str],
        patient_id: str,
        *,
        kind: str = "clinic",
        date: str = "2026-11-02",
        label: str = "",
    ) -> str:
        body = {"kind": kind, "date": date, "label": label}
        url = f"/api/v1/patients/{patient_id}/sessions"
        return str(self.ok(self.client.post(url, json=body, headers=headers), 201)["id"])

    def relay(self, headers: dict[str, str], session_id: str, **extra: Any) -> dict[str, str]:
        url = f"/api/v1/sessions/{session_id}/relay-token"
        token = self.ok(self.client.post(url, json=extra, headers=headers), 201)["token"]
        return {"Authorization": f"Bearer {token}"}


def make_api(tmp_path: Path, database_url: str | None, **settings: Any) -> Iterator[Api]:
    config = Settings(data_dir=tmp_path / "data", database_url=database_url, analysis_workers=0, **settings)
    app = create_app(config)
    with TestClient(app) as client:
        with app.state.service.database.session() as db:
            secret, _ = issue_token(db, role="admin", label="tests")
        yield Api(client, config, {"Authorization": f"Bearer {secret}"})


@pytest.fixture(params=["sqlite", "postgresql"])
def database_url(request: pytest.FixtureRequest) -> str | None:
    """None (SQLite in the data folder), then a PostgreSQL URL with a schema of the test's own."""
    return request.getfixturevalue("pg_url") if request.param == "postgresql" else None


@pytest.fixture
def api(tmp_path: Path, database_url: str | None) -> Iterator[Api]:
    """The service on SQLite, then on PostgreSQL."""
    yield from make_api(tmp_path, database_url)


@pytest.fixture
def sqlite_api(tmp_path: Path) -> Iterator[Api]:
    """The service on SQLite only (for tests whose subject is not the database)."""
    yield from make_api(tmp_path, None)


@pytest.fixture
def server(tmp_path: Path) -> Iterator[Server]:
    """``fusiongait serve`` as a subprocess on SQLite in the test's folder, not started (the test starts it, and
    may kill and restart it); stopped at the end."""
    srv = Server(tmp_path / "data", None)
    try:
        yield srv
    finally:
        srv.stop()
