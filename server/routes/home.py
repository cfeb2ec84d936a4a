"""Home monitoring: the per-day everyday-walking results of a home session and the patient's home trends."""

from __future__ import annotations

import datetime as dt
from typing import Any

from fastapi import APIRouter, Query, Request, status
from fastapi.responses import HTMLResponse, Response
from sqlalchemy import select

from server.auth import audit, patient_for, session_for
from server.db import HomeDay
from server.deps import Auth, Db, state_of
from server.errors import Conflict
from server.home import patient_trends, queue_stale_days
from server.schemas import ErrorOut, HomeDayOut

__all__ = ["router"]

router = APIRouter(tags=["home monitoring"])


def _out(row: HomeDay) -> dict[str, Any]:
    day = row.result["days"][0] if row.result and row.result.get("days") else None
    return {
        "id": row.id,
        "session_id": row.session_id,
        "date": row.date,
        "status": row.status,
        "n_packets": row.n_packets,
        "error": row.error,
        "warnings": row.warnings or [],
        "updated_at": row.updated_at,
        "day": day,
    }


@router.post(
    "/sessions/{session_id}/home-days/analyse",
    response_model=list[HomeDayOut],
    status_code=status.HTTP_202_ACCEPTED,
    summary="Analyse the days of a home session that are new or got uploads since their last analysis",
    responses={409: {"model": ErrorOut, "description": "not a home session"}},
)
def analyse_home_days(
    session_id: str,
    request: Request,
    principal: Auth,
    force: bool = Query(default=False, description="analyse every day again (after a change of height or time zone)"),
) -> list[dict[str, Any]]:
    state = state_of(request)
    with state.database.session() as db:  # committed before a worker looks for the rows
        session, patient = session_for(db, principal, session_id)
        if session.kind != "home":
            raise Conflict("a clinic session is analysed as one recording: POST /sessions/{id}/analyses")
        rows = queue_stale_days(db, session, patient, force=force)
        out = [_out(r) for r in rows]
        audit(db, principal, "create", "home-days", session.id, patient.id)
    for row in out:
        state.runner.submit_home_day(row["id"])
    return out


@router.get(
    "/sessions/{session_id}/home-days",
    response_model=list[HomeDayOut],
    summary="The analysed days of a home session (daily outcomes, wear time, data sufficiency)",
)
def list_home_days(session_id: str, db: Db, principal: Auth) -> list[dict[str, Any]]:
    session, patient = session_for(db, principal, session_id)
    rows = db.scalars(select(HomeDay).where(HomeDay.session_id == session.id).order_by(HomeDay.date)).all()
    audit(db, principal, "read", "home-days", session.id, patient.id)
    return [_out(r) for r in rows]


@router.get(
    "/patients/{patient_id}/home-trends",
    summary="Home trends against the patient's baseline (fusiongait.home_trends/1 JSON)",
    response_model=dict[str, Any],
)
def get_home_trends(patient_id: str, db: Db, principal: Auth) -> dict[str, Any]:
    patient = patient_for(db, principal, patient_id)
    audit(db, principal, "read", "home-trends", patient.id, patient.id)
    return patient_trends(db, patient)


@router.get(
    "/patients/{patient_id}/home-report.html",
    summary="The home-monitoring report as one self-contained HTML page (download with ?download=true)",
    response_class=Response,
    responses={200: {"content": {"text/html": {"schema": {"type": "string"}}}}},
)
def get_home_report(patient_id: str, db: Db, principal: Auth, download: bool = Query(default=False)) -> HTMLResponse:
    from server.home_report import render_home_html  # noqa: PLC0415 - only for this route

    patient = patient_for(db, principal, patient_id)
    audit(db, principal, "read", "home-report", patient.id, patient.id)
    html = render_home_html(patient_trends(db, patient))
    headers = {}
    if download:
        name = f"fusiongait-home-{patient.code}-{dt.date.today().isoformat()}.html"
        safe = "".join(c if c.isalnum() or c in "-_." else "_" for c in name)
        headers["Content-Disposition"] = f'attachment; filename="{safe}"'
    return HTMLResponse(html, headers=headers)
