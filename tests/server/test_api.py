"""The service end to end through HTTP, on SQLite and PostgreSQL: uploads, relay batches exactly once, background
analyses whose reports equal the command line's, baselines across sessions, and bad input refused whole."""

from __future__ import annotations

import datetime as dt
import itertools
import json
import time
from pathlib import Path
from typing import Any

import pytest

from firmware_bridge.readers.csv_format import write_recording_csv
from hardware.capture import encode_header, encode_records, parse_capture
from hardware.simulator import Segment, WalkerParams, simulate_session
from server import cli
from server.db import Analysis, RecordingFile, RelayPacket, Token, utcnow
from tests.server.conftest import FIXTURES, Api, make_api

CAPTURE = FIXTURES / "compensated_walk.imucap"


def wait_done(api: Api, headers: dict[str, str], analysis_id: str, timeout_s: float = 60.0) -> dict[str, Any]:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        job = api.ok(api.client.get(f"/api/v1/analyses/{analysis_id}", headers=headers))
        if job["status"] in ("done", "failed"):
            return dict(job)
        time.sleep(0.05)
    raise AssertionError(f"analysis {analysis_id} did not finish in {timeout_s} s")


def setup_session(api: Api, **patient: Any) -> tuple[dict[str, str], str, str]:
    clinician = api.clinician(api.clinic())
    patient_id = api.patient(clinician, **patient)
    return clinician, patient_id, api.session(clinician, patient_id)


def upload(api: Api, headers: dict[str, str], session_id: str, body: bytes, **params: str) -> Any:
    return api.client.post(f"/api/v1/sessions/{session_id}/recordings", params=params, content=body, headers=headers)


def relay_batch(api: Api, headers: dict[str, str], session_id: str, body: bytes, key: str) -> Any:
    return api.client.post(
        f"/api/v1/sessions/{session_id}/relay-batches", content=body, headers={**headers, "Idempotency-Key": key}
    )


def split_capture(data: bytes, n_parts: int) -> list[bytes]:
    """A capture cut into ``n_parts`` captures of consecutive records (each with the whole header)."""
    capture = parse_capture(data)
    head = encode_header(capture.header)
    edges = [round(i * len(capture) / n_parts) for i in range(n_parts + 1)]
    return [
        head
        + encode_records(
            (int(capture.t_host_ns[i]), int(capture.source[i]), int(capture.sensor_id[i]), capture.packet(i))
            for i in range(a, b)
        )
        for a, b in itertools.pairwise(edges)
    ]


# ------------------------------------------------------------------------------------------------ the service
def test_health_and_openapi_need_no_token(sqlite_api: Api) -> None:
    health = sqlite_api.ok(sqlite_api.client.get("/api/v1/health"))
    assert health["status"] == "ok" and health["database"] == "sqlite"
    schema = sqlite_api.ok(sqlite_api.client.get("/openapi.json"))
    assert all(path.startswith("/api/v1/") for path in schema["paths"])
    assert "bearerAuth" in json.dumps(schema) or "HTTPBearer" in json.dumps(schema)
    assert sqlite_api.client.get("/docs").status_code == 200


def test_cors_is_closed_by_default(sqlite_api: Api) -> None:
    response = sqlite_api.client.options(
        "/api/v1/patients", headers={"Origin": "https://evil.example", "Access-Control-Request-Method": "GET"}
    )
    assert "access-control-allow-origin" not in response.headers


def test_capture_upload_analysis_report_equals_the_command_line(api: Api, tmp_path: Path) -> None:
    clinician, _patient_id, session_id = setup_session(api, height_m=1.75)
    data = CAPTURE.read_bytes()
    rec = api.ok(upload(api, clinician, session_id, data, format="capture", filename="walk.imucap"), 201)
    assert rec["size_bytes"] == len(data) and set(rec["summary"]["placements"]) == {
        "pelvis",
        "left_thigh",
        "right_thigh",
    }
    content = api.client.get(f"/api/v1/recordings/{rec['id']}/content", headers=clinician)
    assert content.content == data and content.headers["x-content-sha256"] == rec["sha256"]

    job = api.ok(api.client.post(f"/api/v1/sessions/{session_id}/analyses", headers=clinician), 202)
    assert job["status"] in ("queued", "running", "done")
    job = wait_done(api, clinician, job["id"])
    assert job["status"] == "done", job["error"]
    report = api.ok(api.client.get(f"/api/v1/analyses/{job['id']}/report", headers=clinician))

    out = tmp_path / "cli.json"
    assert cli.main(["analyze", str(CAPTURE), "--height-m", "1.75", "--json", str(out), "--quiet"]) == 0
    expected = json.loads(out.read_text())
    assert report["schema"] == expected["schema"] == "fusiongait.report/1"
    assert report["events"] == expected["events"]
    assert report["spatiotemporal"] == expected["spatiotemporal"]
    assert report["kinematics"] == expected["kinematics"]
    assert [f["status"] for f in report["flags"]] == [f["status"] for f in expected["flags"]]

    html = api.client.get(f"/api/v1/analyses/{job['id']}/report.html", headers=clinician)
    assert html.status_code == 200 and html.headers["content-type"].startswith("text/html")
    assert html.text.startswith("<!DOCTYPE html>")


def test_csv_uploads_per_sensor_are_analysed_together(api: Api, tmp_path: Path) -> None:
    clinician, _patient, session_id = setup_session(api, height_m=1.72)
    schedule = (Segment(kind="stand", duration_s=4.0), Segment(kind="walk", duration_s=25.0))
    sim = simulate_session(WalkerParams(height_m=1.72, speed_mps=1.2), schedule=schedule, random_mounting=True, seed=3)
    files = write_recording_csv(sim.recording, tmp_path, "walk")
    for placement, path in files.items():
        rec = api.ok(
            upload(
                api, clinician, session_id, path.read_bytes(), format="csv", placement=placement, filename=path.name
            ),
            201,
        )
        assert rec["summary"]["n_samples"] > 1000
    job = wait_done(
        api, clinician, api.ok(api.client.post(f"/api/v1/sessions/{session_id}/analyses", headers=clinician), 202)["id"]
    )
    assert job["status"] == "done", job["error"]
    report = api.ok(api.client.get(f"/api/v1/analyses/{job['id']}/report", headers=clinician))
    cadence = report["spatiotemporal"]["cadence_spm"]
    assert abs(cadence - sim.truth.cadence_spm) < 2.0
    assert set(report["kinematics"]["hip"]) == {"left", "right"}


# ------------------------------------------------------------------------------------------------ relay batches
def test_relay_batches_are_stored_exactly_once(api: Api) -> None:
    clinician, _patient, session_id = setup_session(api)
    relay = api.relay(clinician, session_id, label="phone")
    parts = split_capture(CAPTURE.read_bytes(), 4)
    answers = [api.ok(relay_batch(api, relay, session_id, body, f"batch-{i}")) for i, body in enumerate(parts)]
    total = sum(a["received"] for a in answers)
    assert all(a["stored"] == a["received"] and not a["replayed"] for a in answers)

    again = api.ok(relay_batch(api, relay, session_id, parts[1], "batch-1"))  # a retry: same key, same body
    assert again == {**answers[1], "replayed": True}
    overlap = api.ok(relay_batch(api, relay, session_id, parts[2], "batch-2-resent-under-a-new-key"))
    assert overlap["stored"] == 0 and overlap["duplicates"] == overlap["received"]
    conflict = relay_batch(api, relay, session_id, parts[3], "batch-1")  # the key of another body
    assert conflict.status_code == 409 and "Idempotency-Key" in conflict.json()["error"]["message"]

    state = api.client.app.state.service  # type: ignore[attr-defined]
    with state.database.session() as db:
        assert db.query(RelayPacket).filter_by(session_id=session_id).count() == total
    counts = api.ok(api.client.get(f"/api/v1/sessions/{session_id}/relay-packets", headers=clinician))
    assert set(counts) == {"pelvis", "left_thigh", "right_thigh"}
    session = api.ok(api.client.get(f"/api/v1/sessions/{session_id}", headers=clinician))
    assert session["sensors"] == {"0": "pelvis", "1": "left_thigh", "2": "right_thigh"}


def test_relay_uploads_out_of_order_analyse_like_the_capture(api: Api) -> None:
    clinician, _patient, session_id = setup_session(api, height_m=1.75)
    relay = api.relay(clinician, session_id)
    parts = split_capture(CAPTURE.read_bytes(), 5)
    for i in (3, 0, 4, 2, 1, 3):  # out of order, one repeated
        api.ok(relay_batch(api, relay, session_id, parts[i], f"k{i}"))
    job = wait_done(
        api, clinician, api.ok(api.client.post(f"/api/v1/sessions/{session_id}/analyses", headers=clinician), 202)["id"]
    )
    assert job["status"] == "done", job["error"]
    from_relay = api.ok(api.client.get(f"/api/v1/analyses/{job['id']}/report", headers=clinician))

    other = api.session(clinician, api.patient(clinician, height_m=1.75))
    api.ok(upload(api, clinician, other, CAPTURE.read_bytes(), format="capture"), 201)
    job2 = wait_done(
        api, clinician, api.ok(api.client.post(f"/api/v1/sessions/{other}/analyses", headers=clinician), 202)["id"]
    )
    direct = api.ok(api.client.get(f"/api/v1/analyses/{job2['id']}/report", headers=clinician))
    assert from_relay["events"] == direct["events"]
    assert from_relay["kinematics"] == direct["kinematics"]


def test_a_sensor_cannot_change_placement_within_a_session(api: Api) -> None:
    clinician, _patient, session_id = setup_session(api)
    relay = api.relay(clinician, session_id)
    body = split_capture(CAPTURE.read_bytes(), 2)[0]
    api.ok(relay_batch(api, relay, session_id, body, "a"))
    swapped = body.replace(b'"placement":"left_thigh"', b'"placement":"XXXXXXXXXX"')
    swapped = swapped.replace(b'"placement":"right_thigh"', b'"placement":"left_thigh"')
    swapped = swapped.replace(b'"placement":"XXXXXXXXXX"', b'"placement":"right_thigh"')
    response = relay_batch(api, relay, session_id, swapped, "b")
    assert response.status_code == 409 and "sensor 1 is left_thigh" in response.json()["error"]["message"]


# ------------------------------------------------------------------------------------------------ bad input
@pytest.mark.parametrize(
    ("case", "status", "words"),
    [
        ("truncated", 422, "truncated"),
        ("csv_as_capture", 422, "not a capture"),
        ("capture_as_csv", 422, "not a CSV file"),
        ("empty", 422, "empty"),
        ("too_large", 413, "limit"),
        ("csv_without_placement", 422, "placement"),
        ("bad_format", 422, "format"),
    ],
)
def test_bad_uploads_are_refused_and_nothing_is_stored(
    tmp_path: Path, database_url: str | None, case: str, status: int, words: str
) -> None:
    for api in make_api(tmp_path, database_url, max_upload_bytes=150_000):
        clinician, _patient, session_id = setup_session(api)
        data = CAPTURE.read_bytes()[:120_000]
        csv_text = b"t_s,acc_x_mps2,acc_y_mps2,acc_z_mps2,gyr_x_dps,gyr_y_dps,gyr_z_dps\n0,0,0,9.8,0,0,0\n"
        params, body = {
            "truncated": ({"format": "capture"}, data[:-7]),
            "csv_as_capture": ({"format": "capture"}, csv_text),
            "capture_as_csv": ({"format": "csv", "placement": "pelvis"}, data),
            "empty": ({"format": "capture"}, b""),
            "too_large": ({"format": "capture"}, CAPTURE.read_bytes()),
            "csv_without_placement": ({"format": "csv"}, csv_text),
            "bad_format": ({"format": "mp3"}, data),
        }[case]
        response = upload(api, clinician, session_id, body, **params)
        assert response.status_code == status, response.text
        assert words in response.json()["error"]["message"]
        assert api.ok(api.client.get(f"/api/v1/sessions/{session_id}/recordings", headers=clinician)) == []
        blobs = api.settings.blob_dir
        assert not blobs.exists() or not [p for p in blobs.rglob("*") if p.is_file()]


@pytest.mark.parametrize(
    ("case", "status", "words"),
    [
        ("truncated", 422, "truncated"),
        ("not_a_capture", 422, "not a capture"),
        ("no_key", 422, "Idempotency-Key"),
        ("too_large", 413, "limit"),
    ],
)
def test_bad_relay_batches_store_nothing(
    tmp_path: Path, database_url: str | None, case: str, status: int, words: str
) -> None:
    for api in make_api(tmp_path, database_url, max_relay_batch_bytes=100_000):
        clinician, _patient, session_id = setup_session(api)
        relay = api.relay(clinician, session_id)
        body = split_capture(CAPTURE.read_bytes(), 4)[0]
        url = f"/api/v1/sessions/{session_id}/relay-batches"
        if case == "no_key":
            response = api.client.post(url, content=body, headers=relay)
        else:
            content = {"truncated": body[:-3], "not_a_capture": b"hello", "too_large": CAPTURE.read_bytes()}[case]
            response = api.client.post(url, content=content, headers={**relay, "Idempotency-Key": "k"})
        assert response.status_code == status, response.text
        assert words in response.json()["error"]["message"]
        with api.client.app.state.service.database.session() as db:  # type: ignore[attr-defined]
            assert db.query(RelayPacket).count() == 0


def test_corrupt_packets_in_a_batch_are_listed_not_stored(api: Api) -> None:
    clinician, _patient, session_id = setup_session(api)
    relay = api.relay(clinician, session_id)
    body = bytearray(split_capture(CAPTURE.read_bytes(), 4)[0])
    capture = parse_capture(bytes(body))
    imu = capture.decode().imu
    hit = int(imu.position[10])
    body[int(capture.offset[hit]) + 20] ^= 0xFF  # a bit error in one packet's samples
    answer = api.ok(relay_batch(api, relay, session_id, bytes(body), "k"))
    assert answer["rejected"] == [f"record {hit}: packet: CRC mismatch"]
    assert answer["stored"] == answer["received"] == len(capture) - 1


# ------------------------------------------------------------------------------------------------ tokens
def test_token_failures_are_401_and_name_the_reason(api: Api) -> None:
    clinic = api.clinic()
    clinician = api.clinician(clinic)
    assert api.client.get("/api/v1/patients").status_code == 401
    assert api.client.get("/api/v1/patients").headers["www-authenticate"] == "Bearer"
    wrong = api.client.get("/api/v1/patients", headers={"Authorization": "Bearer fg_nope"})
    assert wrong.status_code == 401 and wrong.json()["error"]["message"] == "invalid token"
    assert api.client.get("/api/v1/patients", headers={"Authorization": "Basic abc"}).status_code == 401
    state = api.client.app.state.service  # type: ignore[attr-defined]
    issued = api.ok(
        api.client.post("/api/v1/tokens", json={"role": "clinician", "clinic_id": clinic}, headers=api.admin), 201
    )
    with state.database.session() as db:
        db.get(Token, issued["id"]).expires_at = utcnow() - dt.timedelta(seconds=1)
    expired = api.client.get("/api/v1/patients", headers={"Authorization": f"Bearer {issued['token']}"})
    assert expired.status_code == 401 and expired.json()["error"]["message"] == "token expired"
    assert api.client.get("/api/v1/patients", headers=clinician).status_code == 200
    with state.database.session() as db:
        ids = [t.id for t in db.query(Token).filter_by(role="clinician", expires_at=None)]
    api.ok(api.client.delete(f"/api/v1/tokens/{ids[0]}", headers=api.admin), 204)
    assert api.client.get("/api/v1/patients", headers=clinician).json()["error"]["message"] == "token revoked"


def test_other_clinics_patients_answer_like_missing_ones(api: Api) -> None:
    mine = api.clinician(api.clinic())
    theirs = api.clinician(api.clinic())
    patient_id = api.patient(theirs)
    hidden = api.client.get(f"/api/v1/patients/{patient_id}", headers=mine)
    missing = api.client.get("/api/v1/patients/000000000000000000000000", headers=mine)
    assert hidden.status_code == missing.status_code == 404
    assert hidden.json()["error"]["code"] == missing.json()["error"]["code"] == "not_found"
    assert api.ok(api.client.get("/api/v1/patients", headers=mine)) == []


# ------------------------------------------------------------------------------------------------ jobs
def test_baselines_come_from_the_patients_earlier_sessions(api: Api) -> None:
    clinician = api.clinician(api.clinic())
    patient_id = api.patient(clinician, height_m=1.75)
    reports = []
    for date in ("2026-10-01", "2026-11-01"):
        session_id = api.session(clinician, patient_id, date=date)
        api.ok(upload(api, clinician, session_id, CAPTURE.read_bytes(), format="capture"), 201)
        job = wait_done(
            api,
            clinician,
            api.ok(api.client.post(f"/api/v1/sessions/{session_id}/analyses", headers=clinician), 202)["id"],
        )
        assert job["status"] == "done", job["error"]
        reports.append(api.ok(api.client.get(f"/api/v1/analyses/{job['id']}/report", headers=clinician)))
    assert "baseline" not in reports[0] or not reports[0]["baseline"]
    assert reports[1]["baseline"]["sessions"], "the second session is compared with the first"
    assert reports[1]["session"]["date"] == "2026-11-01"


def test_an_analysis_without_data_fails_with_the_reason(api: Api) -> None:
    clinician, _patient, session_id = setup_session(api)
    job = wait_done(
        api, clinician, api.ok(api.client.post(f"/api/v1/sessions/{session_id}/analyses", headers=clinician), 202)["id"]
    )
    assert job["status"] == "failed" and "no recording" in job["error"]
    report = api.client.get(f"/api/v1/analyses/{job['id']}/report", headers=clinician)
    assert report.status_code == 409 and "failed" in report.json()["error"]["message"]


def test_jobs_left_by_a_stopped_service_run_at_the_next_start(tmp_path: Path, database_url: str | None) -> None:
    for api in make_api(tmp_path, database_url):
        clinician, _patient, session_id = setup_session(api, height_m=1.75)
        api.ok(upload(api, clinician, session_id, CAPTURE.read_bytes(), format="capture"), 201)
        with api.client.app.state.service.database.session() as db:  # type: ignore[attr-defined]
            db.add(Analysis(id="queuedbeforestop", session_id=session_id, status="running", warnings=[]))
        token = clinician
    for api in make_api(tmp_path, database_url):  # the same data folder: a restarted service
        job = wait_done(api, token, "queuedbeforestop")
        assert job["status"] == "done", job["error"]
        with api.client.app.state.service.database.session() as db:  # type: ignore[attr-defined]
            assert db.query(RecordingFile).count() == 1
