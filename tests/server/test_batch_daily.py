"""``fusiongait batch --daily``: the home mode of the batch on a real dask.distributed LocalCluster (one worker).

The cohort: a two-day home recording on the wall clock (the simulated days of tests/server/test_daily_cmd.py, one
Parquet file) and a CSV set whose times count from zero. Each recording is one task running
``server.analysis.analyze_home_recording``, the step of ``fusiongait daily``: the daily document must equal the
in-process analysis, the summary must hold one row per recording-day with the daily document's values (and the step
counts within the truth tolerance of the daily tests), the file without a start time must be a failed item with the
message of ``fusiongait daily``, a re-run must skip what is done, and other options must redo it.
"""

from __future__ import annotations

import csv
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from firmware_bridge.readers.csv_format import write_recording_csv
from firmware_bridge.readers.parquet_format import write_recording_parquet
from gait.recording import Recording
from hardware.simulator import PRESETS, SimulatedDay, simulate_day
from server.analysis import analyze_home_recording
from server.batch import BatchError, analysis_key, discover, load_item, read_manifest, run_batch
from tests.server.test_daily_cmd import DATES, PLAN, UTC_OFFSET_MIN, joined, local_s
from tests.server.test_home import truth_steps

HOME = dict(height_m=1.75, sensor_height_m=None, utc_offset_min=UTC_OFFSET_MIN, min_wear_h=0.2)


@pytest.fixture(scope="module")
def two_days() -> tuple[SimulatedDay, SimulatedDay]:
    """The days of test_daily_cmd: 23:00-23:18 local on 2 March and 00:30-00:48 on 3 March (UTC+01:00)."""
    walker = PRESETS["healthy"]()
    starts = (local_s(DATES[0], 23, 0), local_s(DATES[1], 0, 30))
    first, second = (simulate_day(walker, plan=PLAN, seed=60 + i, start_time_s=s) for i, s in enumerate(starts))
    return first, second


@pytest.fixture(scope="module")
def cohort(tmp_path_factory: pytest.TempPathFactory, two_days: tuple[SimulatedDay, SimulatedDay]) -> Path:
    root = tmp_path_factory.mktemp("home_cohort")
    write_recording_parquet(joined(two_days[0].recording(), two_days[1].recording()), root / "P7_home.parquet")
    first = two_days[0].recording()
    (root / "zero").mkdir()
    from_zero = Recording(
        acc_mps2=first.acc_mps2,
        gyr_dps=first.gyr_dps,
        sampling_rate_hz=first.sampling_rate_hz,
        placements=first.placements,
        valid=first.valid,
        frame=first.frame,
    )
    write_recording_csv(from_zero, root / "zero", "day")
    return root


@pytest.fixture(scope="module")
def client() -> Iterator[Any]:
    from server.batch_cmd import local_client

    with local_client(1) as c:
        yield c


def _json(path: Path) -> Any:
    return json.loads(path.read_text())


def _csv_rows(path: Path) -> list[dict[str, str]]:
    with path.open() as fh:
        return list(csv.DictReader(fh))


def test_daily_batch_rows_per_day_failed_item_resume_and_changed_options(
    cohort: Path, client: Any, tmp_path: Path, two_days: tuple[SimulatedDay, SimulatedDay]
) -> None:
    items = [i.with_defaults(**HOME) for i in discover(cohort)[0]]
    assert [i.id for i in items] == ["P7_home", "zero/day"]
    out = tmp_path / "out"

    first = run_batch(items, out, client=client, progress=False, daily=True)
    assert (first.total, first.analysed, first.failed) == (2, 2, 1)
    # Times from zero: a failed item with the message of fusiongait daily, not a crash.
    assert "not at a date" in first.failures["zero/day"] and "start_time" in first.failures["zero/day"]
    assert _json(out / "state" / "zero" / "day.daily.json")["status"] == "failed"
    assert not (out / "reports" / "zero" / "day.daily.json").exists()
    assert not (out / "summary.csv").exists()  # the clinic summary is not this mode's

    # The documents equal the in-process analysis (the step of fusiongait daily) with the same options.
    daily = _json(out / "reports" / "P7_home.daily.json")
    trends = _json(out / "reports" / "P7_home.trends.json")
    recording, _warnings = load_item(items[0])
    here = analyze_home_recording(recording, options=items[0].home_options())
    assert daily == json.loads(json.dumps(here.daily))
    assert {k: v for k, v in trends.items() if k != "generated_at"} == {
        k: v for k, v in json.loads(json.dumps(here.trends)).items() if k != "generated_at"
    }
    assert daily["schema"] == "fusiongait.daily/1" and trends["schema"] == "fusiongait.home_trends/1"
    assert [d["date"] for d in daily["days"]] == list(DATES)

    # One summary row per recording-day, with the daily document's values in the columns' units.
    rows = _csv_rows(out / "daily_summary.csv")
    assert [(r["id"], r["date"]) for r in rows] == [("P7_home", DATES[0]), ("P7_home", DATES[1]), ("zero/day", "")]
    for sim, day, row in zip(two_days, daily["days"], rows, strict=False):
        assert row["status"] == "done" and row["sufficient"] == "True", day["reasons"]
        assert int(row["steps"]) == day["steps"]
        truth = truth_steps(sim)
        assert abs(int(row["steps"]) - truth) <= 0.03 * truth, (day["date"], row["steps"], truth)
        assert float(row["wear_h"]) == pytest.approx(day["wear_s"] / 3600, abs=1e-4)
        assert 0.2 <= float(row["wear_h"]) <= 0.35
        assert float(row["recorded_h"]) == pytest.approx(day["recorded_s"] / 3600, abs=1e-4)
        assert float(row["walking_min"]) == pytest.approx(day["walking_s"] / 60, abs=1e-4)
        assert int(row["n_wb"]) == day["n_wb"]
        assert float(row["walking_speed_median_mps"]) == pytest.approx(day["walking_speed_median_mps"])
        assert float(row["cadence_spm"]) == pytest.approx(day["cadence_spm"])
        assert row["utc_offset_min"] == str(UTC_OFFSET_MIN)
        assert (row["baseline_from"], row["daily_report"]) == (DATES[0], "reports/P7_home.daily.json")
    failed_row = rows[2]
    assert failed_row["status"] == "failed" and failed_row["error"] == first.failures["zero/day"]
    assert failed_row["steps"] == "" and failed_row["daily_report"] == ""
    import pyarrow.parquet as pq

    table = pq.read_table(out / "daily_summary.parquet").to_pylist()
    assert [(r["id"], r["date"], r["steps"]) for r in table] == [
        (r["id"], r["date"] or None, int(r["steps"]) if r["steps"] else None) for r in rows
    ]

    # A re-run redoes only the failed recording; the done documents are not touched.
    mtimes = {p: p.stat().st_mtime_ns for p in (out / "reports").rglob("*.json")}
    second = run_batch(items, out, client=client, progress=False, daily=True)
    assert (second.analysed, second.skipped, second.failed) == (1, 1, 1)
    assert {p: p.stat().st_mtime_ns for p in (out / "reports").rglob("*.json")} == mtimes
    assert [(r["id"], r["date"], r["steps"]) for r in second.rows] == [
        (r["id"], r["date"], r["steps"]) for r in first.rows
    ]

    # Another UTC offset is another analysis: in UTC both wear periods fall on 2 March.
    in_utc = [i.with_defaults(**{**HOME, "utc_offset_min": 0}) for i in discover(cohort)[0]][:1]
    third = run_batch(in_utc, out, client=client, progress=False, daily=True)
    assert (third.analysed, third.skipped) == (1, 0)
    assert [r["date"] for r in third.rows] == [DATES[0]]
    assert third.rows[0]["steps"] == sum(r["steps"] for r in first.rows[:2])
    # ... and so is another minimum wear time: a day of 0.3 h wear no longer counts with 0.5 h.
    stricter = [i.with_defaults(**{**HOME, "min_wear_h": 0.5}) for i in discover(cohort)[0]][:1]
    fourth = run_batch(stricter, out, client=client, progress=False, daily=True)
    assert fourth.analysed == 1
    assert [r["sufficient"] for r in fourth.rows] == [False, False]
    assert all("less than 0.5 h" in r["reasons"] for r in fourth.rows)


def test_the_mode_and_the_home_options_are_in_the_analysis_key(cohort: Path) -> None:
    item = next(i for i in discover(cohort)[0] if i.id == "P7_home").with_defaults(**HOME)
    inputs = [{"placement": "", "sha256": "0" * 64}]
    clinic = analysis_key(item, inputs, "v")
    home = analysis_key(item, inputs, "v", daily=True)
    assert clinic != home
    # The home options do not touch the clinic key.
    other = item.with_defaults(height_m=None, sensor_height_m=None)
    assert analysis_key(other, inputs, "v") == clinic
    import dataclasses
    import datetime as dt

    for change in (
        {"utc_offset_min": 0},
        {"min_wear_h": 1.0},
        {"start_time": dt.datetime(2026, 3, 2, 23, 0)},
        {"surgery_date": dt.date(2026, 3, 9)},
        {"baseline_from": dt.date(2026, 3, 2), "baseline_to": dt.date(2026, 3, 3)},
    ):
        changed = dataclasses.replace(item, **change)  # type: ignore[arg-type]
        assert analysis_key(changed, inputs, "v") == clinic, change
        assert analysis_key(changed, inputs, "v", daily=True) != home, change


def test_manifest_home_fields_through_the_command(
    cohort: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str], two_days: tuple[SimulatedDay, SimulatedDay]
) -> None:
    from server.cli import main

    manifest = tmp_path / "home.json"
    recordings = [
        {
            "id": "P7/week1",
            "path": str(cohort / "P7_home.parquet"),
            "patient": "P7",
            "height_m": 1.75,
            "utc_offset_min": 60,
            "baseline_from": DATES[0],
            "baseline_to": DATES[1],
        },
        {
            "id": "P8/day1",
            "sensors": {p: str(cohort / "zero" / f"day_{p}.csv") for p in ("pelvis", "left_thigh", "right_thigh")},
            "patient": "P8",
            "utc_offset_min": 60,
            "start_time": "2026-03-02T23:00",
            "surgery_date": "2026-03-20",
        },
    ]
    manifest.write_text(json.dumps({"recordings": recordings}))
    out = tmp_path / "out"
    argv = ["batch", str(manifest), "--out", str(out), "--workers", "1", "--no-progress", "--daily", "--html"]
    assert main([*argv, "--min-wear-h", "0.2"]) == 0
    printed = capsys.readouterr().out
    assert "2 recordings: 2 done (2 analysed in this run, 0 already done), 0 failed" in printed
    assert "3 recording-days" in printed and "daily_summary.csv" in printed

    trends = _json(out / "reports" / "P7" / "week1.trends.json")
    assert trends["patient"]["code"] == "P7"
    assert trends["baseline"] == {**trends["baseline"], "from": DATES[0], "to": DATES[1]}
    assert trends["baseline"]["source"] == "baseline period given"
    assert "FusionGait home monitoring — P7" in (out / "reports" / "P7" / "week1.home.html").read_text()
    p8 = _json(out / "reports" / "P8" / "day1.daily.json")
    assert p8["start_time_s"] == pytest.approx(local_s(DATES[0], 23, 0))
    p8_trends = _json(out / "reports" / "P8" / "day1.trends.json")
    assert p8_trends["patient"]["surgery_date"] == "2026-03-20"
    assert "baseline_from/baseline_to in the manifest" in p8_trends["baseline"]["source"]

    rows = _csv_rows(out / "daily_summary.csv")
    assert [(r["id"], r["patient"], r["date"]) for r in rows] == [
        ("P7/week1", "P7", DATES[0]),
        ("P7/week1", "P7", DATES[1]),
        ("P8/day1", "P8", DATES[0]),
    ]
    truth = truth_steps(two_days[0])
    assert abs(int(rows[2]["steps"]) - truth) <= 0.03 * truth

    # The same command again does nothing.
    assert main([*argv, "--min-wear-h", "0.2"]) == 0
    assert "0 analysed in this run, 2 already done" in capsys.readouterr().out
    # Options belong to --daily.
    assert main(["batch", str(manifest), "--out", str(out), "--utc-offset-min", "60"]) == 2
    assert "--utc-offset-min: only with --daily" in capsys.readouterr().err


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("path,utc_offset_min\na.parquet,7\n", "line 2: utc_offset_min: expected a whole number of quarter hours"),
        ("path,utc_offset_min\na.parquet,one\n", "line 2: utc_offset_min: expected whole minutes"),
        ("path,start_time\na.parquet,yesterday\n", "line 2: start_time: expected an ISO-8601 date and time"),
        ("path,surgery_date\na.parquet,March\n", "line 2: surgery_date: expected a date as YYYY-MM-DD"),
        ("path,baseline_from\na.parquet,2026-03-02\n", "line 2: baseline_from and baseline_to: give both"),
        (
            "path,baseline_from,baseline_to\na.parquet,2026-03-09,2026-03-02\n",
            "line 2: baseline_to: 2026-03-02 is before baseline_from 2026-03-09",
        ),
    ],
)
def test_manifest_home_field_errors_name_the_entry_and_field(tmp_path: Path, text: str, message: str) -> None:
    manifest = tmp_path / "m.csv"
    manifest.write_text(text)
    with pytest.raises(BatchError) as info:
        read_manifest(manifest)
    assert message in str(info.value)
    assert str(manifest) in str(info.value)
