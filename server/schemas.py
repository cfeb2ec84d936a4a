"""The API's request and response bodies (pydantic): validated at the boundary, documented in the OpenAPI schema."""

from __future__ import annotations

import datetime as dt
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from gait.recording import KNOWN_PLACEMENTS

__all__ = [
    "AnalysisOut",
    "AuditOut",
    "ClinicIn",
    "ClinicOut",
    "DeviceIn",
    "DeviceOut",
    "ErrorBody",
    "ErrorOut",
    "HealthOut",
    "IssuedToken",
    "PatientIn",
    "PatientOut",
    "PatientPatch",
    "RecordingOut",
    "RelayAnswer",
    "RelayTokenIn",
    "SessionIn",
    "SessionOut",
    "TokenIn",
]

Placement = Literal["pelvis", "left_thigh", "right_thigh"]
assert set(Placement.__args__) == set(KNOWN_PLACEMENTS)  # type: ignore[attr-defined]

_Code = Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9._-]+$")
_Text = Field(default="", max_length=200)


class _In(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)


class _Out(BaseModel):
    model_config = ConfigDict(from_attributes=True)


class ErrorBody(BaseModel):
    code: str = Field(description="machine-readable kind: bad_input, unauthorized, not_found, ...")
    message: str = Field(description="what was wrong, in one line")


class ErrorOut(BaseModel):
    error: ErrorBody


class HealthOut(BaseModel):
    status: Literal["ok"]
    database: str
    version: str


class ClinicIn(_In):
    name: str = Field(min_length=1, max_length=200)


class ClinicOut(_Out):
    id: str
    name: str
    created_at: dt.datetime


class TokenIn(_In):
    role: Literal["admin", "clinician"]
    clinic_id: str | None = Field(default=None, max_length=32, description="required for a clinician")
    label: str = _Text
    ttl_days: float | None = Field(default=None, gt=0, le=3650, description="expiry; none: never")


class RelayTokenIn(_In):
    label: str = _Text
    ttl_days: float | None = Field(default=90, gt=0, le=3650)


class IssuedToken(BaseModel):
    id: str
    role: str
    token: str = Field(description="the secret: shown once, store it now")
    expires_at: dt.datetime | None
    clinic_id: str | None = None
    patient_id: str | None = None
    session_id: str | None = None


class PatientIn(_In):
    code: str = _Code
    clinic_id: str | None = Field(default=None, max_length=32, description="admins only; a clinician's own clinic")
    height_m: float | None = Field(default=None, ge=0.8, le=2.5, description="body height, m")
    sensor_height_m: float | None = Field(default=None, ge=0.4, le=1.5, description="sacral sensor height, m")
    surgery_date: dt.date | None = None
    notes: str = Field(default="", max_length=4000)
    utc_offset_min: int = Field(
        default=0,
        ge=-14 * 60,
        le=14 * 60,
        multiple_of=15,
        description="the patient's local time − UTC, minutes (a whole number of quarter hours)",
    )
    home_baseline_start: dt.date | None = Field(default=None, description="first day of the home baseline period")
    home_baseline_end: dt.date | None = Field(default=None, description="last day of the home baseline period")


class PatientPatch(_In):
    height_m: float | None = Field(default=None, ge=0.8, le=2.5)
    sensor_height_m: float | None = Field(default=None, ge=0.4, le=1.5)
    surgery_date: dt.date | None = None
    notes: str = Field(default="", max_length=4000, description='omit to keep it; "" clears it')
    utc_offset_min: int = Field(
        default=0,
        ge=-14 * 60,
        le=14 * 60,
        multiple_of=15,
        description="the patient's local time − UTC, minutes (a whole number of quarter hours)",
    )
    home_baseline_start: dt.date | None = Field(default=None, description="first day of the home baseline period")
    home_baseline_end: dt.date | None = Field(default=None, description="last day of the home baseline period")


class PatientOut(_Out):
    id: str
    clinic_id: str
    code: str
    height_m: float | None
    sensor_height_m: float | None
    surgery_date: dt.date | None
    notes: str
    utc_offset_min: int
    home_baseline_start: dt.date | None
    home_baseline_end: dt.date | None
    created_at: dt.datetime


class SessionIn(_In):
    kind: Literal["clinic", "home"]
    date: dt.date
    label: str = _Text


class SessionOut(_Out):
    id: str
    patient_id: str
    kind: str
    date: dt.date
    label: str
    sensors: dict[str, str] = Field(description="sensor id → placement, as the uploads named them")
    created_at: dt.datetime


class RecordingOut(_Out):
    id: str
    session_id: str
    format: str
    placement: str | None
    filename: str
    sha256: str
    size_bytes: int
    summary: dict[str, Any]
    created_at: dt.datetime


class RelayAnswer(BaseModel):
    session_id: str
    received: int = Field(description="packets and commands in the batch that were valid")
    stored: int = Field(description="of those, new to the server")
    duplicates: int = Field(description="already stored (a retry or an overlapping batch)")
    rejected: list[str] = Field(description="records not stored (CRC errors, mislabeled), one line each")
    replayed: bool = Field(description="true when this Idempotency-Key was answered before (nothing new stored)")


class AnalysisOut(_Out):
    id: str
    session_id: str
    status: Literal["queued", "running", "done", "failed"]
    error: str
    warnings: list[str]
    created_at: dt.datetime
    started_at: dt.datetime | None
    finished_at: dt.datetime | None


class DeviceIn(_In):
    name: str = Field(min_length=1, max_length=200)
    profile: str = Field(min_length=1, max_length=64, description="a device profile (docs/devices.md)")
    address: str = Field(min_length=1, max_length=200, description="BLE address or name, or a serial URL")
    placement: Placement | None = None
    clinic_id: str | None = Field(default=None, max_length=32, description="admins only")


class DeviceOut(_Out):
    id: str
    clinic_id: str
    name: str
    profile: str
    address: str
    placement: str | None
    created_at: dt.datetime


class AuditOut(_Out):
    at: dt.datetime
    token_id: str
    role: str
    action: str
    resource: str
    resource_id: str
    patient_id: str | None


class HomeDayOut(_Out):
    id: str
    session_id: str
    date: dt.date
    status: Literal["queued", "running", "done", "failed"]
    n_packets: int = Field(description="relay packets of the day when it was (last) queued")
    error: str
    warnings: list[str]
    updated_at: dt.datetime
    day: dict[str, Any] | None = Field(description="the day's outcomes (fusiongait.daily/1 day entry) once done")
