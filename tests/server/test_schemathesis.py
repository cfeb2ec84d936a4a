"""Every route of the service, fuzzed from its own OpenAPI schema (schemathesis, property-based).

For each operation, with an admin token and with a clinician token, generated requests must never get a 500, and
every answer must be one the schema documents: its status code, content type, headers and body. Path ids are
sometimes real ones (a clinic, patient, session, recording, analysis, device, token made beforehand), so the
checks reach past the 404 of an unknown id. Bounded: a few dozen examples per operation and role.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, find, settings
from hypothesis import strategies as st
from schemathesis.checks import not_a_server_error
from schemathesis.python.asgi import ASGIClient
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from server.app import API_PREFIX, create_app
from server.config import Settings
from tests.server.conftest import FIXTURES, Api, make_api

#: The schema comes from an app that is never started (it only needs the route table); requests go to another
#: instance of the same app, running on SQLite in a temporary folder (the ``service`` fixture).
schema = schemathesis.openapi.from_dict(create_app(Settings(data_dir=Path("unused"))).openapi())

settings.register_profile(
    "fusiongait-api",
    max_examples=25,
    deadline=None,
    derandomize=True,  # the same examples in every run: CI failures reproduce
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much, HealthCheck.data_too_large],
)

CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
]

WAITING = ("queued", "running")
#: Real ids by path parameter name, filled in by the ``service`` fixture before any example is drawn.
REAL_IDS: dict[str, list[str]] = {}


@schema.hook
def flatmap_path_parameters(_context: Any, path_parameters: dict[str, Any] | None) -> Any:
    """Each path id: the generated one, or one that exists."""
    if not path_parameters:
        return st.just(path_parameters)
    return st.fixed_dictionaries(
        {name: st.sampled_from([value, *REAL_IDS.get(name, [])]) for name, value in path_parameters.items()}
    )


@schema.hook
def flatmap_body(_context: Any, body: Any) -> Any:
    """A body naming a clinic: as generated, or naming the real clinic."""
    if isinstance(body, dict) and "clinic_id" in body and REAL_IDS.get("clinic_id"):
        return st.sampled_from([body, {**body, "clinic_id": REAL_IDS["clinic_id"][0]}])
    return st.just(body)


@pytest.fixture(scope="module")
def service(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Any, dict[str, dict[str, str]]]]:
    for api in make_api(tmp_path_factory.mktemp("schemathesis"), None):
        yield api.client.app, {"admin": api.admin, "clinician": populate(api)}
    REAL_IDS.clear()


def populate(api: Api) -> dict[str, str]:
    """A clinic with a patient, two sessions (one recorded and analysed), a device and a spare token.

    Returns the headers of a clinician of the clinic. The sessions are home sessions, so a generated request to go
    live with them is refused (422) instead of connecting to whatever sensor URL it names.
    """

    def post(url: str, status: int = 201, headers: dict[str, str] | None = None, **kwargs: Any) -> str:
        return str(api.ok(api.client.post(f"{API_PREFIX}{url}", headers=headers or clinician, **kwargs), status)["id"])

    clinic = api.clinic("Fuzz clinic")
    clinician = api.clinician(clinic)
    patient = api.patient(clinician, height_m=1.75)
    recorded = api.session(clinician, patient, kind="home")
    empty = api.session(clinician, patient, kind="home", date="2026-11-03")  # its analyses fail at once
    capture = (FIXTURES / "compensated_walk.imucap").read_bytes()
    recording = post(f"/sessions/{recorded}/recordings", params={"format": "capture"}, content=capture)
    analyses = [post(f"/sessions/{s}/analyses", 202) for s in (recorded, empty)]
    for analysis in analyses:  # one done (its report is there), one failed (409)
        while api.ok(api.client.get(f"{API_PREFIX}/analyses/{analysis}", headers=clinician))["status"] in WAITING:
            time.sleep(0.02)
    device = post("/devices", json={"name": "belt", "profile": "movesense-md", "address": "AA:BB"})
    # a token the fuzzer may revoke (never one it calls with)
    spare = post("/tokens", headers=api.admin, json={"role": "clinician", "clinic_id": clinic})
    REAL_IDS.update(
        clinic_id=[clinic],
        patient_id=[patient],
        session_id=[recorded, empty],
        recording_id=[recording],
        analysis_id=analyses,
        device_id=[device],
        token_id=[spare],
    )
    return clinician


@pytest.mark.parametrize("role", ["admin", "clinician"])
@schema.parametrize()
@settings(settings.get_profile("fusiongait-api"))
def test_every_route_keeps_its_schema(case: Any, role: str, service: tuple[Any, dict[str, dict[str, str]]]) -> None:
    app, tokens = service
    case.call_and_validate(app=app, session=ASGIClient(app), headers=tokens[role], checks=CHECKS)


def test_the_hooks_hand_out_real_ids(service: tuple[Any, dict[str, dict[str, str]]]) -> None:
    """Else every check would only ever see the 404 of an unknown id."""
    assert set(REAL_IDS) >= {"patient_id", "session_id", "recording_id", "analysis_id", "device_id", "token_id"}
    real = REAL_IDS["patient_id"][0]
    drawn = find(flatmap_path_parameters(None, {"patient_id": "x"}), lambda ids: ids["patient_id"] == real)
    assert drawn == {"patient_id": real}
