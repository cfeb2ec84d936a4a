"""Patients of a clinic, and the audit trail of who read or changed a patient's data."""

from __future__ import annotations

from fastapi import APIRouter, Query, status
from sqlalchemy import select

from server.auth import audit, clinic_for_new, patient_for, require_staff
from server.db import AuditEntry, Patient
from server.deps import Auth, Db
from server.errors import BadInput, Conflict
from server.schemas import AuditOut, ErrorOut, PatientIn, PatientOut, PatientPatch

__all__ = ["router"]

router = APIRouter(tags=["patients"])


@router.post(
    "/patients",
    response_model=PatientOut,
    status_code=status.HTTP_201_CREATED,
    summary="Add a patient",
    responses={409: {"model": ErrorOut, "description": "the clinic has a patient with that code"}},
)
def create_patient(body: PatientIn, db: Db, principal: Auth) -> Patient:
    require_staff(principal)
    clinic_id = clinic_for_new(db, principal, body.clinic_id, "patient")
    if db.scalar(select(Patient).where(Patient.clinic_id == clinic_id, Patient.code == body.code)) is not None:
        raise Conflict(f"the clinic has a patient with code {body.code!r}")
    patient = Patient(clinic_id=clinic_id, **body.model_dump(exclude={"clinic_id"}))
    db.add(patient)
    db.flush()
    audit(db, principal, "create", "patient", patient.id, patient.id)
    return patient


@router.get("/patients", response_model=list[PatientOut], summary="List the patients the token may see")
def list_patients(db: Db, principal: Auth) -> list[Patient]:
    require_staff(principal)
    query = select(Patient).order_by(Patient.code)
    if principal.role == "clinician":
        query = query.where(Patient.clinic_id == principal.clinic_id)
    patients = list(db.scalars(query))
    audit(db, principal, "read", "patients")
    return patients


@router.get("/patients/{patient_id}", response_model=PatientOut, summary="One patient")
def get_patient(patient_id: str, db: Db, principal: Auth) -> Patient:
    patient = patient_for(db, principal, patient_id)
    audit(db, principal, "read", "patient", patient.id, patient.id)
    return patient


@router.patch("/patients/{patient_id}", response_model=PatientOut, summary="Change a patient's details")
def update_patient(patient_id: str, body: PatientPatch, db: Db, principal: Auth) -> Patient:
    patient = patient_for(db, principal, patient_id)
    for name, value in body.model_dump(exclude_unset=True).items():
        setattr(patient, name, value)
    start, end = patient.home_baseline_start, patient.home_baseline_end
    if (start is None) != (end is None) or (start is not None and end is not None and end < start):
        raise BadInput(
            f"home_baseline_start/home_baseline_end: expected both dates, the end not before the start, got "
            f"{start} to {end}"
        )
    audit(db, principal, "update", "patient", patient.id, patient.id)
    return patient


@router.get("/patients/{patient_id}/audit", response_model=list[AuditOut], summary="Who read or changed this patient")
def patient_audit(
    patient_id: str, db: Db, principal: Auth, limit: int = Query(default=200, ge=1, le=5000)
) -> list[AuditEntry]:
    patient = patient_for(db, principal, patient_id)
    entries = list(
        db.scalars(
            select(AuditEntry)
            .where(AuditEntry.patient_id == patient.id)
            .order_by(AuditEntry.at.desc(), AuditEntry.id.desc())
            .limit(limit)
        )
    )
    audit(db, principal, "read", "audit", patient.id, patient.id)
    return entries
