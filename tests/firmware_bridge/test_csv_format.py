"""Tests of the generic CSV reader and writer (firmware_bridge.readers.csv_format)."""

from __future__ import annotations

import math
import pickle
import tempfile
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from firmware_bridge.errors import BridgeError, InputFileError
from firmware_bridge.readers import csv_format
from firmware_bridge.readers.csv_format import (
    read_recording,
    read_sensor_csv,
    write_recording_csv,
    write_sensor_csv,
)
from firmware_bridge.readers.dispatch import open_recording
from gait.frames import GRAVITY_MPS2
from gait.recording import Recording

RATE_HZ = 100.0
STANDARD = ("t_s", "acc_x_mps2", "acc_y_mps2", "acc_z_mps2", "gyr_x_dps", "gyr_y_dps", "gyr_z_dps")


# ----------------------------------------------------------------------------------------------- helpers
def walking(
    n: int = 400, *, rate_hz: float = RATE_HZ, t0_s: float = 0.0, up_axis: int = 2
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Walking-like samples: gravity along one sensor axis plus step-frequency sinusoids."""
    t = t0_s + np.arange(n) / rate_hz
    phase = 2 * np.pi * 0.9 * (t - t0_s)  # stride frequency 0.9 Hz, step frequency 1.8 Hz
    acc = np.column_stack([1.5 * np.sin(2 * phase), 1.0 * np.sin(phase + 0.3), 2.0 * np.sin(2 * phase + 1.0)])
    acc[:, up_axis] += GRAVITY_MPS2
    gyr = np.column_stack([40 * np.sin(phase), 25 * np.sin(2 * phase), 60 * np.sin(phase + 0.5)])
    return t, acc, gyr


def write_table(path: Path, names: list[str], columns: list[np.ndarray], *, sep: str = ",") -> Path:
    """A CSV file with any header: ``names[i]`` above ``columns[i]``."""
    np.savetxt(path, np.column_stack(columns), fmt="%.6f", delimiter=sep, header=sep.join(names), comments="")
    return path


def standard_file(path: Path, **kwargs: float) -> Path:
    t, acc, gyr = walking(**kwargs)  # type: ignore[arg-type]
    return write_sensor_csv(path, t, acc, gyr)


def edit_line(path: Path, line_no: int, edit: Callable[[str], str]) -> None:
    """Replace line ``line_no`` (1-based) of a text file by ``edit(line)``."""
    lines = path.read_text().split("\n")
    lines[line_no - 1] = edit(lines[line_no - 1])
    path.write_text("\n".join(lines))


def set_cell(path: Path, line_no: int, field: int, value: str) -> None:
    def edit(line: str) -> str:
        fields = line.split(",")
        fields[field] = value
        return ",".join(fields)

    edit_line(path, line_no, edit)


def check_error(
    err: InputFileError,
    path: Path,
    *,
    column: str | None = None,
    line: int | None = None,
    says: tuple[str, ...] = (),
) -> str:
    """The message is one line naming the file, the column and the line, and saying ``says``."""
    msg = str(err)
    assert "\n" not in msg
    assert isinstance(err, BridgeError)
    assert isinstance(err, ValueError)
    assert err.path == path
    assert msg.startswith(str(path))
    assert path.name in msg
    if column is not None:
        assert err.column == column
        assert f"column {column!r}" in msg
    if line is not None:
        assert err.row == line
        assert f"line {line}" in msg
    for text in says:
        assert text in msg, f"{text!r} not in {msg!r}"
    return msg


# ----------------------------------------------------------------------------------------------- the error type
def test_error_str_is_one_line_with_file_line_and_column() -> None:
    err = InputFileError("expected a number, got 'abc'", path="walk_pelvis.csv", column="gyr_z_dps", row=57)
    assert str(err) == "walk_pelvis.csv, line 57, column 'gyr_z_dps': expected a number, got 'abc'"
    assert str(InputFileError("file is empty", path="a.csv")) == "a.csv: file is empty"
    assert str(InputFileError("no\nfiles")) == "no files"
    copy = pickle.loads(pickle.dumps(err))
    assert (str(copy), copy.path, copy.column, copy.row) == (str(err), err.path, err.column, err.row)


# ----------------------------------------------------------------------------------------------- success paths
def test_round_trip_write_then_read(tmp_path: Path) -> None:
    t, acc, gyr = walking()
    path = write_sensor_csv(tmp_path / "walk_pelvis.csv", t, acc, gyr)
    assert path.read_text().splitlines()[0] == ",".join(STANDARD)
    stream, warnings = read_sensor_csv(path, "pelvis")
    assert warnings == []
    assert stream.placement == "pelvis"
    np.testing.assert_allclose(stream.t_s, t, rtol=0, atol=1e-6)
    np.testing.assert_allclose(stream.acc_mps2, acc, rtol=0, atol=1e-6)
    np.testing.assert_allclose(stream.gyr_dps, gyr, rtol=0, atol=1e-6)


def test_success_path_never_runs_the_slow_pass(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    def forbidden(*args: object) -> None:
        raise AssertionError("slow pass on the success path")

    monkeypatch.setattr(csv_format, "_locate_parse_error", forbidden)
    monkeypatch.setattr(csv_format._LineNumbers, "__call__", forbidden)
    monkeypatch.setattr(csv_format, "_read_with_empty_cells_filled", forbidden)
    monkeypatch.setattr(csv_format, "_has_empty_cells", forbidden)
    read_sensor_csv(standard_file(tmp_path / "a.csv"), "pelvis")


def test_units_g_and_rads_are_converted(tmp_path: Path) -> None:
    t, acc, gyr = walking()
    names = ["t_s", "acc_x_g", "acc_y_g", "acc_z_g", "gyr_x_rads", "gyr_y_rads", "gyr_z_rads"]
    path = write_table(tmp_path / "g.csv", names, [t, acc / GRAVITY_MPS2, np.deg2rad(gyr)])
    stream, warnings = read_sensor_csv(path, "pelvis")
    assert warnings == []
    np.testing.assert_allclose(stream.acc_mps2, acc, atol=1e-5)
    np.testing.assert_allclose(stream.gyr_dps, gyr, atol=1e-4)


def test_shuffled_columns_odd_spelling_and_extra_columns(tmp_path: Path) -> None:
    t, acc, gyr = walking()
    names = [
        " GYR_Z_DPS",
        "temp_c",
        "Acc_Y_mps2 ",
        "t_s",
        "gyr_x_dps",
        '"acc_x_mps2"',
        "gyr_y_dps",
        "ACC_Z_MPS2",
    ]
    columns = [gyr[:, 2], np.full_like(t, 31.5), acc[:, 1], t, gyr[:, 0], acc[:, 0], gyr[:, 1], acc[:, 2]]
    path = write_table(tmp_path / "shuffled.csv", names, columns)
    stream, warnings = read_sensor_csv(path, "left_thigh")
    np.testing.assert_allclose(stream.t_s, t, atol=1e-6)
    np.testing.assert_allclose(stream.acc_mps2, acc, atol=1e-6)
    np.testing.assert_allclose(stream.gyr_dps, gyr, atol=1e-6)
    assert len(warnings) == 1
    assert "temp_c" in warnings[0] and "shuffled.csv" in warnings[0] and "ignoring" in warnings[0]


@pytest.mark.parametrize("sep", [";", "\t"])
def test_semicolon_and_tab_separators(tmp_path: Path, sep: str) -> None:
    t, acc, gyr = walking()
    path = write_table(tmp_path / "sep.csv", list(STANDARD), [t, acc, gyr], sep=sep)
    stream, _ = read_sensor_csv(path, "pelvis")
    np.testing.assert_allclose(stream.acc_mps2, acc, atol=1e-6)


def test_crlf_leading_blank_lines_and_trailing_blank_lines(tmp_path: Path) -> None:
    path = standard_file(tmp_path / "crlf.csv")
    text = "\n\n" + path.read_text() + "\n\n"
    path.write_bytes(text.replace("\n", "\r\n").encode())
    stream, warnings = read_sensor_csv(path, "pelvis")
    assert stream.t_s.size == 400
    assert warnings == []


def test_nan_rows_become_lost_samples_and_gaps(tmp_path: Path) -> None:
    path = standard_file(tmp_path / "lost.csv")
    set_cell(path, 52, 3, "")  # data row 50: an empty cell
    set_cell(path, 53, 5, "nan")  # data row 51
    edit_line(path, 80, lambda line: line.split(",")[0] + ",,,,,,")  # data row 78: only the time
    stream, warnings = read_sensor_csv(path, "pelvis")
    lost = ~np.isfinite(stream.acc_mps2).all(axis=1) | ~np.isfinite(stream.gyr_dps).all(axis=1)
    assert np.flatnonzero(lost).tolist() == [50, 51, 78]
    assert len(warnings) == 1
    assert "lost.csv, line 52" in warnings[0] and "3 row(s)" in warnings[0] and "lost samples" in warnings[0]

    recording, _ = read_recording({"pelvis": path})
    assert np.flatnonzero(~recording.valid[0]).tolist() == [50, 51, 78]
    assert np.isnan(recording.acc_mps2[0, 50]).all()


@pytest.mark.parametrize("sep", [",", "\t", ";"])
def test_empty_cells_everywhere(tmp_path: Path, sep: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(csv_format, "_BLOCK_BYTES", 256)  # empty cells and line numbers across block boundaries
    t, acc, gyr = walking()
    path = write_table(tmp_path / "holes.csv", list(STANDARD), [t, acc, gyr], sep=sep)
    lines = path.read_text().split("\n")
    lines[1] = sep + sep.join(lines[1].split(sep)[1:])  # no time on the first data row: dropped
    lines[100] = sep.join(lines[100].split(sep)[:1] + [""] * 6)  # only the time: a run of empty cells
    lines[200] = sep + sep.join(lines[200].split(sep)[1:])  # no time: the row is dropped
    lines[300] = sep.join(lines[300].split(sep)[:6]) + sep  # the last cell empty
    lines[400] = sep.join(lines[400].split(sep)[:6]) + sep  # the last cell of the file, without a newline
    path.write_text("\r\n".join(lines[:401]))
    stream, warnings = read_sensor_csv(path, "pelvis")
    assert stream.t_s.size == 398
    lost = ~np.isfinite(stream.gyr_dps).all(axis=1)
    assert np.flatnonzero(lost).tolist() == [98, 297, 397]
    assert any("holes.csv, line 2, column 't_s'" in w and "2 row(s) without a time" in w for w in warnings)
    assert any("holes.csv, line 101" in w and "3 row(s)" in w and "first on line 101" in w for w in warnings)


def test_empty_unused_column_keeps_the_fast_path(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    def forbidden(*args: object) -> None:
        raise AssertionError("empty cells of an unused column need no repair")

    monkeypatch.setattr(csv_format, "_read_with_empty_cells_filled", forbidden)
    path = standard_file(tmp_path / "trailing.csv")
    path.write_text(path.read_text().replace("\n", ",\n"))  # a trailing separator: an empty, unnamed column
    stream, warnings = read_sensor_csv(path, "pelvis")
    assert stream.t_s.size == 400
    assert np.isfinite(stream.acc_mps2).all()
    assert len(warnings) == 1 and "unnamed column 8" in warnings[0]


@settings(max_examples=60, deadline=None)
@given(
    rows=st.lists(
        st.one_of(st.just([]), st.lists(st.sampled_from(["", "1", "-2.5", "nan"]), min_size=1, max_size=9)),
        min_size=1,
        max_size=12,
    ),
    sep=st.sampled_from([",", ";", "\t"]),
    crlf=st.booleans(),
)
def test_empty_cell_search_matches_a_loop(rows: list[list[str]], sep: str, crlf: bool) -> None:
    header = csv_format._Header(
        line=1,
        end_byte=0,
        separator=sep,
        n_fields=9,
        time=("t_s", 0),
        acc=(("a", 2), ("b", 3), ("c", 4)),
        gyr=(("d", 5), ("e", 6), ("f", 8)),
        acc_unit="mps2",
        gyr_unit="dps",
    )
    used = {idx for _, idx in header.used}
    eol = "\r\n" if crlf else "\n"
    block = "".join(sep.join(cells) + eol for cells in rows).encode()
    expected, offset = [], 0
    for cells in rows:
        if len(cells) > 1:
            position = offset
            for idx, cell in enumerate(cells):
                if cell == "" and idx in used:
                    expected.append(position)
                position += len(cell) + 1
        offset += len(sep.join(cells)) + len(eol)
    assert csv_format._empty_used_cells(block, header).tolist() == expected


def test_line_of_spaces_is_an_error(tmp_path: Path) -> None:
    path = standard_file(tmp_path / "spaces.csv")
    edit_line(path, 40, lambda line: "   ")
    with pytest.raises(InputFileError) as info:
        read_sensor_csv(path, "pelvis")
    check_error(info.value, path, line=40, says=("expected 7 fields as in the header, got a line of spaces",))


def test_cell_of_spaces_is_an_error(tmp_path: Path) -> None:
    path = standard_file(tmp_path / "spaces.csv")
    set_cell(path, 40, 2, "  ")
    with pytest.raises(InputFileError) as info:
        read_sensor_csv(path, "pelvis")
    check_error(info.value, path, line=40, column="acc_y_mps2", says=("got '  '", "leave the cell"))


def test_non_numeric_cell_after_blank_lines(tmp_path: Path) -> None:
    path = standard_file(tmp_path / "blank.csv")
    edit_line(path, 10, lambda line: "\n\n" + line)  # old line 57 is now line 59
    set_cell(path, 59, 4, "1.2.3")
    with pytest.raises(InputFileError) as info:
        read_sensor_csv(path, "pelvis")
    check_error(info.value, path, line=59, column="gyr_x_dps", says=("got '1.2.3'",))


def test_holes_in_time_are_reported_and_become_gaps(tmp_path: Path) -> None:
    t, acc, gyr = walking()
    keep = np.ones(t.size, dtype=bool)
    keep[100:110] = False
    path = write_sensor_csv(tmp_path / "hole.csv", t[keep], acc[keep], gyr[keep])
    _, warnings = read_sensor_csv(path, "pelvis")
    assert any("hole" in w and "line 102" in w for w in warnings)
    recording, warnings = read_recording({"pelvis": path})
    assert np.flatnonzero(~recording.valid[0]).tolist() == list(range(100, 110))
    # Reported once, by the CSV reader (naming its line), however the file is opened.
    _, opened = open_recording(path, placements={"hole": "pelvis"})
    for found in (warnings, opened):
        assert [w for w in found if "hole(s) in time" in w] == [w for w in found if "line 102" in w]
        assert len([w for w in found if "hole(s) in time" in w]) == 1


def test_gyro_labelled_dps_but_in_rads_is_a_warning(tmp_path: Path) -> None:
    t, acc, gyr = walking()
    path = write_sensor_csv(tmp_path / "gyr.csv", t, acc, np.deg2rad(gyr))
    _, warnings = read_sensor_csv(path, "pelvis")
    assert len(warnings) == 1
    assert "gyr.csv" in warnings[0] and "gyr_*_dps" in warnings[0] and "rad/s" in warnings[0]


def test_gyro_labelled_rads_but_in_dps_is_a_warning(tmp_path: Path) -> None:
    t, acc, gyr = walking()
    names = ["t_s", "acc_x_mps2", "acc_y_mps2", "acc_z_mps2", "gyr_x_rads", "gyr_y_rads", "gyr_z_rads"]
    path = write_table(tmp_path / "gyr.csv", names, [t, acc, gyr])
    _, warnings = read_sensor_csv(path, "pelvis")
    assert len(warnings) == 1 and "gyr_*_rads" in warnings[0] and "deg/s" in warnings[0]


# ----------------------------------------------------------------------------------------------- file-level errors
def test_missing_file(tmp_path: Path) -> None:
    path = tmp_path / "nope.csv"
    with pytest.raises(InputFileError) as info:
        read_sensor_csv(path, "pelvis")
    check_error(info.value, path, says=("not found",))


def test_directory_instead_of_file(tmp_path: Path) -> None:
    with pytest.raises(InputFileError) as info:
        read_sensor_csv(tmp_path, "pelvis")
    check_error(info.value, tmp_path, says=("directory",))


def test_unreadable_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = standard_file(tmp_path / "locked.csv")

    def refuse(self: Path, *args: object, **kwargs: object) -> None:
        raise PermissionError(13, "Permission denied", str(self))

    monkeypatch.setattr(Path, "open", refuse)
    with pytest.raises(InputFileError) as info:
        read_sensor_csv(path, "pelvis")
    check_error(info.value, path, says=("cannot read the file: Permission denied",))


@pytest.mark.parametrize("content", [b"", b"\n \n\n"])
def test_empty_file(tmp_path: Path, content: bytes) -> None:
    path = tmp_path / "empty.csv"
    path.write_bytes(content)
    with pytest.raises(InputFileError) as info:
        read_sensor_csv(path, "pelvis")
    check_error(info.value, path, says=("empty",))


@pytest.mark.parametrize(
    "content", [b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" + bytes(range(256)), bytes(range(1, 256)) * 4]
)
def test_binary_file(tmp_path: Path, content: bytes) -> None:
    path = tmp_path / "photo.csv"
    path.write_bytes(content)
    with pytest.raises(InputFileError) as info:
        read_sensor_csv(path, "pelvis")
    check_error(info.value, path, says=("not a CSV file",))


def test_no_header(tmp_path: Path) -> None:
    path = standard_file(tmp_path / "nohead.csv")
    edit_line(path, 1, lambda line: "")  # now line 1 is blank and line 2 holds numbers
    with pytest.raises(InputFileError) as info:
        read_sensor_csv(path, "pelvis")
    check_error(info.value, path, line=2, says=("no header row", "t_s,acc_x_mps2"))


def test_header_only_is_too_short(tmp_path: Path) -> None:
    path = tmp_path / "head.csv"
    path.write_text(",".join(STANDARD) + "\n")
    with pytest.raises(InputFileError) as info:
        read_sensor_csv(path, "pelvis")
    check_error(info.value, path, says=("file too short", "no data rows"))


# ----------------------------------------------------------------------------------------------- header errors
def test_missing_column_names_it_and_lists_what_was_found(tmp_path: Path) -> None:
    t, acc, gyr = walking()
    names = ["t_s", "acc_x_mps2", "acc_y_mps2", "acc_z_mps2", "gyr_x_dps", "gyr_y_dps", "gyro_z"]
    path = write_table(tmp_path / "miss.csv", names, [t, acc, gyr])
    with pytest.raises(InputFileError) as info:
        read_sensor_csv(path, "pelvis")
    msg = check_error(info.value, path, line=1, says=("missing column gyr_z (gyr_z_dps or gyr_z_rads)",))
    assert "found: t_s, acc_x_mps2" in msg and "gyro_z" in msg


def test_missing_time_column(tmp_path: Path) -> None:
    _, acc, gyr = walking()
    path = write_table(tmp_path / "notime.csv", list(STANDARD[1:]), [acc, gyr])
    with pytest.raises(InputFileError) as info:
        read_sensor_csv(path, "pelvis")
    check_error(info.value, path, line=1, says=("missing column t_s",))


@pytest.mark.parametrize(
    ("bad", "says"),
    [
        ("acc_x", ("no unit", "acc_x_mps2 (m/s²) or acc_x_g (g)")),
        ("acc_x_ms", ("unknown unit 'ms'", "acc_x_mps2 (m/s²) or acc_x_g (g)")),
        ("gyr_x_degs", ("unknown unit 'degs'", "gyr_x_dps (deg/s) or gyr_x_rads (rad/s)")),
    ],
)
def test_column_unit_missing_or_unknown(tmp_path: Path, bad: str, says: tuple[str, ...]) -> None:
    t, acc, gyr = walking()
    names = list(STANDARD)
    names[names.index(bad[:5] + ("_mps2" if bad.startswith("acc") else "_dps"))] = bad
    path = write_table(tmp_path / "unit.csv", names, [t, acc, gyr])
    with pytest.raises(InputFileError) as info:
        read_sensor_csv(path, "pelvis")
    check_error(info.value, path, column=bad, line=1, says=says)


@pytest.mark.parametrize("bad", ["t", "t_ms", "time"])
def test_time_column_without_seconds(tmp_path: Path, bad: str) -> None:
    t, acc, gyr = walking()
    path = write_table(tmp_path / "time.csv", [bad, *STANDARD[1:]], [t, acc, gyr])
    with pytest.raises(InputFileError) as info:
        read_sensor_csv(path, "pelvis")
    check_error(info.value, path, column=bad, line=1, says=("'t_s'",))


def test_both_g_and_mps2_columns_are_ambiguous(tmp_path: Path) -> None:
    t, acc, gyr = walking()
    names = [*STANDARD, "acc_x_g"]
    path = write_table(tmp_path / "amb.csv", names, [t, acc, gyr, acc[:, 0] / GRAVITY_MPS2])
    with pytest.raises(InputFileError) as info:
        read_sensor_csv(path, "pelvis")
    check_error(info.value, path, column="acc_x_g", line=1, says=("ambiguous", "'acc_x_mps2'"))


def test_mixed_units_within_one_sensor(tmp_path: Path) -> None:
    t, acc, gyr = walking()
    names = ["t_s", "acc_x_g", "acc_y_mps2", "acc_z_mps2", "gyr_x_dps", "gyr_y_dps", "gyr_z_dps"]
    path = write_table(tmp_path / "mixed.csv", names, [t, acc, gyr])
    with pytest.raises(InputFileError) as info:
        read_sensor_csv(path, "pelvis")
    check_error(info.value, path, line=1, says=("mix units",))


# ----------------------------------------------------------------------------------------------- body errors
def test_non_numeric_cell_names_line_and_column(tmp_path: Path) -> None:
    path = standard_file(tmp_path / "walk_pelvis.csv")
    set_cell(path, 57, 6, "abc")
    with pytest.raises(InputFileError) as info:
        read_sensor_csv(path, "pelvis")
    msg = check_error(info.value, path, column="gyr_z_dps", line=57)
    assert msg == f"{path}, line 57, column 'gyr_z_dps': expected a number, got 'abc'"


def test_non_numeric_cell_after_an_empty_cell(tmp_path: Path) -> None:
    path = standard_file(tmp_path / "both.csv")
    set_cell(path, 10, 2, "")
    set_cell(path, 300, 0, "1_5")
    with pytest.raises(InputFileError) as info:
        read_sensor_csv(path, "pelvis")
    check_error(info.value, path, column="t_s", line=300, says=("expected a number", "'1_5'"))


def test_decimal_comma_gets_a_hint(tmp_path: Path) -> None:
    t, acc, gyr = walking()
    path = write_table(tmp_path / "eu.csv", list(STANDARD), [t, acc, gyr], sep=";")
    edit_line(path, 5, lambda line: line.replace(".", ",", 2))
    with pytest.raises(InputFileError) as info:
        read_sensor_csv(path, "pelvis")
    check_error(info.value, path, column="t_s", line=5, says=("decimal point",))


def test_short_row(tmp_path: Path) -> None:
    path = standard_file(tmp_path / "short_row.csv")
    edit_line(path, 20, lambda line: ",".join(line.split(",")[:4]))
    with pytest.raises(InputFileError) as info:
        read_sensor_csv(path, "pelvis")
    check_error(info.value, path, line=20, says=("expected 7 fields", "got 4"))


@pytest.mark.parametrize(("new_time", "says"), [("0.300000", "duplicated"), ("0.100000", "goes backwards")])
def test_time_not_strictly_increasing(tmp_path: Path, new_time: str, says: str) -> None:
    path = standard_file(tmp_path / "time.csv")
    set_cell(path, 33, 0, new_time)  # line 33 is data row 31 (t = 0.31 s); line 32 holds t = 0.30 s
    with pytest.raises(InputFileError) as info:
        read_sensor_csv(path, "pelvis")
    check_error(info.value, path, column="t_s", line=33, says=(says, "line 32", "strictly increasing"))


def test_line_numbers_count_blank_lines(tmp_path: Path) -> None:
    path = standard_file(tmp_path / "blank.csv")
    edit_line(path, 10, lambda line: "\n" + line)  # a blank line before line 10: old line 33 is now line 34
    set_cell(path, 34, 0, "0.300000")
    with pytest.raises(InputFileError) as info:
        read_sensor_csv(path, "pelvis")
    check_error(info.value, path, column="t_s", line=34, says=("duplicated", "line 33"))


def test_too_short(tmp_path: Path) -> None:
    path = standard_file(tmp_path / "short.csv", n=150)
    with pytest.raises(InputFileError) as info:
        read_sensor_csv(path, "pelvis")
    check_error(info.value, path, says=("file too short", "1.49 s", "at least 2 s"))


def test_all_rows_lost(tmp_path: Path) -> None:
    t, _, _ = walking()
    nan = np.full((t.size, 3), np.nan)
    path = write_sensor_csv(tmp_path / "nan.csv", t, nan, nan)
    with pytest.raises(InputFileError) as info:
        read_sensor_csv(path, "pelvis")
    check_error(info.value, path, says=("no valid samples",))


# ----------------------------------------------------------------------------------------------- physics of units
def test_mps2_label_on_data_in_g_is_an_error(tmp_path: Path) -> None:
    t, acc, gyr = walking()
    path = write_sensor_csv(tmp_path / "ing.csv", t, acc / GRAVITY_MPS2, gyr)
    with pytest.raises(InputFileError) as info:
        read_sensor_csv(path, "pelvis")
    check_error(
        info.value,
        path,
        says=("acc_*_mps2 looks like g", "median |acc| = 1.0", "rename the columns to acc_*_g"),
    )


def test_g_label_on_data_in_mps2_is_an_error(tmp_path: Path) -> None:
    t, acc, gyr = walking()
    names = ["t_s", "acc_x_g", "acc_y_g", "acc_z_g", "gyr_x_dps", "gyr_y_dps", "gyr_z_dps"]
    path = write_table(tmp_path / "inmps2.csv", names, [t, acc, gyr])
    with pytest.raises(InputFileError) as info:
        read_sensor_csv(path, "pelvis")
    check_error(info.value, path, says=("acc_*_g looks like m/s²", "rename the columns to acc_*_mps2"))


def test_accelerometer_without_gravity_is_an_error(tmp_path: Path) -> None:
    t, acc, gyr = walking()
    acc[:, 2] -= GRAVITY_MPS2  # gravity removed: linear acceleration only
    path = write_sensor_csv(tmp_path / "lin.csv", t, acc, gyr)
    with pytest.raises(InputFileError) as info:
        read_sensor_csv(path, "pelvis")
    check_error(info.value, path, says=("does not see gravity",))


# ----------------------------------------------------------------------------------------------- recordings
def test_read_recording_aligns_three_sensors(tmp_path: Path) -> None:
    files = {
        "pelvis": standard_file(tmp_path / "p.csv", up_axis=0),
        "left_thigh": standard_file(tmp_path / "l.csv", up_axis=1),
        "right_thigh": standard_file(tmp_path / "r.csv"),
    }
    recording, warnings = read_recording(files)
    assert warnings == []
    assert recording.placements == ("pelvis", "left_thigh", "right_thigh")
    assert recording.sampling_rate_hz == pytest.approx(RATE_HZ)
    assert recording.n_samples == 400 and recording.valid.all()
    assert recording.acc_mps2[1, :, 1].mean() == pytest.approx(GRAVITY_MPS2, abs=0.1)


def test_unknown_placement(tmp_path: Path) -> None:
    path = standard_file(tmp_path / "hip.csv")
    with pytest.raises(InputFileError) as info:
        read_recording({"pelvis": path, "hip": path})
    check_error(info.value, path, says=("unknown placement 'hip'", "pelvis, left_thigh, right_thigh"))


def test_no_time_overlap_is_an_error(tmp_path: Path) -> None:
    a = standard_file(tmp_path / "a.csv")
    b = standard_file(tmp_path / "b.csv", t0_s=100.0)
    with pytest.raises(InputFileError) as info:
        read_recording({"pelvis": a, "left_thigh": b})
    msg = str(info.value)
    assert "do not overlap" in msg and str(a) in msg and str(b) in msg and "\n" not in msg
    assert "pelvis" in msg and "left_thigh" in msg and "share one clock" in msg


def test_partial_time_overlap_is_a_warning(tmp_path: Path) -> None:
    a = standard_file(tmp_path / "a.csv")
    b = standard_file(tmp_path / "b.csv", t0_s=2.0)
    recording, warnings = read_recording({"pelvis": a, "left_thigh": b})
    assert any("overlap for only 33%" in w for w in warnings)
    assert recording.n_samples == 600
    assert not recording.valid[1, :200].any() and recording.valid[1, 200:].all()


def test_recording_error_is_reraised_naming_the_file(tmp_path: Path) -> None:
    t, acc, gyr = walking()
    gyr[200, 0] = 9000.0  # beyond any gyroscope: the Recording refuses it
    good = write_sensor_csv(tmp_path / "good.csv", t, acc, walking()[2])
    bad = write_sensor_csv(tmp_path / "bad.csv", t, acc, gyr)
    with pytest.raises(InputFileError) as info:
        read_recording({"pelvis": good, "right_thigh": bad})
    check_error(info.value, bad, says=("gyr_dps", "check the units"))


def test_bad_sampling_rate_names_the_argument(tmp_path: Path) -> None:
    with pytest.raises(BridgeError, match="sampling_rate_hz"):
        read_recording({"pelvis": standard_file(tmp_path / "a.csv")}, sampling_rate_hz=-1.0)


def gappy_recording() -> Recording:
    _, acc, gyr = walking()
    acc2 = np.stack([acc, acc[:, ::-1]])
    gyr2 = np.stack([gyr, -gyr])
    acc2[1, 120:125] = np.nan
    gyr2[1, 120:125] = np.nan
    return Recording(
        acc_mps2=acc2,
        gyr_dps=gyr2,
        sampling_rate_hz=RATE_HZ,
        placements=("pelvis", "left_thigh"),
        start_time_s=12.5,
    )


def test_write_recording_round_trip(tmp_path: Path) -> None:
    recording = gappy_recording()
    files = write_recording_csv(recording, tmp_path / "out", "walk")
    assert files == {
        "pelvis": tmp_path / "out" / "walk_pelvis.csv",
        "left_thigh": tmp_path / "out" / "walk_left_thigh.csv",
    }
    assert len(files["left_thigh"].read_text().splitlines()) == 1 + 400 - 5  # gaps are omitted rows
    back, warnings = read_recording(files)
    assert any("hole" in w for w in warnings)
    assert back.placements == recording.placements
    assert back.start_time_s == pytest.approx(12.5)
    assert back.n_samples == recording.n_samples
    np.testing.assert_array_equal(back.valid, recording.valid)
    np.testing.assert_allclose(back.acc_mps2, recording.acc_mps2, rtol=0, atol=1e-6, equal_nan=True)
    np.testing.assert_allclose(back.gyr_dps, recording.gyr_dps, rtol=0, atol=1e-6, equal_nan=True)


def test_write_checks_shapes(tmp_path: Path) -> None:
    t, acc, gyr = walking()
    with pytest.raises(BridgeError, match=r"gyr_dps: expected shape \(400, 3\)"):
        write_sensor_csv(tmp_path / "x.csv", t, acc, gyr[:, :2])


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    rate_hz=st.floats(20.0, 250.0),
    t0_s=st.floats(0.0, 1e5),
    extra=st.integers(0, 200),
    up=st.tuples(st.floats(-1, 1), st.floats(-1, 1), st.floats(-1, 1)).filter(lambda v: math.hypot(*v) > 0.1),
    seed=st.integers(0, 2**32 - 1),
)
def test_round_trip_random_data(
    rate_hz: float, t0_s: float, extra: int, up: tuple[float, float, float], seed: int
) -> None:
    rng = np.random.default_rng(seed)
    n = math.ceil(2.05 * rate_hz) + 1 + extra
    t = t0_s + np.arange(n) / rate_hz
    up_unit = np.asarray(up) / np.linalg.norm(up)
    acc = GRAVITY_MPS2 * up_unit + rng.uniform(-3.0, 3.0, (n, 3))
    gyr = rng.uniform(-500.0, 500.0, (n, 3))
    with tempfile.TemporaryDirectory() as folder:
        path = write_sensor_csv(Path(folder) / "random.csv", t, acc, gyr)
        stream, warnings = read_sensor_csv(path, "pelvis")
    assert warnings == []
    np.testing.assert_allclose(stream.t_s, t, rtol=0, atol=1e-6)
    np.testing.assert_allclose(stream.acc_mps2, acc, rtol=0, atol=1e-6)
    np.testing.assert_allclose(stream.gyr_dps, gyr, rtol=0, atol=1e-6)
