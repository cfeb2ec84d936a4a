"""Tests of the ``fusiongait`` command line (server.cli)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import types
from pathlib import Path

import numpy as np
import pytest

from firmware_bridge.readers.csv_format import write_sensor_csv
from gait.errors import AnalysisError
from gait.frames import GRAVITY_MPS2
from server.cli import main

ROOT = Path(__file__).resolve().parents[2]
HEADER = "t_s,acc_x_mps2,acc_y_mps2,acc_z_mps2,gyr_x_dps,gyr_y_dps,gyr_z_dps"


def walking_csv(path: Path, *, n: int = 400, up_axis: int = 2) -> Path:
    """A small walking-like sensor file: gravity along one axis plus step-frequency sinusoids, 100 Hz."""
    t = np.arange(n) / 100.0
    phase = 2 * np.pi * 0.9 * t
    acc = np.column_stack([1.5 * np.sin(2 * phase), 1.0 * np.sin(phase + 0.3), 2.0 * np.sin(2 * phase + 1.0)])
    acc[:, up_axis] += GRAVITY_MPS2
    gyr = np.column_stack([40 * np.sin(phase), 25 * np.sin(2 * phase), 60 * np.sin(phase + 0.5)])
    return write_sensor_csv(path, t, acc, gyr)


def replace_in_line(path: Path, line_no: int, old: str, new: str) -> None:
    lines = path.read_text().split("\n")
    lines[line_no - 1] = lines[line_no - 1].replace(old, new, 1)
    path.write_text("\n".join(lines))


def run_error(capsys: pytest.CaptureFixture[str], argv: list[str], *says: str) -> str:
    """Run ``main(argv)``: exit 2, nothing on stdout, one ``fusiongait: error:`` line on stderr saying ``says``."""
    status = main(argv)
    out, err = capsys.readouterr()
    assert status == 2
    assert "Traceback" not in err
    lines = err.splitlines()
    assert len(lines) == 1, err
    assert lines[0].startswith("fusiongait: error: ")
    for text in says:
        assert text in lines[0], f"{text!r} not in {lines[0]!r}"
    assert out == ""
    return lines[0]


# --------------------------------------------------------------------------------------------- bad input
def test_missing_file(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "walk_pelvis.csv"
    run_error(capsys, ["analyze", "--sensor", f"pelvis={path}"], str(path), "file not found")


def test_missing_column(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = walking_csv(tmp_path / "walk_pelvis.csv")
    replace_in_line(path, 1, "gyr_z_dps", "gyro_z")
    run_error(
        capsys,
        ["analyze", "--sensor", f"pelvis={path}"],
        str(path),
        "line 1",
        "missing column gyr_z (gyr_z_dps or gyr_z_rads)",
        "found: t_s,",
    )


def test_column_without_unit(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = walking_csv(tmp_path / "walk_pelvis.csv")
    replace_in_line(path, 1, "acc_x_mps2", "acc_x")
    run_error(
        capsys,
        ["analyze", "--sensor", f"pelvis={path}"],
        f"{path}, line 1, column 'acc_x': ",
        "no unit",
        "acc_x_mps2",
        "acc_x_g",
    )


def test_non_numeric_cell(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = walking_csv(tmp_path / "walk_pelvis.csv")
    lines = path.read_text().split("\n")
    lines[56] = lines[56].rsplit(",", 1)[0] + ",abc"
    path.write_text("\n".join(lines))
    line = run_error(capsys, ["analyze", "--sensor", f"pelvis={path}"])
    assert line == f"fusiongait: error: {path}, line 57, column 'gyr_z_dps': expected a number, got 'abc'"


def test_time_not_increasing(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = walking_csv(tmp_path / "walk_pelvis.csv")
    replace_in_line(path, 33, "0.310000", "0.300000")  # line 33 holds t = 0.31 s, line 32 t = 0.30 s
    run_error(
        capsys,
        ["analyze", "--sensor", f"pelvis={path}"],
        f"{path}, line 33, column 't_s': ",
        "duplicated",
        "line 32",
    )


def test_bad_thigh_file_is_named(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    pelvis = walking_csv(tmp_path / "p.csv")
    thigh = walking_csv(tmp_path / "l.csv", n=100)
    run_error(
        capsys,
        ["analyze", "--sensor", f"pelvis={pelvis}", "--sensor", f"left_thigh={thigh}"],
        str(thigh),
        "file too short",
    )


@pytest.mark.parametrize(
    ("args", "says"),
    [
        (["--height-m", "3.5"], ("argument --height-m", "between 0.8 and 2.5 m", "3.5")),
        (["--height-m", "tall"], ("argument --height-m", "expected a body height in metres", "'tall'")),
        (["--height-m", "nan"], ("argument --height-m",)),
        (["--sensor-height-m", "0.2"], ("argument --sensor-height-m", "between 0.4 and 1.5 m")),
        (["--height-m", "1.75", "--sensor-height-m", "0.95"], ("not allowed with argument",)),
    ],
)
def test_bad_heights(tmp_path: Path, capsys: pytest.CaptureFixture[str], args: list[str], says: tuple[str]) -> None:
    path = walking_csv(tmp_path / "p.csv")
    run_error(capsys, ["analyze", "--sensor", f"pelvis={path}", *args], *says)


def test_unknown_placement(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = walking_csv(tmp_path / "hip.csv")
    run_error(
        capsys,
        ["analyze", "--sensor", f"pelvis={path}", "--sensor", f"hip={path}"],
        str(path),
        "unknown placement 'hip'",
        "pelvis, left_thigh, right_thigh",
    )


@pytest.mark.parametrize(
    ("argv", "says"),
    [
        (["analyze", "walk.imucap"], ("walk.imucap: cannot read the file",)),
        (["analyze", "walk.csv"], ("walk.csv: cannot read the file",)),
        (["analyze"], ("no input", "--sensor pelvis=FILE")),
        (["analyze", "--sensor", "walk.csv"], ("argument --sensor", "PLACEMENT=FILE", "'walk.csv'")),
        (["analyze", "--sensor", "left_thigh=a.csv"], ("pelvis=FILE is required",)),
        (["analyze", "--sensor", "pelvis=a.csv", "--sensor", "pelvis=b.csv"], ("pelvis given twice",)),
        (["analyze", "--sensor", "pelvis=a.csv", "--json", "/no/such/dir/out.json"], ("--json", "/no/such/dir")),
        (["analyze", "--bogus"], ("unrecognized arguments: --bogus",)),
        ([], ("required: COMMAND",)),
        (["frobnicate"], ("invalid choice: 'frobnicate'",)),
    ],
)
def test_usage_errors(capsys: pytest.CaptureFixture[str], argv: list[str], says: tuple[str]) -> None:
    run_error(capsys, argv, *says)


def test_help_exits_zero(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["analyze", "--help"]) == 0
    out = capsys.readouterr().out
    assert "--sensor PLACEMENT=FILE" in out and "--height-m" in out and "--sensor-height-m" in out


# -------------------------------------------------------------------------------- plumbing, stubbed analysis
@pytest.fixture
def stub_analysis(monkeypatch: pytest.MonkeyPatch) -> dict[str, object]:
    """Replace gait.pipeline and gait.report by stubs: tests the command's plumbing, not the analysis."""
    seen: dict[str, object] = {}

    class GaitPipeline:
        def __init__(self, *, height_m: float | None = None, sensor_height_m: float | None = None) -> None:
            seen["heights"] = (height_m, sensor_height_m)

        def run(self, recording: object) -> str:
            if seen.get("fail"):
                raise AnalysisError("no walking found in the recording")
            seen["recording"] = recording
            return "result"

    def build_report(
        result: str, *, warnings: list[str], inputs: dict[str, str], **session: object
    ) -> dict[str, object]:
        seen["inputs"] = inputs
        seen["session"] = session
        return {"schema": "fusiongait.report/1", "warnings": [*warnings, "analysis says hello"], "value": 1.5}

    def summary_text(report: dict[str, object]) -> str:
        return "SUMMARY\nsecond line"

    pipeline = types.ModuleType("gait.pipeline")
    pipeline.GaitPipeline = GaitPipeline  # type: ignore[attr-defined]
    report = types.ModuleType("gait.report")
    report.build_report = build_report  # type: ignore[attr-defined]
    report.summary_text = summary_text  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "gait.pipeline", pipeline)
    monkeypatch.setitem(sys.modules, "gait.report", report)
    return seen


def test_plumbing_json_warnings_summary(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], stub_analysis: dict[str, object]
) -> None:
    pelvis = walking_csv(tmp_path / "p.csv")
    thigh = walking_csv(tmp_path / "r.csv", up_axis=0)
    lines = thigh.read_text().split("\n")
    lines[10] = lines[10].rsplit(",", 1)[0] + ","  # a lost sample: a reader warning
    thigh.write_text("\n".join(lines))
    out_json = tmp_path / "out.json"
    argv = ["analyze", "--sensor", f"pelvis={pelvis}", "--sensor", f"right_thigh={thigh}"]
    status = main([*argv, "--sensor-height-m", "0.9", "--json", str(out_json), "--html", str(tmp_path / "r.html")])
    out, err = capsys.readouterr()
    assert status == 0
    assert stub_analysis["heights"] == (None, 0.9)
    assert stub_analysis["inputs"] == {"pelvis": str(pelvis), "right_thigh": str(thigh)}
    assert stub_analysis["recording"].placements == ("pelvis", "right_thigh")  # type: ignore[attr-defined]
    warnings = err.splitlines()
    assert all(line.startswith("fusiongait: warning: ") for line in warnings)
    assert any(f"{thigh}, line 11" in line and "lost samples" in line for line in warnings)
    assert warnings[-1] == "fusiongait: warning: analysis says hello"
    assert len(warnings) == 2
    assert (tmp_path / "r.html").read_text().startswith("<!DOCTYPE html>")
    assert out.startswith("SUMMARY\nsecond line\n")
    assert json.loads(out_json.read_text())["schema"] == "fusiongait.report/1"
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".")] == []  # no temporary file left

    assert main([*argv, "--quiet"]) == 0
    out, err = capsys.readouterr()
    assert out == ""
    assert "lost samples" in err


def test_analysis_error_is_one_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], stub_analysis: dict[str, object]
) -> None:
    stub_analysis["fail"] = True
    path = walking_csv(tmp_path / "p.csv")
    run_error(capsys, ["analyze", "--sensor", f"pelvis={path}"], "no walking found in the recording")


def test_json_write_failure_keeps_the_old_file(
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    stub_analysis: dict[str, object],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    path = walking_csv(tmp_path / "p.csv")
    out_json = tmp_path / "out.json"
    out_json.write_text("old")
    report_module = sys.modules["gait.report"]
    monkeypatch.setattr(
        report_module, "build_report", lambda result, **kw: {"schema": "x", "warnings": [], "bad": float("nan")}
    )
    status = main(["analyze", "--sensor", f"pelvis={path}", "--json", str(out_json)])
    err = capsys.readouterr().err
    assert status == 1
    assert err.splitlines()[-1].startswith("fusiongait: error: cannot write the JSON report")
    assert out_json.read_text() == "old"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out.json", "p.csv"]


# --------------------------------------------------------------------------------------------- the real analysis
def test_analyze_success_with_the_pipeline(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    pytest.importorskip("gait.pipeline", reason="needs gait.pipeline")
    pytest.importorskip("gait.report", reason="needs gait.pipeline")
    pelvis = walking_csv(tmp_path / "p.csv", n=3000)
    out_json = tmp_path / "report.json"
    status = main(["analyze", "--sensor", f"pelvis={pelvis}", "--height-m", "1.75", "--json", str(out_json)])
    out, err = capsys.readouterr()
    assert status == 0, err
    assert "Traceback" not in err
    report = json.loads(out_json.read_text())
    assert report["schema"] == "fusiongait.report/1"
    assert report["recording"]["inputs"] == {"pelvis": str(pelvis)}
    assert out.strip()


def test_baseline_and_html_end_to_end(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from firmware_bridge.readers.csv_format import write_recording_csv
    from hardware.simulator import Segment, WalkerParams, simulate_session

    schedule = (Segment(kind="stand", duration_s=3.0), Segment(kind="walk", duration_s=20.0))
    reports = []
    for k in range(2):
        session = simulate_session(WalkerParams(), schedule=schedule, random_mounting=True, seed=k)
        files = write_recording_csv(session.recording, tmp_path, f"s{k}")
        argv = ["analyze", *(a for p, f in files.items() for a in ("--sensor", f"{p}={f}")), "--height-m", "1.75"]
        argv += ["--json", str(tmp_path / f"s{k}.json"), "--patient", "P-1", "--session-date", f"2026-0{k + 1}-01"]
        if k:
            argv += ["--baseline", str(tmp_path / "s0.json"), "--html", str(tmp_path / "s1.html")]
        status = main(argv)
        out, err = capsys.readouterr()
        assert status == 0, err
        reports.append(json.loads((tmp_path / f"s{k}.json").read_text()))
    assert reports[0]["baseline"] is None and reports[0]["session"]["patient"] == "P-1"
    assert reports[1]["baseline"]["sessions"] == ["2026-01-01"]
    assert [f["id"] for f in reports[1]["flags"]] == ["F1", "F2", "F3", "F4", "F5", "F6", "F7", "F8", "F9"]
    assert "HTML report:" in out and "flags:" in out
    assert "Trend against the personal baseline" in (tmp_path / "s1.html").read_text()


@pytest.mark.parametrize(
    ("content", "says"),
    [
        (None, ("--baseline", "does not exist")),
        ("{not json", ("--baseline", "is not JSON")),
        ('{"schema": "other/1"}', ("--baseline", "not a FusionGait report", "other/1")),
    ],
)
def test_bad_baseline_is_one_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], content: str | None, says: tuple[str, ...]
) -> None:
    pelvis = walking_csv(tmp_path / "p.csv")
    baseline = tmp_path / "earlier.json"
    if content is not None:
        baseline.write_text(content)
    run_error(capsys, ["analyze", "--sensor", f"pelvis={pelvis}", "--baseline", str(baseline)], *says)


def test_bad_session_date(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    pelvis = walking_csv(tmp_path / "p.csv")
    run_error(capsys, ["analyze", "--sensor", f"pelvis={pelvis}", "--session-date", "1/2/26"], "YYYY-MM-DD")


# --------------------------------------------------------------------------------------------- as a program
def _run_module(*args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")]))}
    return subprocess.run(
        [sys.executable, "-m", "server.cli", *args],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def test_module_help_runs_as_a_program() -> None:
    done = _run_module("--help")
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith("usage: fusiongait")
    assert "analyze" in done.stdout


def test_module_bad_input_is_one_line_without_traceback(tmp_path: Path) -> None:
    done = _run_module("analyze", "--sensor", f"pelvis={tmp_path / 'nope.csv'}")
    assert done.returncode == 2
    assert done.stderr.splitlines() == [f"fusiongait: error: {tmp_path / 'nope.csv'}: file not found"]
