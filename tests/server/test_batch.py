"""``fusiongait batch`` on a real dask.distributed LocalCluster with 2 worker processes (issue 10 acceptance).

The cohort: the recorded fixtures (tests/fixtures/*.imucap), a simulated walker recorded as a capture by the
virtual-host session, another simulated walker written as a per-sensor CSV set, and a corrupt capture. Every report
must equal the single-process analysis of the same recording, a re-run must do no work, the corrupt recording must
be reported in the summary while the rest complete, and a repaired one must be redone.
"""

from __future__ import annotations

import csv
import json
import os
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from server.analysis import analyze_recording
from server.batch import (
    STATE_SCHEMA,
    BatchError,
    analyze_item,
    discover,
    load_item,
    read_manifest,
    run_batch,
)

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"
CAPTURES = sorted(FIXTURES.glob("*.imucap"))


def _simulated_capture(path: Path, preset: str, seed: int) -> None:
    from hardware.simulator import PRESETS, simulate_session
    from hardware.simulator.device import virtual_sensors
    from hardware.simulator.record import LinkModel, record_session

    session = simulate_session(PRESETS[preset](), seed=seed)
    sensors = virtual_sensors(session, seed=seed)
    duration = float(session.recording.n_samples / session.recording.sampling_rate_hz)
    path.write_bytes(record_session(sensors, duration, link=LinkModel.ble(), seed=seed).capture)


def _simulated_csv_set(folder: Path, stem: str, preset: str, seed: int) -> None:
    from firmware_bridge.readers.csv_format import write_recording_csv
    from hardware.simulator import PRESETS, simulate_session

    write_recording_csv(simulate_session(PRESETS[preset](), seed=seed).recording, folder, stem)


@pytest.fixture(scope="module")
def cohort(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("cohort")
    for capture in CAPTURES:
        shutil.copy(capture, root / capture.name)
    (root / "sim").mkdir()
    _simulated_capture(root / "sim" / "pelvic_drop.imucap", "pelvic_drop", seed=11)
    _simulated_csv_set(root / "sim", "antalgic", "antalgic", seed=12)
    # A vendor-format recording (FusionGait Parquet export), read through firmware_bridge.readers.dispatch.
    from firmware_bridge.readers.parquet_format import write_recording_parquet
    from hardware.simulator import PRESETS, simulate_session

    write_recording_parquet(simulate_session(PRESETS["healthy"](), seed=13).recording, root / "sim" / "export.parquet")
    # A capture whose header is cut short: the reader refuses it.
    (root / "broken.imucap").write_bytes(CAPTURES[0].read_bytes()[:40])
    (root / "notes.txt").write_text("not a recording\n")
    return root


@pytest.fixture(scope="module")
def client() -> Iterator[Any]:
    from server.batch_cmd import local_client

    with local_client(2) as c:
        yield c


def _json(path: Path) -> Any:
    return json.loads(path.read_text())


def _single_process(item: Any) -> dict[str, Any]:
    recording, warnings = load_item(item)
    outcome = analyze_recording(recording, options=item.options(), reader_warnings=warnings, inputs=dict(item.names))
    return json.loads(json.dumps(outcome.report))


def test_discover_finds_captures_and_csv_sets(cohort: Path) -> None:
    items, ignored = discover(cohort)
    by_id = {i.id: i for i in items}
    expected = [c.stem for c in CAPTURES] + ["broken", "sim/pelvic_drop", "sim/antalgic", "sim/export"]
    assert sorted(by_id) == sorted(expected), by_id
    assert by_id["sim/export"].kind == "file"
    assert by_id["sim/antalgic"].kind == "csv"
    assert list(by_id["sim/antalgic"].names) == ["pelvis", "left_thigh", "right_thigh"]
    assert by_id["sim/antalgic"].names["pelvis"] == "sim/antalgic_pelvis.csv"
    assert by_id["sim/pelvic_drop"].kind == "capture"
    assert [p.name for p in ignored] == ["notes.txt"]


def test_batch_on_two_workers_equals_single_process_reruns_nothing_and_reports_the_corrupt_one(
    cohort: Path, client: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert len(client.scheduler_info()["workers"]) == 2
    items, _ = discover(cohort)
    out = tmp_path / "out"

    first = run_batch(items, out, client=client, progress=False)
    assert (first.total, first.analysed, first.skipped, first.failed) == (len(items), len(items), 0, 1)
    assert list(first.failures) == ["broken"]
    assert "broken.imucap" in first.failures["broken"]

    # Every report equals the single-process analysis of the same recording with the same options.
    workers = set()
    for item in items:
        state = _json(out / "state" / f"{item.id}.json")
        assert state["schema"] == STATE_SCHEMA
        if item.id == "broken":
            assert state["status"] == "failed" and state["error"]
            assert not (out / "reports" / "broken.json").exists()
            continue
        assert state["status"] == "done", state["error"]
        assert _json(out / "reports" / f"{item.id}.json") == _single_process(item), item.id
        workers.add(state["worker"])
        assert not state["worker"].endswith(f":{os.getpid()}")  # analysed in a worker process, not here
    assert len(workers) == 2, workers  # both worker processes took tasks

    # The summary: one row per recording, the failed one with its error; CSV and Parquet agree.
    with (out / "summary.csv").open() as fh:
        rows = {r["id"]: r for r in csv.DictReader(fh)}
    assert sorted(rows) == sorted(i.id for i in items)
    assert rows["broken"]["status"] == "failed" and rows["broken"]["error"] == first.failures["broken"]
    healthy = _json(out / "reports" / "healthy_walk.json")
    assert float(rows["healthy_walk"]["cadence_spm"]) == pytest.approx(healthy["spatiotemporal"]["cadence_spm"])
    assert rows["healthy_walk"]["report"] == "reports/healthy_walk.json"
    assert rows["sim/antalgic"]["kind"] == "csv" and rows["sim/antalgic"]["status"] == "done"
    assert rows["sim/export"]["kind"] == "file" and rows["sim/export"]["status"] == "done"
    import pyarrow.parquet as pq

    table = pq.read_table(out / "summary.parquet").to_pylist()
    assert [r["id"] for r in table] == [i.id for i in items]
    assert {r["id"]: r["status"] for r in table} == {k: v["status"] for k, v in rows.items()}

    # A re-run redoes only the failed recording; the done reports are not touched.
    mtimes = {p: p.stat().st_mtime_ns for p in (out / "reports").rglob("*.json")}
    second = run_batch(items, out, client=client, progress=False)
    assert (second.analysed, second.skipped, second.failed) == (1, len(items) - 1, 1)
    assert {p: p.stat().st_mtime_ns for p in (out / "reports").rglob("*.json")} == mtimes

    # Without the corrupt recording, a re-run submits no task at all.
    good = [i for i in items if i.id != "broken"]
    submitted: list[int] = []
    real_map = client.map
    monkeypatch.setattr(client, "map", lambda fn, todo, **kw: submitted.append(len(todo)) or real_map(fn, todo, **kw))
    third = run_batch(good, out, client=client, progress=False)
    assert (third.analysed, third.skipped, third.failed) == (0, len(good), 0)
    assert submitted == []
    # Rows made from the reports in hand (first run) equal those read back from disk (this run).
    same = ("analysed_this_run", "elapsed_s", "finished_at", "worker")
    by_id = {r["id"]: r for r in first.rows}
    for row in third.rows:
        assert {k: v for k, v in row.items() if k not in same} == {
            k: v for k, v in by_id[row["id"]].items() if k not in same
        }
    assert {p: p.stat().st_mtime_ns for p in (out / "reports").rglob("*.json")} == mtimes

    # A repaired recording is redone (its content changed), the rest still skipped.
    (cohort / "broken.imucap").write_bytes(CAPTURES[0].read_bytes())
    try:
        fourth = run_batch(items, out, client=client, progress=False)
    finally:
        (cohort / "broken.imucap").write_bytes(CAPTURES[0].read_bytes()[:40])
    assert submitted == [1]
    assert (fourth.analysed, fourth.failed) == (1, 0)
    assert _json(out / "reports" / "broken.json")["spatiotemporal"]["cadence_spm"] > 0


def test_changed_options_redo_the_recording(cohort: Path, client: Any, tmp_path: Path) -> None:
    items = [i for i in discover(cohort)[0] if i.id == "healthy_walk"]
    out = tmp_path / "out"
    assert run_batch(items, out, client=client, progress=False).analysed == 1
    assert run_batch(items, out, client=client, progress=False).analysed == 0
    taller = [i.with_defaults(height_m=1.9, sensor_height_m=None) for i in items]
    assert run_batch(taller, out, client=client, progress=False).analysed == 1
    assert _json(out / "reports" / "healthy_walk.json")["quality"]["sensor_height_source"] != "default"


def test_manifest_with_patient_metadata(cohort: Path, client: Any, tmp_path: Path) -> None:
    manifest = tmp_path / "cohort.json"
    manifest.write_text(
        json.dumps(
            {
                "schema": "fusiongait.batch-manifest/1",
                "recordings": [
                    {
                        "id": "P001/2026-03-01",
                        "path": str(cohort / "healthy_walk.imucap"),
                        "patient": "P001",
                        "session_date": "2026-03-01",
                        "session_label": "6 weeks post-op",
                        "height_m": 1.72,
                    },
                    {
                        "sensors": {
                            "pelvis": str(cohort / "sim" / "antalgic_pelvis.csv"),
                            "left_thigh": str(cohort / "sim" / "antalgic_left_thigh.csv"),
                        },
                        "patient": "P002",
                    },
                ],
            }
        )
    )
    items = read_manifest(manifest)
    assert [i.id for i in items] == ["P001/2026-03-01", "antalgic"]
    result = run_batch(items, tmp_path / "out", client=client, progress=False)
    assert result.failed == 0, result.failures
    report = _json(tmp_path / "out" / "reports" / "P001" / "2026-03-01.json")
    assert report["session"] == {"patient": "P001", "date": "2026-03-01", "label": "6 weeks post-op"}
    assert report["quality"]["sensor_height_source"] != "default"
    second = _json(tmp_path / "out" / "reports" / f"{items[1].id}.json")
    assert second["recording"]["placements"] == ["pelvis", "left_thigh"]
    assert result.rows[0]["patient"] == "P001" and result.rows[1]["patient"] == "P002"

    # The same in CSV, relative paths from the manifest's folder.
    shutil.copy(cohort / "healthy_walk.imucap", tmp_path / "walk.imucap")
    table = tmp_path / "cohort.csv"
    table.write_text("id,path,patient,session_date,sensor_height_m\nP003-a,walk.imucap,P003,2026-04-02,0.95\n")
    (item,) = read_manifest(table)
    assert (item.id, item.kind, item.patient, item.session_date, item.sensor_height_m) == (
        "P003-a",
        "capture",
        "P003",
        "2026-04-02",
        0.95,
    )
    assert item.files[""] == str(tmp_path / "walk.imucap")
    assert item.names[""] == "walk.imucap"


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("path,patient\n,P1\n", "line 2: give either path"),
        ("path,height_m\na.imucap,7\n", "line 2: height_m: expected 0.8 to 2.5 m, got 7"),
        ("path,session_date\na.imucap,March\n", "session_date: expected YYYY-MM-DD"),
        ("path,colour\na.imucap,red\n", "unknown column(s) colour"),
        ("left_thigh\nl.csv\n", "the pelvis CSV file is required"),
        ("id,path\nx,a.imucap\nx,b.imucap\n", "line 3: id 'x' is already used by line 2"),
        ("id,path\n../x,a.imucap\n", "id '../x'"),
        ("path,height_m,sensor_height_m\na.imucap,1.7,0.9\n", "not both"),
        ("path\n", "lists no recording"),
    ],
)
def test_manifest_errors_name_the_entry_and_field(tmp_path: Path, text: str, message: str) -> None:
    manifest = tmp_path / "m.csv"
    manifest.write_text(text)
    with pytest.raises(BatchError) as info:
        read_manifest(manifest)
    assert message in str(info.value)
    assert str(manifest) in str(info.value)


def test_a_task_reports_a_bad_recording_instead_of_raising(cohort: Path) -> None:
    (broken,) = [i for i in discover(cohort)[0] if i.id == "broken"]
    outcome = analyze_item(broken)
    assert outcome.status == "failed" and outcome.report is None and "broken.imucap" in outcome.error
    (good,) = [i for i in discover(cohort)[0] if i.id == "healthy_walk"]
    refused = analyze_item(good, expected_version="0.0.0+other")
    assert refused.status == "failed" and "install the same version on every worker" in refused.error


def test_cli_exit_status_and_summary(cohort: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from server.cli import main

    folder = tmp_path / "in"
    folder.mkdir()
    shutil.copy(cohort / "healthy_walk.imucap", folder)
    shutil.copy(cohort / "broken.imucap", folder)
    status = main(["batch", str(folder), "--out", str(tmp_path / "out"), "--workers", "1", "--no-progress"])
    captured = capsys.readouterr()
    assert status == 1
    assert "2 recordings: 1 done (2 analysed in this run, 0 already done), 1 failed" in captured.out
    assert "fusiongait: warning: broken: " in captured.err
    assert main(["batch", str(tmp_path / "nowhere"), "--out", str(tmp_path / "o2")]) == 2
    assert "does not exist" in capsys.readouterr().err
