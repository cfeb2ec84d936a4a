"""Phone relay enrolment (issue 9): ``POST /sessions/{id}/relay-enrolment`` issues a relay token for the session and
answers the link that opens the relay page enrolled with it, with a QR code of that link as SVG (segno)."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from urllib.parse import parse_qs, urlsplit

import segno

from hardware.capture import CaptureHeader, CaptureSensor, encode_header
from server.routes.sessions import qr_svg
from tests.server.conftest import Api

SVG = "{http://www.w3.org/2000/svg}"


def _enrol(sqlite_api: Api, **body: object) -> tuple[dict[str, str], str, dict[str, object]]:
    api = sqlite_api
    clinician = api.clinician(api.clinic())
    session = api.session(clinician, api.patient(clinician), kind="home")
    url = f"/api/v1/sessions/{session}/relay-enrolment"
    return clinician, session, api.ok(api.client.post(url, json={"label": "phone", **body}, headers=clinician), 201)


def test_the_enrolment_link_opens_the_relay_page_with_a_working_upload_only_token(sqlite_api: Api) -> None:
    api = sqlite_api
    _, session, out = _enrol(api, service_url="https://gait.example.org/fg")
    assert out["role"] == "relay" and out["session_id"] == session and out["expires_at"]
    link = urlsplit(str(out["relay_url"]))
    assert (link.scheme, link.netloc, link.path, link.query) == ("https", "gait.example.org", "/fg/relay.html", "")
    assert parse_qs(link.fragment) == {"session": [session], "token": [out["token"]]}, "the token only after #"
    relay = {"Authorization": f"Bearer {out['token']}"}
    assert api.client.get(f"/api/v1/sessions/{session}", headers=relay).status_code == 403, "it reads nothing"
    body = encode_header(CaptureHeader(sensors=(CaptureSensor(0, "pelvis"),), session_id=session))
    upload = api.client.post(
        f"/api/v1/sessions/{session}/relay-batches",
        content=body,
        headers={**relay, "Idempotency-Key": "sha256-x", "Content-Type": "application/octet-stream"},
    )
    assert upload.status_code == 200, upload.text
    assert api.client.get("/relay.html").status_code == 200, "the page is served by the service"


def test_the_qr_code_is_an_svg_of_the_link(sqlite_api: Api) -> None:
    _, _, out = _enrol(sqlite_api, service_url="https://gait.example.org")
    svg = ET.fromstring(str(out["qr_svg"]))
    assert svg.tag == f"{SVG}svg"
    assert "sensor page" in (svg.findtext(f"{SVG}title") or "")
    assert out["qr_svg"] == qr_svg(str(out["relay_url"]))
    # the code holds the whole link: the same symbol as segno's for that text, and big enough to carry it
    code = segno.make(str(out["relay_url"]), error="m", micro=False)
    assert code.error in ("M", "Q", "H") and code.version >= 5
    assert int(svg.attrib["width"]) == (code.symbol_size(scale=5, border=4)[0])


def test_the_service_url_defaults_to_the_request_and_must_be_an_http_address(sqlite_api: Api) -> None:
    api = sqlite_api
    _, session, out = _enrol(api)
    assert str(out["relay_url"]).startswith(f"http://testserver/relay.html#session={session}&token=")
    clinician = api.clinician(api.clinic())
    other = api.session(clinician, api.patient(clinician), kind="home")
    for bad in ("javascript:alert(1)", "https://host/path?x=1", "https://host/#frag", "ftp://host"):
        answer = api.client.post(
            f"/api/v1/sessions/{other}/relay-enrolment", json={"service_url": bad}, headers=clinician
        )
        assert answer.status_code == 422, (bad, answer.text)
