"""A simulated home patient through the Python relay into the service, end to end (issue 9), short version.

The same run as ``scripts/validate_home.py`` (which does 28 days of 1.5 h and checks when the trend flag fires),
with three days of about 20 minutes of wear: simulated days (sitting, short and long walks) recorded as the relay
captures them, fed by the accelerated relay (:mod:`firmware_bridge.relay_replay`: the reference relay's own Batcher,
RelayQueue and Uploader, the simulated clock injected) through a proxy to a real ``fusiongait serve`` process, with

- network cuts in simulated time (random ones, and one from the middle of day 2 to the middle of day 3, so day 2
  or the day before it is analysed with part of its data and analysed again when the rest arrives),
- the relay process SIGKILLed in the middle of days 1 and 3 and restarted on the same queue folder (re-feeding from
  its saved position: packets sent twice under new keys),
- a batch the server acknowledged put back into the queue after a kill, and answers of the server lost by the proxy
  (batches re-sent with their key).

Checked: every packet of the three captures is stored exactly once, byte for byte; every day is analysed; steps
within 3 % and walking time within 5 % of the simulator's truth per day; no trend flag (three days cannot hold a
change for two weeks). On SQLite and on PostgreSQL (skipped when no server answers).
"""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from types import ModuleType

import pytest

ROOT = Path(__file__).resolve().parents[2]


def _validate_home() -> ModuleType:
    if "validate_home" in sys.modules:
        return sys.modules["validate_home"]
    spec = importlib.util.spec_from_file_location("validate_home", ROOT / "scripts" / "validate_home.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules["validate_home"] = module  # the simulation's worker processes find it by name
    spec.loader.exec_module(module)
    return module


vh = _validate_home()

RUN = vh.HomeRun(
    days=3,
    change_day=3,
    wear_h=0.35,
    min_wear_h=0.25,
    sit_min=(1.0, 3.0),
    long_walk_s=(40.0, 90.0),
    long_walk_probability=0.4,
    cuts_per_day=2.0,
    cut_s=(60.0, 1800.0),
    long_cut_day=2,
    kill_days=(1, 3),
    lose_answer_p=0.05,
    batch_s=30.0,
    seed=11,
    sim_workers=2,
)


@pytest.fixture(scope="module")
def days_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("home_days")


@pytest.fixture(params=["sqlite", "postgresql"])
def database_url(request: pytest.FixtureRequest) -> str | None:
    return request.getfixturevalue("pg_url") if request.param == "postgresql" else None


def test_a_simulated_home_patient_through_the_relay_is_stored_once_and_measured_right(
    tmp_path: Path, days_dir: Path, database_url: str | None
) -> None:
    import dataclasses

    run = dataclasses.replace(RUN, database_url=database_url)
    figures = vh.run_home_validation(run, tmp_path, days_dir=days_dir, log=lambda _line: None)
    s = figures["summary"]

    # The failures happened: cuts (the queue was left non-empty at a day's end), kills, re-sent batches
    assert s["network_cuts"] >= 2 and s["network_cut_h"]["max"] >= 24.0, s["network_cut_h"]
    assert s["relay_kills"] == 2, figures["kills"]
    assert s["max_queue_left_at_day_end"] > 0, figures["timeline"]
    assert s["batches_requeued_after_ack"] >= 1 and s["batches_replayed"] >= 1, s
    assert s["upload_failures"] >= 1, s
    # A day was analysed with part of its data, then again when the rest came in late
    analysed = [d for e in figures["timeline"] for d in e["analysed"]]
    assert len(analysed) > len(set(analysed)) == 3, figures["timeline"]

    # Every packet exactly once, byte for byte
    assert s["exactly_once"], s
    assert s["stored_packets"] == s["expected_packets"] > 100_000

    # Every day analysed; the daily outcomes match the simulator's truth
    for day in figures["per_day"]:
        assert day["status"] == "done", day
        assert abs(day["steps_error_pct"]) <= 3.0, day
        assert abs(day["walking_time_error_pct"]) <= 5.0, day

    # Three days: the trend rule cannot have fired
    assert s["f6_fired_day"] is None and s["f6_first_flagged_day_as_seen"] is None
    assert all(f["status"] != "flagged" for f in s["flags_at_end"].values())
