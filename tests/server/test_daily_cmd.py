"""``fusiongait daily``: a home recording of two calendar days (simulated, with a gap between the wear periods, as
a multi-day file from a sensor the patient owns) analysed offline day by day, with the trends document and the home
report; files whose times count from zero need ``--start-time``; bad arguments are one error line."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import numpy as np
import pytest

from firmware_bridge.readers.csv_format import write_recording_csv
from firmware_bridge.readers.parquet_format import write_recording_parquet
from gait.recording import Recording
from hardware.simulator import PRESETS, DayPlan, SimulatedDay, simulate_day
from server.cli import main
from tests.server.test_cli import run_error
from tests.server.test_home import truth_steps

UTC_OFFSET_MIN = 60
PLAN = DayPlan(wear_h=0.3, sit_min=(1.0, 3.0), long_walk_probability=0.4, long_walk_s=(40.0, 90.0))
DATES = ("2026-03-02", "2026-03-03")


def local_s(date: str, hour: int, minute: int) -> float:
    moment = dt.datetime.combine(dt.date.fromisoformat(date), dt.time(hour, minute), tzinfo=dt.UTC)
    return moment.timestamp() - UTC_OFFSET_MIN * 60


def joined(first: Recording, second: Recording) -> Recording:
    """Two wear periods in one recording, the time between them lost samples (what a multi-day file holds)."""
    fs = first.sampling_rate_hz
    gap = round((second.start_time_s - first.start_time_s) * fs) - first.n_samples
    assert gap > 0
    hole = np.full((first.n_sensors, gap, 3), np.nan)
    return Recording(
        acc_mps2=np.concatenate([first.acc_mps2, hole, second.acc_mps2], axis=-2),
        gyr_dps=np.concatenate([first.gyr_dps, hole, second.gyr_dps], axis=-2),
        sampling_rate_hz=fs,
        placements=first.placements,
        valid=np.concatenate([first.valid, np.zeros((first.n_sensors, gap), dtype=bool), second.valid], axis=-1),
        frame=first.frame,
        start_time_s=first.start_time_s,
    )


@pytest.fixture(scope="module")
def two_days() -> tuple[SimulatedDay, SimulatedDay]:
    """23:00-23:18 local on 2 March and 00:30-00:48 on 3 March: two calendar days an hour apart."""
    walker = PRESETS["healthy"]()
    starts = (local_s(DATES[0], 23, 0), local_s(DATES[1], 0, 30))
    first, second = (simulate_day(walker, plan=PLAN, seed=60 + i, start_time_s=s) for i, s in enumerate(starts))
    return first, second


def test_a_two_day_file_gives_each_calendar_day_its_outcomes_and_the_trends(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], two_days: tuple[SimulatedDay, SimulatedDay]
) -> None:
    path = tmp_path / "home.parquet"
    write_recording_parquet(joined(two_days[0].recording(), two_days[1].recording()), path)
    out_json, trends_json, html = tmp_path / "daily.json", tmp_path / "trends.json", tmp_path / "home.html"
    argv = ["daily", str(path), "--utc-offset-min", str(UTC_OFFSET_MIN), "--min-wear-h", "0.2", "--height-m", "1.75"]
    argv += ["--json", str(out_json), "--trends-json", str(trends_json), "--html", str(html), "--patient", "P7"]
    assert main(argv) == 0
    out, _err = capsys.readouterr()

    daily = json.loads(out_json.read_text())
    assert daily["schema"] == "fusiongait.daily/1"
    assert [d["date"] for d in daily["days"]] == list(DATES)
    for sim, day in zip(two_days, daily["days"], strict=True):
        truth = truth_steps(sim)
        assert day["sufficient"], day["reasons"]
        assert abs(day["steps"] - truth) <= 0.03 * truth, (day["date"], day["steps"], truth)
        assert 0.2 * 3600 <= day["wear_s"] <= 0.35 * 3600
        assert day["walking_speed_median_mps"] is not None and 0.7 < day["walking_speed_median_mps"] < 1.6

    trends = json.loads(trends_json.read_text())
    assert trends["schema"] == "fusiongait.home_trends/1"
    assert trends["baseline"]["from"] == DATES[0] and trends["baseline"]["valid_days"] == 2
    assert "--baseline-from" in trends["baseline"]["source"]  # the offline way to set the plateau
    assert {f["id"] for f in trends["flags"]} == {"F1", "F2", "F3", "F4", "F5", "F6"}
    assert all(f["status"] == "insufficient data" for f in trends["flags"])  # 2 days: not judged, said so
    assert trends["patient"]["code"] == "P7"
    page = html.read_text()
    assert "FusionGait home monitoring — P7" in page and DATES[1] in page and "not a diagnosis" in page

    lines = out.splitlines()
    assert lines[0].startswith("Home recording from 2026-03-02 23:00 (UTC+01:00)")
    assert "2 calendar days, 2 sufficient" in lines[0]
    for day in daily["days"]:
        row = next(line for line in lines if line.startswith(day["date"]))
        assert str(day["steps"]) in row.split()
    assert any("decision support, not a diagnosis" in line for line in lines)


def test_times_from_zero_need_a_start_time(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], two_days: tuple[SimulatedDay, SimulatedDay]
) -> None:
    first = two_days[0].recording()
    files = write_recording_csv(
        Recording(
            acc_mps2=first.acc_mps2,
            gyr_dps=first.gyr_dps,
            sampling_rate_hz=first.sampling_rate_hz,
            placements=first.placements,
            valid=first.valid,
            frame=first.frame,
        ),
        tmp_path,
        "day",
    )
    sensors = [arg for placement, file in files.items() for arg in ("--sensor", f"{placement}={file}")]
    run_error(capsys, ["daily", *sensors], "not at a date", "--start-time")

    out_json = tmp_path / "daily.json"
    argv = ["daily", *sensors, "--start-time", "2026-03-02T23:00", "--utc-offset-min", str(UTC_OFFSET_MIN)]
    assert main([*argv, "--min-wear-h", "0.2", "--json", str(out_json), "--quiet"]) == 0
    assert capsys.readouterr().out == ""
    daily = json.loads(out_json.read_text())
    assert daily["start_time_s"] == pytest.approx(local_s(DATES[0], 23, 0))
    (day,) = daily["days"]
    truth = truth_steps(two_days[0])
    assert day["date"] == DATES[0] and abs(day["steps"] - truth) <= 0.03 * truth

    # The same instant written with its offset, or in UTC, is the same day.
    for moment in ("2026-03-02T23:00+01:00", "2026-03-02T22:00Z"):
        assert main([*argv[:-4], "--start-time", moment, "--utc-offset-min", "60", "--json", str(out_json)]) == 0
        capsys.readouterr()
        assert json.loads(out_json.read_text())["days"][0]["date"] == DATES[0]


@pytest.mark.parametrize(
    ("extra", "says"),
    [
        (["--utc-offset-min", "7"], ["--utc-offset-min", "quarter hours"]),
        (["--baseline-from", "2026-03-02"], ["--baseline-from and --baseline-to", "give both"]),
        (["--baseline-from", "2026-03-09", "--baseline-to", "2026-03-02"], ["--baseline-to", "before"]),
        (["--start-time", "yesterday"], ["--start-time", "ISO-8601"]),
        (["--min-wear-h", "30"], ["--min-wear-h", "between 0.1 and 24"]),
        (["--json", "/no/such/folder/d.json"], ["--json", "does not exist"]),
    ],
)
def test_bad_arguments_are_one_error_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], extra: list[str], says: list[str]
) -> None:
    path = tmp_path / "pelvis.csv"
    path.write_text("t_s,acc_x_mps2,acc_y_mps2,acc_z_mps2,gyr_x_dps,gyr_y_dps,gyr_z_dps\n")
    run_error(capsys, ["daily", "--sensor", f"pelvis={path}", *extra], *says)
