"""The API's routers, one per resource, all under ``/api/v1``."""

from __future__ import annotations

from server.routes import admin, analyses, devices, health, home, live, patients, recordings, sessions

__all__ = ["ROUTERS"]

ROUTERS = (
    health.router,
    admin.router,
    patients.router,
    sessions.router,
    recordings.router,
    analyses.router,
    devices.router,
    home.router,
    live.router,
)
