"""Interop (issue 11): vendor readers on files built as documented, round trips, bad files, the export command."""

from __future__ import annotations

import csv
import json
import math
import shutil
from pathlib import Path

import numpy as np
import pytest

from firmware_bridge.errors import InputFileError
from firmware_bridge.readers.apdm_h5 import read_apdm_h5, write_apdm_h5
from firmware_bridge.readers.dispatch import detect_format, open_recording, open_sensor_files
from firmware_bridge.readers.metawear_csv import read_metawear_sensor
from firmware_bridge.readers.parquet_format import read_recording_parquet, write_recording_parquet
from firmware_bridge.readers.sensor_data import RawSensor, assemble, resolve_units
from firmware_bridge.writers.opensim import OPENSIM_COLUMNS, read_storage
from gait.recording import Recording
from tests.firmware_bridge.interop_files import (
    T0_S,
    movella_text,
    write_apdm,
    write_metawear,
    write_ximu3_device,
)

LABELS = {"pelvis": "Lumbar", "left_thigh": "Left Upper Leg", "right_thigh": "Right Upper Leg"}


@pytest.fixture(scope="module")
def walk() -> Recording:
    """45 s of three sensors at 100 Hz: 5 s standing, then walking (random mountings)."""
    from hardware.simulator.walker import Segment, WalkerParams, simulate_session

    schedule = [Segment(kind="stand", duration_s=5.0), Segment(kind="walk", duration_s=40.0)]
    return simulate_session(WalkerParams(), schedule=schedule, random_mounting=True, seed=3).recording


def same_data(a: Recording, b: Recording, *, atol_acc: float, atol_gyr: float) -> None:
    assert a.placements == b.placements
    assert a.n_samples == b.n_samples
    np.testing.assert_allclose(a.acc_mps2, b.acc_mps2, atol=atol_acc, rtol=0)
    np.testing.assert_allclose(a.gyr_dps, b.gyr_dps, atol=atol_gyr, rtol=0)


# ------------------------------------------------------------------------------------------- APDM
def test_apdm_labels_units_and_values(tmp_path: Path, walk: Recording) -> None:
    foot = np.tile([0.0, 0.0, 9.81], (walk.n_samples, 1))
    path = write_apdm(tmp_path / "walk.h5", walk, LABELS, extra={"Left Foot": foot})
    rec, warnings = read_apdm_h5(path)
    same_data(rec, walk, atol_acc=1e-5, atol_gyr=1e-4)  # float32 storage
    assert rec.start_time_s == pytest.approx(T0_S)
    assert rec.sampling_rate_hz == pytest.approx(100.0)
    assert any("'Left Foot'" in w and "not used" in w for w in warnings)


def test_apdm_sacrum_label_and_user_mapping(tmp_path: Path, walk: Recording) -> None:
    labels = {"pelvis": "Sacrum", "left_thigh": "Sensor A", "right_thigh": "Sensor B"}
    path = write_apdm(tmp_path / "walk.h5", walk, labels)
    rec, warnings = read_apdm_h5(path)
    assert rec.placements == ("pelvis",)
    assert any("'Sensor A'" in w for w in warnings)
    rec, _ = read_apdm_h5(path, placements={"sensor a": "left_thigh", "Sensor B": "right_thigh"})
    assert rec.placements == ("pelvis", "left_thigh", "right_thigh")


def test_apdm_without_a_placement_label_names_file_and_labels(tmp_path: Path, walk: Recording) -> None:
    labels = {"pelvis": "Sensor 1", "left_thigh": "Sensor 2", "right_thigh": "Sensor 3"}
    path = write_apdm(tmp_path / "walk.h5", walk, labels)
    with pytest.raises(InputFileError) as info:
        read_apdm_h5(path)
    text = str(info.value)
    assert text.startswith(f"{path}: cannot tell where the sensors were worn")
    assert "'Sensor 1', 'Sensor 2', 'Sensor 3'" in text and "--placement LABEL=pelvis" in text


def test_apdm_in_g_without_units_is_converted_or_refused(tmp_path: Path, walk: Recording) -> None:
    path = write_apdm(tmp_path / "g.h5", walk, LABELS, acc_factor=1 / 9.80665, units_attrs=False)
    rec, warnings = read_apdm_h5(path)
    same_data(rec, walk, atol_acc=1e-4, atol_gyr=1e-4)
    assert any("is in g, not m/s²" in w and "APDM's documentation" in w and "converted" in w for w in warnings)
    with pytest.raises(InputFileError, match=r"g\.h5: .*is in g, not m/s².*strict units"):
        read_apdm_h5(path, strict_units=True)


def test_apdm_gyroscope_in_deg_per_s_is_detected(tmp_path: Path, walk: Recording) -> None:
    path = write_apdm(tmp_path / "dps.h5", walk, LABELS, gyr_factor=1.0, units_attrs=False)
    rec, warnings = read_apdm_h5(path)
    same_data(rec, walk, atol_acc=1e-5, atol_gyr=1e-3)
    assert sum("looks like deg/s, not rad/s" in w for w in warnings) == 3


def test_truncated_hdf5(tmp_path: Path, walk: Recording) -> None:
    path = write_apdm(tmp_path / "walk.h5", walk, LABELS)
    data = path.read_bytes()
    cut = tmp_path / "cut.h5"
    cut.write_bytes(data[: len(data) // 2])
    with pytest.raises(InputFileError, match=r"cut\.h5: the HDF5 file is truncated"):
        open_recording(cut)


def test_apdm_time_going_backwards_names_dataset_and_sample(tmp_path: Path, walk: Recording) -> None:
    import h5py

    path = write_apdm(tmp_path / "walk.h5", walk, LABELS)
    with h5py.File(path, "r+") as h5:
        t = h5["Sensors/1201/Time"][()]
        t[700], t[701] = t[701], t[700]
        h5["Sensors/1201/Time"][...] = t
    with pytest.raises(InputFileError) as info:
        read_apdm_h5(path)
    text = str(info.value)
    assert "column '/Sensors/1201/Time'" in text and "sample 701" in text and "backwards" in text


def test_old_apdm_layout_is_refused_clearly(tmp_path: Path) -> None:
    import h5py

    path = tmp_path / "old.h5"
    with h5py.File(path, "w") as h5:
        h5.attrs["FileFormatVersion"] = 3
        h5.create_group("Opal_00123")
    with pytest.raises(InputFileError, match=r"no /Sensors group.*FileFormatVersion 3.*version 5"):
        open_recording(path)


# ------------------------------------------------------------------------------------------- round trips
def with_gap(rec: Recording) -> Recording:
    acc, gyr, valid = rec.acc_mps2.copy(), rec.gyr_dps.copy(), rec.valid.copy()
    acc[1, 100:150] = np.nan
    gyr[1, 100:150] = np.nan
    valid[1, 100:150] = False
    return Recording(acc, gyr, rec.sampling_rate_hz, rec.placements, valid, rec.frame, T0_S + 0.123456789, "x")


@pytest.mark.parametrize("fmt", ["parquet", "hdf5"])
def test_round_trip_is_exact(tmp_path: Path, walk: Recording, fmt: str) -> None:
    rec = with_gap(walk)
    if fmt == "parquet":
        back = read_recording_parquet(write_recording_parquet(rec, tmp_path / "r.parquet"))
    else:
        back, warnings = read_apdm_h5(write_apdm_h5(rec, tmp_path / "r.h5"))
        assert warnings == []
    assert back.placements == rec.placements and back.frame == rec.frame
    assert back.sampling_rate_hz == rec.sampling_rate_hz and back.start_time_s == rec.start_time_s
    assert np.array_equal(back.acc_mps2, rec.acc_mps2, equal_nan=True)
    assert np.array_equal(back.gyr_dps, rec.gyr_dps, equal_nan=True)
    assert np.array_equal(back.valid, rec.valid)


def test_hdf5_export_reads_as_apdm_for_other_tools(tmp_path: Path, walk: Recording) -> None:
    """The file follows APDM's layout: labels, rad/s, microseconds, as a Mobility Lab reader expects."""
    import h5py

    path = write_apdm_h5(walk, tmp_path / "r.h5")
    with h5py.File(path, "r") as h5:
        labels = {h5[f"Sensors/{s}/Configuration"].attrs["Label 0"].decode(): s for s in h5["Sensors"]}
        assert set(labels) == {"Lumbar", "Left Upper Leg", "Right Upper Leg"}
        gyr = h5[f"Sensors/{labels['Lumbar']}/Gyroscope"][()]
        np.testing.assert_allclose(np.degrees(gyr), walk.gyr_dps[0], atol=1e-9)
        assert h5[f"Sensors/{labels['Lumbar']}/Time"].dtype == np.uint64
    # Read as a vendor file (the FusionGait extras ignored): same data within the rad/s round off.
    rec, _ = read_apdm_h5(path, placements={"unused": "pelvis"})
    same_data(rec, walk, atol_acc=1e-9, atol_gyr=1e-9)


# ------------------------------------------------------------------------------------------- x-IMU3, Movella, MetaWear
def test_ximu3_session_folder(tmp_path: Path, walk: Recording) -> None:
    names = {"pelvis": "Pelvis", "left_thigh": "Left Thigh", "right_thigh": "right thigh"}
    for k, p in enumerate(walk.placements):
        write_ximu3_device(tmp_path / "Logged Data", walk, k, names[p], serial=f"673B204{k}")
    assert detect_format(tmp_path / "Logged Data" / "x-IMU3 673B2040 (UDP)" / "Inertial.csv") == "ximu3"
    rec, warnings = open_recording(tmp_path / "Logged Data")
    assert set(rec.placements) == set(walk.placements)
    same_data(rec.select(walk.placements), walk, atol_acc=1e-5, atol_gyr=1e-5)
    assert any("Quaternion.csv" in w and "not read" in w for w in warnings)


def test_ximu3_mixed_units_and_bad_cell(tmp_path: Path, walk: Recording) -> None:
    device = write_ximu3_device(tmp_path, walk, 0, "Pelvis")
    inertial = device / "Inertial.csv"
    lines = inertial.read_text().splitlines()
    mixed = tmp_path / "mixed"
    shutil.copytree(device, mixed)
    (mixed / "Inertial.csv").write_text(
        "\n".join([lines[0].replace("Accelerometer Y (g)", "Accelerometer Y (m/s^2)"), *lines[1:]]) + "\n"
    )
    with pytest.raises(
        InputFileError, match=r"line 1: the accelerometer columns mix units .*Accelerometer Y \(m/s\^2\)"
    ):
        open_recording(mixed / "Inertial.csv")
    fields = lines[58].split(",")
    fields[3] = "abc"
    lines[58] = ",".join(fields)
    inertial.write_text("\n".join(lines) + "\n")
    with pytest.raises(InputFileError) as info:
        open_recording(inertial)
    assert "Inertial.csv, line 59, column 'Gyroscope Z (deg/s)': expected a number, got 'abc'" in str(info.value)


def test_movella_dot_export(tmp_path: Path, walk: Recording) -> None:
    files = {}
    for k, (p, tag) in enumerate(zip(walk.placements, ("Pelvis", "LeftThigh", "Right thigh"), strict=True)):
        files[p] = tmp_path / f"{tag}_20260302_000000.csv"
        # The counter wraps (2^32 us) 10 s into the recording.
        files[p].write_text(movella_text(walk, k, tag, t0_us=2**32 - 10_000_000))
    assert detect_format(files["pelvis"]) == "movella"
    rec, warnings = open_recording(tmp_path)
    assert set(rec.placements) == set(walk.placements)
    same_data(rec.select(walk.placements), walk, atol_acc=1e-5, atol_gyr=1e-5)
    assert rec.duration_s == pytest.approx(walk.duration_s)  # the wrap was undone
    assert not [w for w in warnings if "hole" in w]


def test_movella_free_acceleration_only_is_explained(tmp_path: Path, walk: Recording) -> None:
    text = movella_text(walk, 0, "Pelvis").replace("Acc_X,Acc_Y,Acc_Z", "FreeAcc_X,FreeAcc_Y,FreeAcc_Z")
    path = tmp_path / "free.csv"
    path.write_text(text)
    with pytest.raises(InputFileError, match=r"free\.csv, line 12: missing column\(s\) Acc_X.*free acceleration"):
        open_recording(path)


def test_metawear_pairs_with_different_rates(tmp_path: Path, walk: Recording) -> None:
    devices = {"pelvis": "Pelvis", "left_thigh": "LeftThigh", "right_thigh": "RightThigh"}
    for k, p in enumerate(walk.placements):
        write_metawear(tmp_path / "s", walk, k, devices[p], gyr_step=2)  # gyroscope at 50 Hz
    rec, _ = open_recording(tmp_path / "s")
    assert set(rec.placements) == set(walk.placements)
    rec = rec.select(walk.placements)
    inside = rec.valid.all(axis=0)
    assert inside.mean() > 0.99  # only the last accelerometer samples lack a gyroscope sample after them
    np.testing.assert_allclose(rec.acc_mps2[:, inside], walk.acc_mps2[:, inside], atol=1e-2)  # 3 decimals in g
    err = np.abs(rec.gyr_dps[:, inside] - walk.gyr_dps[:, inside])
    assert np.median(err) < 1.0 and np.percentile(err, 99) < 15.0  # linear interpolation of a 50 Hz gyroscope
    acc_file, _ = write_metawear(tmp_path / "one", walk, 0, "MetaWear")
    rec1, _ = open_sensor_files({"pelvis": acc_file})
    assert rec1.placements == ("pelvis",)


def test_metawear_gyroscope_hole_is_lost_but_its_edge_samples_are_kept(tmp_path: Path, walk: Recording) -> None:
    acc_file, gyr_file = write_metawear(tmp_path, walk, 0, "Pelvis")
    lines = gyr_file.read_text().splitlines()
    gyr_file.write_text("\n".join(lines[:301] + lines[351:]) + "\n")  # gyroscope samples 300 ... 349 lost
    raw = read_metawear_sensor(acc_file)
    assert np.isnan(raw.gyr[300:350]).all()
    assert np.isfinite(raw.gyr[:300]).all() and np.isfinite(raw.gyr[350:]).all()
    # Sample 350 sits exactly on a gyroscope sample, across the hole: it is that sample (the shared interpolation rule).
    np.testing.assert_allclose(raw.gyr[[299, 350]], walk.gyr_dps[0, [299, 350]], atol=6e-4)  # 3 decimals in the file


def test_metawear_missing_gyroscope_file(tmp_path: Path, walk: Recording) -> None:
    acc_file, gyr_file = write_metawear(tmp_path, walk, 0, "Pelvis")
    gyr_file.unlink()
    with pytest.raises(InputFileError, match="accelerometer and gyroscope files side by side"):
        open_recording(acc_file)


# ------------------------------------------------------------------------------------------- TSDF
def test_tsdf_written_by_the_reference_implementation(tmp_path: Path, walk: Recording) -> None:
    """The ``tsdf`` package (the format's reference implementation) writes; FusionGait reads."""
    pd = pytest.importorskip("pandas")
    tsdf = pytest.importorskip("tsdf")
    from tsdf import write_binary, write_tsdf

    metas = []
    for k, placement in enumerate(walk.placements):
        frame = pd.DataFrame(
            {
                "time": (walk.time_s * 1e3).astype(np.float64),
                **{f"acceleration_{a}": walk.acc_mps2[k, :, j] / 9.80665 for j, a in enumerate("xyz")},
                **{f"rotation_{a}": walk.gyr_dps[k, :, j] for j, a in enumerate("xyz")},
            }
        )
        base = {
            "study_id": "interop",
            "subject_id": "s1",
            "device_id": f"IMU-{k}",
            "placement": placement,
            "metadata_version": "0.1",
            "start_iso8601": "2026-03-02T00:00:00+00:00",
            "end_iso8601": "2026-03-02T00:00:45+00:00",
        }
        time_meta = tsdf.TSDFMetadata(
            {
                **base,
                "file_name": f"time_{k}.bin",
                "channels": ["time"],
                "units": ["time_relative_ms"],
                "endianness": "little",
                "data_type": "float",
                "bits": 64,
                "rows": walk.n_samples,
            },
            str(tmp_path),
        )
        values_meta = tsdf.TSDFMetadata(
            {
                **base,
                "file_name": f"imu_{k}.bin",
                "channels": [*(f"acceleration_{a}" for a in "xyz"), *(f"rotation_{a}" for a in "xyz")],
                "units": ["g", "g", "g", "deg/s", "deg/s", "deg/s"],
                "endianness": "little",
                "data_type": "float",
                "bits": 64,
                "rows": walk.n_samples,
            },
            str(tmp_path),
        )
        write_binary.write_dataframe_to_binaries(str(tmp_path), frame, [time_meta, values_meta])
        metas += [time_meta, values_meta]
    write_tsdf.write_metadata(metas, "session_meta.json")
    assert detect_format(tmp_path / "session_meta.json") == "tsdf"
    rec, _ = open_recording(tmp_path / "session_meta.json")
    same_data(rec.select(walk.placements), walk, atol_acc=1e-9, atol_gyr=1e-9)
    assert rec.start_time_s == pytest.approx(T0_S)


def test_tsdf_truncated_binary(tmp_path: Path, walk: Recording) -> None:
    meta = {
        "study_id": "x", "subject_id": "x", "device_id": "x", "placement": "pelvis", "metadata_version": "0.1",
        "start_iso8601": "2026-03-02T00:00:00Z", "end_iso8601": "2026-03-02T00:00:45Z", "endianness": "little",
        "rows": walk.n_samples,
        "sensors": [
            {"file_name": "t.bin", "channels": ["time"], "units": ["s"], "data_type": "float", "bits": 64},
            {"file_name": "v.bin", "channels": ["acc_x", "acc_y", "acc_z", "gyr_x", "gyr_y", "gyr_z"],
             "units": ["m/s/s"] * 3 + ["deg/s"] * 3, "data_type": "float", "bits": 32},
        ],
    }  # fmt: skip
    (tmp_path / "rec_meta.json").write_text(json.dumps(meta))
    walk.time_s.astype("<f8").tofile(tmp_path / "t.bin")
    values = np.concatenate([walk.acc_mps2[0], walk.gyr_dps[0]], axis=-1).astype("<f4")
    values.tofile(tmp_path / "v.bin")
    rec, _ = open_recording(tmp_path)
    same_data(rec, walk.select(["pelvis"]), atol_acc=1e-4, atol_gyr=1e-3)
    (tmp_path / "v.bin").write_bytes(values.tobytes()[:-100])
    with pytest.raises(InputFileError, match=r"v\.bin: .*the file is truncated"):
        open_recording(tmp_path)


# ------------------------------------------------------------------------------------------- bad data, units
def raw(walk: Recording, **changes: object) -> RawSensor:
    base = dict(
        label="pelvis", path=Path("walk.csv"), t_s=T0_S + walk.time_s, acc=walk.acc_mps2[0].copy(),
        gyr=walk.gyr_dps[0].copy(), acc_unit="mps2", gyr_unit="dps", unit_source="the column names",
        time_column="time", acc_columns=("ax", "ay", "az"), gyr_columns=("gx", "gy", "gz"), first_line=2,
    )  # fmt: skip
    base.update(changes)
    return RawSensor(**base)  # type: ignore[arg-type]


def test_duplicated_rows_are_dropped_but_conflicting_times_refused(walk: Recording) -> None:
    sensor = raw(walk)
    t, acc, gyr = sensor.t_s, sensor.acc, sensor.gyr
    dup = raw(
        walk, t_s=np.insert(t, 300, t[300]), acc=np.insert(acc, 300, acc[300], 0), gyr=np.insert(gyr, 300, gyr[300], 0)
    )
    rec, warnings = assemble([("pelvis", dup)])
    assert rec.n_samples == walk.n_samples
    assert any("walk.csv, line 303, column 'time': 1 row(s) repeating the previous row exactly" in w for w in warnings)
    acc2 = np.insert(acc, 300, acc[300] + 1.0, 0)
    bad = raw(walk, t_s=np.insert(t, 300, t[300]), acc=acc2, gyr=np.insert(gyr, 300, gyr[300], 0))
    with pytest.raises(InputFileError, match=r"walk\.csv, line 303, column 'time': time .* duplicated with different"):
        assemble([("pelvis", bad)])


def test_nan_rows_are_lost_samples(walk: Recording) -> None:
    sensor = raw(walk)
    sensor.acc[500:510] = np.nan
    rec, warnings = assemble([("pelvis", sensor)])
    assert not rec.valid[0, 500:510].any() and rec.valid[0, 490:500].all()
    assert any("line 502" in w and "10 row(s) with an empty or NaN value" in w for w in warnings)


def test_units_not_stated_and_recording_still_is_refused(walk: Recording) -> None:
    still = raw(
        walk, acc=np.tile([0.1, 0.2, 9.8], (walk.n_samples, 1)), gyr=np.zeros((walk.n_samples, 3)), gyr_unit=None
    )
    with pytest.raises(
        InputFileError, match=r"cannot tell whether the gyroscope .* deg/s or rad/s: the recording barely"
    ):
        resolve_units(still)
    moving = raw(walk, gyr=np.radians(walk.gyr_dps[0]), gyr_unit=None)
    _, gyr, warnings = resolve_units(moving)
    np.testing.assert_allclose(gyr, walk.gyr_dps[0], atol=1e-9)
    assert any("rad/s assumed from the rotation rates" in w for w in warnings)


def test_accelerometer_without_gravity_is_refused(walk: Recording) -> None:
    with pytest.raises(InputFileError, match="does not see gravity: median"):
        resolve_units(raw(walk, acc=walk.acc_mps2[0] * 3.0))


def test_content_not_extension_chooses_the_reader(tmp_path: Path, walk: Recording) -> None:
    h5 = write_apdm(tmp_path / "walk.csv", walk, LABELS)
    assert detect_format(h5) == "apdm-h5"
    text = tmp_path / "pelvis.txt"
    text.write_text(movella_text(walk, 0, "Pelvis"))
    assert detect_format(text) == "movella"
    other = tmp_path / "notes.csv"
    other.write_text("name,value\nfoo,1\n")
    with pytest.raises(InputFileError, match=r"unrecognised file format.*first line 'name,value'"):
        open_recording(other)


# ------------------------------------------------------------------------------------------- the commands
def test_export_mot_matches_the_analysis_and_the_report(tmp_path: Path, walk: Recording) -> None:
    from gait.pipeline import GaitPipeline
    from server.cli import main

    path = write_apdm(tmp_path / "walk.h5", walk, LABELS)
    out = tmp_path / "out" / "walk"
    out.parent.mkdir()
    status = main(["export", str(path), "--to", "mot,cycles-sto,json,strides-csv", "-o", str(out), "--quiet"])
    assert status == 0
    # A plain table reader: skip the header to 'endheader', then tab-separated numbers.
    lines = (tmp_path / "out" / "walk.mot").read_text().splitlines()
    end = lines.index("endheader")
    header = lines[end + 1].split("\t")
    table = np.genfromtxt(lines[end + 2 :], delimiter="\t")
    assert header == ["time", *OPENSIM_COLUMNS]
    assert table.shape == (walk.n_samples, 8)
    rec, _ = read_apdm_h5(path)
    result = GaitPipeline().run(rec)
    k = result.kinematics
    assert k is not None
    np.testing.assert_allclose(table[:, 1], -k.pelvis_deg[:, 0], atol=1e-6, equal_nan=True)
    np.testing.assert_allclose(table[:, 4], k.hip_flexion_deg[1], atol=1e-6, equal_nan=True)
    np.testing.assert_allclose(table[:, 7], -k.hip_frontal_deg[0], atol=1e-6, equal_nan=True)
    assert np.isfinite(table[:, 1:]).mean() > 0.8
    # The cycle curves are the report's, with OpenSim's names and signs.
    report = json.loads((tmp_path / "out" / "walk.json").read_text())
    columns, cycles = read_storage(tmp_path / "out" / "walk_cycles.sto")
    tilt_left = report["kinematics"]["pelvis"]["curves"]["left"]["tilt"]["mean_deg"]
    np.testing.assert_allclose(cycles[:, columns.index("pelvis_tilt_l")], -np.asarray(tilt_left, float), atol=1e-6)
    flex_right = report["kinematics"]["hip"]["right"]["curves"]["hip_flexion"]["mean_deg"]
    np.testing.assert_allclose(cycles[:, columns.index("hip_flexion_r")], np.asarray(flex_right, float), atol=1e-6)
    # And the report's tilt range is what the .mot curves give over the pelvis strides used (per-stride ranges).
    with (tmp_path / "out" / "walk_strides.csv").open() as fh:
        rows = [r for r in csv.DictReader(fh) if r["pelvis_used"] == "true"]
    assert len(rows) >= 10
    ranges = []
    for row in rows:
        segment = table[round(float(row["start_s"]) * 100) : round(float(row["end_s"]) * 100) + 1, 1]
        ranges.append(np.nanmax(segment) - np.nanmin(segment))
    assert np.mean(ranges) == pytest.approx(report["kinematics"]["pelvis"]["tilt_rom_deg"]["value"], abs=0.05)


def test_analyze_a_session_folder_and_export_round_trip(
    tmp_path: Path, walk: Recording, capsys: pytest.CaptureFixture[str]
) -> None:
    from server.cli import main

    for k, p in enumerate(walk.placements):
        (tmp_path / "session").mkdir(exist_ok=True)
        (tmp_path / "session" / f"{p}.csv").write_text(
            movella_text(walk, k, ["Pelvis", "Left Thigh", "Right Thigh"][k])
        )
    assert main(["analyze", str(tmp_path / "session"), "--json", str(tmp_path / "r.json"), "--quiet"]) == 0
    assert json.loads((tmp_path / "r.json").read_text())["schema"] == "fusiongait.report/1"
    assert (
        main(["export", str(tmp_path / "session"), "--to", "parquet", "-o", str(tmp_path / "s.parquet"), "--quiet"])
        == 0
    )
    back = read_recording_parquet(tmp_path / "s.parquet")
    direct, _ = open_recording(tmp_path / "session")
    assert np.array_equal(back.acc_mps2, direct.acc_mps2, equal_nan=True)
    capsys.readouterr()
    assert main(["export", str(tmp_path / "session"), "--to", "bogus"]) == 2
    assert "unknown format 'bogus'" in capsys.readouterr().err
    assert math.isfinite(back.start_time_s)
