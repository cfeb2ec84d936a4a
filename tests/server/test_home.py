"""Home monitoring through the service (issue 9): relay uploads of simulated days at home → one everyday-walking
analysis per local calendar day → the patient's home trends and the downloadable report.

Days are short (about 25 minutes of wear, the service configured for that protocol with ``home_min_wear_h``) so the
test runs in seconds; the persistence rule itself is tested in tests/gait/test_trends.py.
"""

from __future__ import annotations

import datetime as dt
import random
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from gait.daily import DailyRules, walking_bouts
from hardware.simulator import PRESETS, DayPlan, SimulatedDay, simulate_day
from hardware.simulator.record import record_recording
from tests.server.conftest import Api, make_api
from tests.server.test_api import relay_batch, split_capture

UTC_OFFSET_MIN = 60
#: 08:00 local time (UTC+1) on 2026-03-02; one simulated day per calendar day.
FIRST_DAY = dt.date(2026, 3, 2)
PLAN = DayPlan(wear_h=0.4, sit_min=(1.0, 3.0), long_walk_probability=0.4, long_walk_s=(40.0, 90.0))


def day_start_s(i: int) -> float:
    local = dt.datetime.combine(FIRST_DAY + dt.timedelta(days=i), dt.time(8, 0), tzinfo=dt.UTC)
    return local.timestamp() - UTC_OFFSET_MIN * 60


def capture_of(day: SimulatedDay, seed: int) -> bytes:
    """The day as the relay would have captured it: three virtual sensors over BLE, stamped with wall-clock time."""
    return record_recording(day.recording(), seed=seed)


def truth_steps(day: SimulatedDay) -> int:
    t, rules = day.truth, DailyRules.from_rules()
    wb = walking_bouts(t.ic_idx, t.ic_walk, t.sampling_rate_hz, max_break_s=rules.max_break_s,
                       min_strides=rules.min_strides)  # fmt: skip
    return int(np.count_nonzero(wb >= 0))


@pytest.fixture(scope="module")
def home_days() -> list[tuple[SimulatedDay, bytes]]:
    walker = PRESETS["healthy"]()
    days = [simulate_day(walker, plan=PLAN, seed=40 + i, start_time_s=day_start_s(i)) for i in range(3)]
    return [(d, capture_of(d, seed=i)) for i, d in enumerate(days)]


@pytest.fixture
def home_api(tmp_path: Path) -> Iterator[Api]:
    yield from make_api(tmp_path, None, home_min_wear_h=0.3, home_analysis_interval_s=0)


def wait_days(api: Api, headers: dict[str, str], session_id: str, timeout_s: float = 120.0) -> list[dict[str, Any]]:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        days = api.ok(api.client.get(f"/api/v1/sessions/{session_id}/home-days", headers=headers))
        if days and all(d["status"] in ("done", "failed") for d in days):
            return list(days)
        time.sleep(0.2)
    raise AssertionError("the home days were not analysed in time")


def test_relay_uploads_become_calendar_days_trends_and_a_report(
    home_api: Api, home_days: list[tuple[SimulatedDay, bytes]]
) -> None:
    api = home_api
    clinician = api.clinician(api.clinic())
    patient = api.patient(clinician, height_m=1.75, utc_offset_min=UTC_OFFSET_MIN)
    session = api.session(clinician, patient, kind="home")
    relay = api.relay(clinician, session)

    # Days 1-2 and the first half of day 3, in batches sent out of order, one of them twice.
    batches = [(f"d{i}-b{k}", b) for i, (_d, cap) in enumerate(home_days) for k, b in enumerate(split_capture(cap, 6))]
    first = [b for b in batches if not b[0].startswith("d2-") or int(b[0][-1]) < 3]
    rest = [b for b in batches if b not in first]
    order = first[:]
    random.Random(5).shuffle(order)
    for key, body in [*order, order[2]]:
        api.ok(relay_batch(api, relay, session, body, key))

    queued = api.ok(api.client.post(f"/api/v1/sessions/{session}/home-days/analyse", headers=clinician), 202)
    assert [q["date"] for q in queued] == [(FIRST_DAY + dt.timedelta(days=i)).isoformat() for i in range(3)]
    days = wait_days(api, clinician, session)
    assert all(d["status"] == "done" for d in days), [d["error"] for d in days]
    for (sim, _cap), d in zip(home_days[:2], days[:2], strict=True):
        truth = truth_steps(sim)
        assert d["day"]["date"] == d["date"]
        assert d["day"]["sufficient"], d["day"]["reasons"]
        assert abs(d["day"]["steps"] - truth) <= 0.03 * truth, (d["day"]["steps"], truth)
    partial_steps = days[2]["day"]["steps"]

    # Nothing new: nothing to do. The rest of day 3 arrives late (the phone was offline): only day 3 again.
    assert api.ok(api.client.post(f"/api/v1/sessions/{session}/home-days/analyse", headers=clinician), 202) == []
    for key, body in rest:
        api.ok(relay_batch(api, relay, session, body, key))
    again = api.ok(api.client.post(f"/api/v1/sessions/{session}/home-days/analyse", headers=clinician), 202)
    assert [q["date"] for q in again] == [(FIRST_DAY + dt.timedelta(days=2)).isoformat()]
    days = wait_days(api, clinician, session)
    assert days[2]["day"]["steps"] > partial_steps
    truth = truth_steps(home_days[2][0])
    assert abs(days[2]["day"]["steps"] - truth) <= 0.03 * truth

    trends = api.ok(api.client.get(f"/api/v1/patients/{patient}/home-trends", headers=clinician))
    assert trends["schema"] == "fusiongait.home_trends/1"
    assert trends["baseline"]["source"].startswith("first week of monitoring")
    assert trends["baseline"]["valid_days"] == 3
    assert [d["session_id"] for d in trends["days"]] == [session] * 3
    speed = next(m for m in trends["metrics"] if m["metric"] == "walking_speed_median_mps")
    assert speed["unit"] == "m/s" and speed["baseline_days"] == 3
    assert 0.8 < speed["baseline_median"] < 1.6 and speed["threshold"] >= 0.05
    assert {f["id"] for f in trends["flags"]} == {"F1", "F2", "F3", "F4", "F5", "F6"}
    assert all(f["status"] != "flagged" for f in trends["flags"])  # three days: nothing can have persisted

    # The clinician sets the baseline period; a period that ends before it starts is refused.
    bad = api.client.patch(
        f"/api/v1/patients/{patient}",
        json={"home_baseline_start": "2026-03-04", "home_baseline_end": "2026-03-02"},
        headers=clinician,
    )
    assert bad.status_code == 422 and "home_baseline" in bad.json()["error"]["message"]
    api.ok(
        api.client.patch(
            f"/api/v1/patients/{patient}",
            json={"home_baseline_start": "2026-03-02", "home_baseline_end": "2026-03-04"},
            headers=clinician,
        )
    )
    trends = api.ok(api.client.get(f"/api/v1/patients/{patient}/home-trends", headers=clinician))
    assert (
        trends["baseline"]["valid_days"] == 3 and trends["baseline"]["source"] == "baseline period set for the patient"
    )

    page = api.client.get(f"/api/v1/patients/{patient}/home-report.html?download=true", headers=clinician)
    assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
    assert page.headers["content-disposition"].startswith("attachment;")
    assert "<svg" in page.text and "not a diagnosis" in page.text and "walking speed, median" in page.text

    clinic = api.session(clinician, patient)
    refused = api.client.post(f"/api/v1/sessions/{clinic}/home-days/analyse", headers=clinician)
    assert refused.status_code == 409


def test_home_routes_need_a_staff_token_of_the_patients_clinic(home_api: Api) -> None:
    api = home_api
    clinician = api.clinician(api.clinic())
    patient = api.patient(clinician)
    session = api.session(clinician, patient, kind="home")
    relay = api.relay(clinician, session)
    other = api.clinician(api.clinic())
    assert api.client.get(f"/api/v1/patients/{patient}/home-trends", headers=other).status_code == 404
    assert api.client.get(f"/api/v1/patients/{patient}/home-trends", headers=relay).status_code == 403
    assert api.client.get(f"/api/v1/sessions/{session}/home-days").status_code == 401
    empty = api.ok(api.client.get(f"/api/v1/patients/{patient}/home-trends", headers=clinician))
    assert empty["days"] == [] and empty["baseline"]["source"] == "no home days yet"
