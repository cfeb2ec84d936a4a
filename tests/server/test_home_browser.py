"""The patient page's home-monitoring section (issue 9) in headless Chromium against a real ``fusiongait serve``.

The home days are put in the database as a finished analysis would leave them (30 days, walking speed 0.15 m/s lower
from day 8, so F6's home arm has fired on day 24; the analysis itself is tested in test_home.py). The test signs in,
opens the patient, and sees the baseline, the F6 flag and the others not flagged, one chart per home metric, the
days table; "Analyse new uploads" answers that every day is up to date (no relay packets); the home report downloads
as a self-contained page. Screenshots in tests/artifacts/home/.
"""

from __future__ import annotations

import contextlib
import datetime as dt

import httpx

from server.db import Database, HomeDay
from tests.gait.test_trends import _home_days
from tests.server.processes import ROOT, Server
from tests.server.test_dashboard_browser import CHROMIUM, pytestmark  # noqa: F401 - the same skips

ARTIFACTS = ROOT / "tests" / "artifacts" / "home"

with contextlib.suppress(ImportError):  # skipped by pytestmark without it
    from playwright.sync_api import sync_playwright


def test_the_patient_page_shows_home_trends_the_fired_flag_and_downloads_the_report(server: Server) -> None:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    server.admin("create-token", "--role", "admin", "--label", "home page")
    token = server.admin("create-token", "--role", "clinician", "--clinic", "C1")
    server.start()
    api = httpx.Client(base_url=f"{server.base_url}/api/v1", headers={"Authorization": f"Bearer {token}"}, timeout=30)
    patient = api.post("/patients", json={"code": "P-HOME", "height_m": 1.72}).json()["id"]
    session = api.post(f"/patients/{patient}/sessions", json={"kind": "home", "date": "2026-03-01"}).json()["id"]
    database = Database(f"sqlite:///{server.data_dir / 'fusiongait.db'}")
    try:
        with database.session() as db:
            for day in _home_days(30, change_day=8):
                result = {"schema": "fusiongait.daily/1", "days": [day]}
                db.add(HomeDay(session_id=session, date=dt.date.fromisoformat(day["date"]), status="done",
                               n_packets=0, result=result, error="", warnings=[]))  # fmt: skip
    finally:
        database.dispose()

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, headless=True, args=["--no-sandbox"])
        try:
            context = browser.new_context(viewport={"width": 1280, "height": 900}, accept_downloads=True)
            page = context.new_page()
            errors: list[str] = []
            page.on("pageerror", lambda e: errors.append(str(e)))
            page.goto(f"{server.base_url}/#/patients/{patient}")
            page.get_by_test_id("token-input").fill(token)
            page.get_by_test_id("signin-submit").click()
            section = page.get_by_test_id("home-monitoring")
            page.locator("[data-testid=home-flags] [data-flag=F6]").wait_for(timeout=20_000)
            assert page.locator("[data-testid=home-flags] [data-flag=F6]").get_attribute("data-status") == "flagged"
            statuses = page.locator("[data-testid=home-flags] li").evaluate_all("els => els.map(e => e.dataset.status)")
            assert statuses.count("flagged") == 1 and len(statuses) == 6
            assert "Pattern consistent with" in (page.locator("[data-flag=F6]").text_content() or "")
            assert "first week of monitoring" in (page.get_by_test_id("home-baseline").text_content() or "")
            charts = page.locator("[data-testid=home-chart]")
            assert charts.count() == 14  # one per home metric; five have no values in these days
            assert page.locator("[data-testid=home-chart][data-empty=true]").count() == 5
            speed = page.locator("[data-testid=home-chart][data-metric=walking_speed_median_mps]")
            assert speed.locator("svg.chart path").count() >= 1 and speed.locator("svg.chart circle").count() == 30
            assert page.locator("[data-testid=home-days-table] tbody tr").count() == 30
            section.screenshot(path=str(ARTIFACTS / "01-home-section.png"))

            page.get_by_test_id("home-analyse").click()
            page.wait_for_function(
                "document.querySelector('[data-testid=home-status]').textContent.includes('up to date')",
                timeout=15_000,
            )
            with page.expect_download(timeout=20_000) as info:
                page.get_by_test_id("home-report-download").click()
            saved = ARTIFACTS / "home-report.html"
            info.value.save_as(saved)
            html = saved.read_text()
            assert "P-HOME" in html and "not a diagnosis" in html and html.count("<svg") == 9
            assert errors == []
        finally:
            browser.close()
