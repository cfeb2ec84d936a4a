"""Analyses (background jobs) and their reports, as JSON and as the self-contained HTML page."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request, status
from fastapi.responses import HTMLResponse, Response
from sqlalchemy import select

from server.auth import Principal, audit, session_child_for, session_for
from server.db import Analysis
from server.deps import Auth, Db, state_of
from server.errors import Conflict
from server.schemas import AnalysisOut, ErrorOut

__all__ = ["router"]

router = APIRouter(tags=["analyses"])


@router.post(
    "/sessions/{session_id}/analyses",
    response_model=AnalysisOut,
    status_code=status.HTTP_202_ACCEPTED,
    summary="Analyse a session's data in the background",
)
def start_analysis(session_id: str, request: Request, principal: Auth) -> Analysis:
    state = state_of(request)
    with state.database.session() as db:  # committed before a worker looks for it
        session, patient = session_for(db, principal, session_id)
        job = Analysis(session_id=session.id, requested_by=principal.token_id, warnings=[])
        db.add(job)
        db.flush()
        audit(db, principal, "create", "analysis", job.id, patient.id)
    state.runner.submit(job.id)
    return job


@router.get("/sessions/{session_id}/analyses", response_model=list[AnalysisOut], summary="A session's analyses")
def list_analyses(session_id: str, db: Db, principal: Auth) -> list[Analysis]:
    session, patient = session_for(db, principal, session_id)
    rows = list(db.scalars(select(Analysis).where(Analysis.session_id == session.id).order_by(Analysis.created_at)))
    audit(db, principal, "read", "analyses", session.id, patient.id)
    return rows


def _analysis_for(db: Db, principal: Principal, analysis_id: str) -> tuple[Analysis, str]:
    return session_child_for(db, principal, Analysis, analysis_id, "analysis")


@router.get("/analyses/{analysis_id}", response_model=AnalysisOut, summary="An analysis' status")
def get_analysis(analysis_id: str, db: Db, principal: Auth) -> Analysis:
    job, patient_id = _analysis_for(db, principal, analysis_id)
    audit(db, principal, "read", "analysis", job.id, patient_id)
    return job


def _finished_report(db: Db, principal: Principal, analysis_id: str) -> dict[str, Any]:
    job, patient_id = _analysis_for(db, principal, analysis_id)
    if job.status != "done" or job.report is None:
        detail = f": {job.error}" if job.status == "failed" else ""
        raise Conflict(f"analysis {analysis_id} is {job.status}{detail}; its report exists once it is done")
    audit(db, principal, "read", "report", job.id, patient_id)
    return job.report


@router.get(
    "/analyses/{analysis_id}/report",
    summary="The report (fusiongait.report/1 JSON)",
    response_model=dict[str, Any],
    responses={409: {"model": ErrorOut, "description": "the analysis is not done"}},
)
def get_report(analysis_id: str, db: Db, principal: Auth) -> dict[str, Any]:
    return _finished_report(db, principal, analysis_id)


@router.get(
    "/analyses/{analysis_id}/report.html",
    summary="The report as one self-contained HTML page",
    response_class=Response,  # not HTMLResponse: that would document the JSON error bodies as text/html
    responses={
        200: {"content": {"text/html": {"schema": {"type": "string"}}}},
        409: {"model": ErrorOut, "description": "the analysis is not done"},
    },
)
def get_report_html(analysis_id: str, db: Db, principal: Auth) -> HTMLResponse:
    from server.report_html import render_html  # noqa: PLC0415 - only for this route

    return HTMLResponse(render_html(_finished_report(db, principal, analysis_id)))
