"""``GET /health``: is the service up and its database reachable (no token needed, no data shown)."""

from __future__ import annotations

from fastapi import APIRouter, Request
from sqlalchemy import text

from server import __version__
from server.deps import state_of
from server.schemas import HealthOut

__all__ = ["router"]

router = APIRouter(tags=["health"])


@router.get("/health", response_model=HealthOut, summary="Service and database health")
def health(request: Request) -> HealthOut:
    database = state_of(request).database
    with database.session() as db:
        db.execute(text("SELECT 1"))
    return HealthOut(status="ok", database=database.engine.dialect.name, version=__version__)
