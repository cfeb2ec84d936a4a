"""Reader and writer of the generic CSV format, one file per sensor (DESIGN.md §4).

The format
----------
* A header row naming the columns, then one row per sample.
* ``t_s``: sample time in seconds, strictly increasing (a relative or a POSIX time).
* Three accelerometer columns ``acc_x_<unit>``, ``acc_y_<unit>``, ``acc_z_<unit>`` with ``<unit>`` one of
  ``mps2`` (m/s²) or ``g``, and three gyroscope columns ``gyr_x_<unit>`` ... with ``<unit>`` one of ``dps``
  (deg/s) or ``rads`` (rad/s). One unit per sensor type.
* Column order is free; header names are case-insensitive and trimmed; other columns are ignored (with a
  warning).
* Separator ``,`` (or ``;`` or a tab when the header uses it); ``.`` as the decimal point.
* An empty cell or ``nan`` marks a lost sample: the row becomes a gap, never an error.

Reading is vectorized (numpy's C parser); only when it fails does a second, slow pass look for the exact line
and column to report. Every problem is an :class:`~firmware_bridge.errors.InputFileError` whose message names
the file, the line and the column when they are known.

The reader also checks the units against physics: a worn accelerometer sees gravity, so the median norm of its
signal is about 1 g whatever the activity. A file labelled m/s² whose median norm is about 1 is in g (and the
other way round), which is an error; a gyroscope labelled deg/s that barely turns while the accelerometer
shows walking is probably in rad/s, which is only a warning.
"""

from __future__ import annotations

import io
import itertools
import math
import os
import re
import warnings
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO, Final

import numpy as np
from numpy.typing import ArrayLike, NDArray

from firmware_bridge.errors import BridgeError, InputFileError
from firmware_bridge.readers.sensor_data import RawSensor, assemble
from gait.errors import RecordingError
from gait.frames import GRAVITY_MPS2
from gait.preprocess import SensorStream
from gait.recording import KNOWN_PLACEMENTS, Recording

__all__ = [
    "MIN_DURATION_S",
    "read_csv_raw_sensor",
    "read_recording",
    "read_sensor_csv",
    "write_recording_csv",
    "write_sensor_csv",
]

PathLike = str | os.PathLike[str]

#: Shortest recording a file may hold (span of its time column), in seconds.
MIN_DURATION_S: Final = 2.0
#: Files whose time ranges overlap less than this fraction of their combined range get a warning.
MIN_OVERLAP_FRACTION: Final = 0.9

_TIME_COLUMN: Final = "t_s"
_AXES: Final = ("x", "y", "z")
#: Accepted units per quantity: name suffix → (factor to the canonical unit, readable unit).
_UNITS: Final[dict[str, dict[str, tuple[float, str]]]] = {
    "acc": {"mps2": (1.0, "m/s²"), "g": (GRAVITY_MPS2, "g")},
    "gyr": {"dps": (1.0, "deg/s"), "rads": (180.0 / math.pi, "rad/s")},
}
_QUANTITY_NAME: Final = {"acc": "accelerometer", "gyr": "gyroscope"}
_HEADER_EXAMPLE: Final = "t_s,acc_x_mps2,acc_y_mps2,acc_z_mps2,gyr_x_dps,gyr_y_dps,gyr_z_dps"

_SNIFF_BYTES: Final = 64 * 1024
_SEPARATORS: Final = (",", ";", "\t")
_SENSOR_COLUMN_RE: Final = re.compile(r"(acc|gyr)_([xyz])(?:_(.*))?")
_TIME_LIKE_RE: Final = re.compile(r"(t|time)(?:_(.*))?")
# What numpy's float parser accepts (ASCII digits only; no hex, no digit separators).
_NUMBER_RE: Final = re.compile(
    r"[+-]?(?:[0-9]+\.?[0-9]*(?:[eE][+-]?[0-9]+)?|\.[0-9]+(?:[eE][+-]?[0-9]+)?|nan|inf(?:inity)?)",
    re.IGNORECASE,
)
_DECIMAL_COMMA_RE: Final = re.compile(r"[+-]?[0-9]+,[0-9]+")

# Unit plausibility (see the module docstring).
_GRAVITY_BAND: Final = (0.7, 1.3)  # median |acc| in g for a worn sensor
_MOVING_ACC_STD_MPS2: Final = 0.5  # spread of |acc| above which the sensor is moving
_GYR_DPS_LOOKS_RADS: Final = 6.0  # 99th percentile |gyr| below this while moving: probably rad/s
_GYR_RADS_LOOKS_DPS: Final = 20.0  # 99th percentile |gyr| above this (1146 deg/s): probably deg/s
_SANITY_MAX_ROWS: Final = 500_000
# A hole in t_s longer than this many nominal intervals is reported (to_common_time_base turns it into a gap).
_HOLE_FACTOR: Final = 1.5


@dataclass(frozen=True, slots=True)
class _Header:
    """Where the columns are in one file."""

    line: int  # 1-based line number of the header row
    end_byte: int  # offset of the newline that ends the header row
    separator: str
    n_fields: int
    time: tuple[str, int]  # (name as spelled, field index)
    acc: tuple[tuple[str, int], ...]  # x, y, z
    gyr: tuple[tuple[str, int], ...]
    acc_unit: str
    gyr_unit: str

    @property
    def used(self) -> tuple[tuple[str, int], ...]:
        """(name, field index) of the seven columns, in the order of the parsed array."""
        return (self.time, *self.acc, *self.gyr)


def _fail(path: Path, message: str, *, column: str | None = None, row: int | None = None) -> InputFileError:
    return InputFileError(message, path=path, column=column, row=row)


def _where(path: Path, *, row: int | None = None, column: str | None = None) -> str:
    return InputFileError("", path=path, column=column, row=row).location()


def _short(text: str, limit: int = 40) -> str:
    return text if len(text) <= limit else text[: limit - 3] + "..."


# ------------------------------------------------------------------------------------ opening and header
def _sniff(path: Path) -> bytes:
    """First bytes of the file; raise for missing, unreadable, empty or binary files."""
    if not path.exists():
        raise _fail(path, "file not found")
    if path.is_dir():
        raise _fail(path, "is a directory, expected a CSV file")
    try:
        with path.open("rb") as fh:
            head = fh.read(_SNIFF_BYTES)
    except OSError as exc:
        raise _fail(path, f"cannot read the file: {exc.strerror or exc}") from None
    if not head.strip():
        raise _fail(path, "file is empty" if not head else "file is empty (only blank lines)")
    if b"\x00" in head:
        offset = head.index(b"\x00")
        raise _fail(path, f"not a CSV file: binary data (a NUL byte at offset {offset})")
    controls = sum(head.count(bytes([c])) for c in range(32) if c not in (9, 10, 13))
    if controls > 0.01 * len(head):
        raise _fail(path, "not a CSV file: binary data (control characters)")
    if b"\n" not in head and b"\r" in head:
        raise _fail(path, "lines end with CR only (old Mac format); convert the file to LF or CRLF line endings")
    return head


def _header_line(path: Path, head: bytes) -> tuple[int, str, int]:
    """1-based line number, text, and the byte offset of the end (its newline) of the first non-blank line."""
    lines = head.split(b"\n")
    complete = lines if len(head) < _SNIFF_BYTES else lines[:-1]
    end_byte = -1
    for line_no, raw in enumerate(complete, start=1):
        end_byte += len(raw) + 1
        if not raw.strip():
            continue
        try:
            text = raw.decode("utf-8-sig" if line_no == 1 else "utf-8")
        except UnicodeDecodeError:
            raise _fail(path, "not a CSV file: the header is not UTF-8 text", row=line_no) from None
        return line_no, text.strip("\r\n\ufeff"), end_byte
    raise _fail(path, f"no header row in the first {_SNIFF_BYTES // 1024} KiB")


def _parse_header(path: Path, line_no: int, text: str, end_byte: int) -> tuple[_Header, list[str]]:
    counts = {sep: text.count(sep) for sep in _SEPARATORS}
    separator = max(_SEPARATORS, key=lambda sep: counts[sep])  # ties go to "," (first)
    spelled = [name.strip().strip("\"'").strip() for name in text.split(separator)]
    names = [name.lower() for name in spelled]

    nonempty = [name for name in names if name]
    if nonempty and all(_NUMBER_RE.fullmatch(name) for name in nonempty):
        raise _fail(
            path,
            f"no header row: the first line holds numbers ({_short(text.strip())!r}); expected column names "
            f"such as {_HEADER_EXAMPLE}",
            row=line_no,
        )

    time: tuple[str, int] | None = None
    sensor: dict[tuple[str, str], tuple[str, str, int]] = {}  # (quantity, axis) → (unit, spelled, index)
    time_like: list[tuple[str, str | None]] = []
    ignored: list[str] = []
    for idx, (name, shown) in enumerate(zip(names, spelled, strict=True)):
        if not name:
            ignored.append(f"(unnamed column {idx + 1})")
            continue
        if name == _TIME_COLUMN:
            if time is not None:
                raise _fail(
                    path, f"the column appears twice (fields {time[1] + 1} and {idx + 1})", column=shown, row=line_no
                )
            time = (shown, idx)
            continue
        match = _SENSOR_COLUMN_RE.fullmatch(name)
        if match is None:
            time_match = _TIME_LIKE_RE.fullmatch(name)
            if time_match is not None:
                time_like.append((shown, time_match.group(2)))
            ignored.append(shown)
            continue
        quantity, axis, unit = match.groups()
        units = _UNITS[quantity]
        accepted = " or ".join(f"{quantity}_{axis}_{u} ({label})" for u, (_, label) in units.items())
        if unit is None or unit == "":
            raise _fail(path, f"the column name has no unit; expected {accepted}", column=shown, row=line_no)
        if unit not in units:
            raise _fail(path, f"unknown unit {unit!r}; accepted: {accepted}", column=shown, row=line_no)
        previous = sensor.get((quantity, axis))
        if previous is not None:
            if previous[0] == unit:
                raise _fail(
                    path,
                    f"the column appears twice (fields {previous[2] + 1} and {idx + 1})",
                    column=shown,
                    row=line_no,
                )
            raise _fail(
                path,
                f"ambiguous: both {previous[1]!r} and {shown!r} are present; keep only one {quantity}_{axis} column",
                column=shown,
                row=line_no,
            )
        sensor[(quantity, axis)] = (unit, shown, idx)

    if time is None and time_like:
        shown, unit = time_like[0]
        problem = "the time column name has no unit" if not unit else f"unknown time unit {unit!r}"
        raise _fail(path, f"{problem}; expected {_TIME_COLUMN!r} (time in seconds)", column=shown, row=line_no)
    missing = [] if time is not None else [_TIME_COLUMN]
    for quantity, units in _UNITS.items():
        for axis in _AXES:
            if (quantity, axis) not in sensor:
                options = " or ".join(f"{quantity}_{axis}_{u}" for u in units)
                missing.append(f"{quantity}_{axis} ({options})")
    if missing:
        found = ", ".join(shown or "(unnamed)" for shown in spelled)
        plural = "s" if len(missing) > 1 else ""
        raise _fail(path, f"missing column{plural} {', '.join(missing)}; found: {found}", row=line_no)
    assert time is not None

    chosen_units: dict[str, str] = {}
    for quantity in _UNITS:
        used = {sensor[(quantity, axis)][0] for axis in _AXES}
        if len(used) > 1:
            listed = ", ".join(sensor[(quantity, axis)][1] for axis in _AXES)
            raise _fail(
                path,
                f"the {_QUANTITY_NAME[quantity]} columns mix units ({listed}); use one unit for all three",
                row=line_no,
            )
        chosen_units[quantity] = used.pop()

    header = _Header(
        line=line_no,
        end_byte=end_byte,
        separator=separator,
        n_fields=len(names),
        time=time,
        acc=tuple((sensor[("acc", a)][1], sensor[("acc", a)][2]) for a in _AXES),
        gyr=tuple((sensor[("gyr", a)][1], sensor[("gyr", a)][2]) for a in _AXES),
        acc_unit=chosen_units["acc"],
        gyr_unit=chosen_units["gyr"],
    )
    found_warnings = []
    if ignored:
        found_warnings.append(
            f"{_where(path, row=line_no)}: ignoring column{'s' if len(ignored) > 1 else ''} not used by "
            f"FusionGait: {', '.join(ignored)}"
        )
    return header, found_warnings


# ------------------------------------------------------------------------------------ parsing the body
def _loadtxt(source: Path | io.BytesIO, header: _Header) -> NDArray[np.float64]:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # "input contained no data": reported by the caller
        return np.loadtxt(
            source,
            dtype=np.float64,
            delimiter=header.separator,
            comments=None,
            skiprows=header.line,
            usecols=[idx for _, idx in header.used],
            ndmin=2,
            encoding="utf-8",
        )


_BLOCK_BYTES: Final = 1 << 24
_NAN_BYTES: Final = np.frombuffer(b"nan", dtype=np.uint8)


def _data_blocks(fh: BinaryIO, start_byte: int) -> Iterator[tuple[int, bytes]]:
    """Blocks of whole lines from ``start_byte`` on, with their offsets; the last one ends with a newline too."""
    fh.seek(start_byte)
    offset, carry = start_byte, b""
    while True:
        block = fh.read(_BLOCK_BYTES)
        if not block:
            if carry:
                yield offset, carry + b"\n"
            return
        buf = carry + block
        cut = buf.rfind(b"\n") + 1
        if cut:
            yield offset, buf[:cut]
            offset += cut
        carry = buf[cut:]


def _empty_used_cells(block: bytes, header: _Header) -> NDArray[np.intp]:
    """Offsets in ``block`` (whole lines) of the empty cells of the seven used columns, vectorized."""
    arr = np.frombuffer(block, dtype=np.uint8)
    is_sep = arr == ord(header.separator)
    is_nl = arr == 10
    ends_cell = is_sep | is_nl | (arr == 13)
    starts_cell = np.empty(arr.size, dtype=bool)
    starts_cell[0] = True
    starts_cell[1:] = is_sep[:-1] | is_nl[:-1]
    empty = np.flatnonzero(starts_cell & ends_cell)
    if empty.size == 0:
        return empty
    # A cell that starts a line is an empty line, not an empty cell, unless a separator follows.
    nl_pos = np.flatnonzero(is_nl)
    line_idx = np.searchsorted(nl_pos, empty, side="left")
    line_start = np.where(line_idx > 0, nl_pos[np.maximum(line_idx - 1, 0)] + 1, 0)
    seps_before = np.cumsum(is_sep, dtype=np.int64) - is_sep  # separators strictly before each offset
    field = seps_before[empty] - seps_before[line_start]
    line_has_sep = seps_before[nl_pos[line_idx]] > seps_before[line_start]
    used = np.isin(field, [idx for _, idx in header.used]) & line_has_sep
    return np.asarray(empty[used], dtype=np.intp)


def _has_empty_cells(path: Path, header: _Header) -> bool:
    """True when a used column has an empty cell (block-wise, vectorized, stops at the first one)."""
    with path.open("rb") as fh:
        return any(_empty_used_cells(block, header).size for _, block in _data_blocks(fh, header.end_byte + 1))


def _read_with_empty_cells_filled(path: Path, header: _Header) -> bytes:
    """The file's bytes with ``nan`` written into every empty cell of the used columns."""
    offsets: list[NDArray[np.intp]] = []
    with path.open("rb") as fh:
        for offset, block in _data_blocks(fh, header.end_byte + 1):
            offsets.append(_empty_used_cells(block, header) + offset)
        fh.seek(0)
        data = np.frombuffer(fh.read(), dtype=np.uint8)
    where = np.concatenate(offsets) if offsets else np.zeros(0, dtype=np.intp)
    filled = np.insert(data, np.repeat(where, _NAN_BYTES.size), np.tile(_NAN_BYTES, where.size))
    del data
    return filled.tobytes()


def _hint_row(exc: BaseException) -> int | None:
    """The data row numpy's parser names in its message ("... at row 41, column 3."), if any."""
    match = re.search(r"at row (\d+)", str(exc))
    return int(match.group(1)) if match else None


def _line_problem(path: Path, header: _Header, line_no: int, raw: bytes) -> InputFileError | None:
    """Why numpy's parser refuses this line (None when it is fine or blank)."""
    text = raw.decode("utf-8", errors="replace").rstrip("\r\n")
    if not text:
        return None
    fields = text.split(header.separator)
    if len(fields) <= max(idx for _, idx in header.used):
        got = "a line of spaces" if not text.strip() else f"{len(fields)} ({_short(text.strip())!r})"
        return _fail(path, f"expected {header.n_fields} fields as in the header, got {got}", row=line_no)
    for name, idx in header.used:
        field = fields[idx]
        cell = field.strip()
        if not field or (cell and _NUMBER_RE.fullmatch(cell)):
            continue
        hint = ""
        if not cell:
            hint = " (leave the cell of a lost sample empty)"
        elif _DECIMAL_COMMA_RE.fullmatch(cell):
            hint = " (use '.' as the decimal point)"
        elif "\ufffd" in cell or not cell.isprintable():
            hint = " (binary data: is this a CSV file?)"
        return _fail(path, f"expected a number, got {_short(field)!r}{hint}", column=name, row=line_no)
    return None


def _locate_parse_error(path: Path, header: _Header, hint_row: int | None) -> InputFileError | None:
    """The slow pass: find the first line that numpy's parser refused, and say why.

    numpy names the data row; without blank lines that row is on line ``header.line + 1 + row``, which is
    checked first. Otherwise every line is checked in turn.
    """
    with path.open("rb") as fh:
        if hint_row is not None:
            line_no = header.line + 1 + hint_row
            raw = next(itertools.islice(fh, line_no - 1, None), None)
            if raw is not None:
                problem = _line_problem(path, header, line_no, raw)
                if problem is not None:
                    return problem
            fh.seek(0)
        for line_no, raw in enumerate(fh, start=1):
            if line_no > header.line:
                problem = _line_problem(path, header, line_no, raw)
                if problem is not None:
                    return problem
    return None


def _parse_body(path: Path, header: _Header) -> NDArray[np.float64]:
    """The samples, shape (n_rows, 7): t_s, acc xyz, gyr xyz in the file's units; empty cells are NaN."""
    try:
        try:
            return _loadtxt(path, header)
        except ValueError as exc:  # includes UnicodeDecodeError
            error: ValueError = exc
        # Empty cells (lost samples) are legal in the format but not for numpy's parser: fill them and retry.
        # numpy stops at the first bad row; "could not convert string ''" means it is an empty cell.
        if "string ''" in str(error) or _has_empty_cells(path, header):
            filled = _read_with_empty_cells_filled(path, header)
            try:
                return _loadtxt(io.BytesIO(filled), header)
            except ValueError as exc:
                error = exc
            del filled
        located = _locate_parse_error(path, header, _hint_row(error))
    except OSError as exc:
        raise _fail(path, f"cannot read the file: {exc.strerror or exc}") from None
    if located is not None:
        raise located
    raise _fail(path, f"cannot parse the file: {error}")


class _LineNumbers:
    """Maps data-row indices (rows of the parsed array) to 1-based line numbers of the file.

    Computed only when a message needs one, from the positions of the newlines, block by block (vectorized):
    data rows are the non-empty lines after the header.
    """

    def __init__(self, path: Path, header_line: int) -> None:
        self._path = path
        self._header_line = header_line

    def __call__(self, *rows: int) -> list[int]:
        targets = np.unique(np.asarray(rows, dtype=np.int64))
        found: dict[int, int] = {}
        lines_before = 0  # lines in earlier blocks
        data_before = 0  # data rows in earlier blocks
        with self._path.open("rb") as fh:
            for _, block in _data_blocks(fh, 0):
                arr = np.frombuffer(block, dtype=np.uint8)
                ends = np.flatnonzero(arr == 10)
                starts = np.concatenate(([0], ends[:-1] + 1))
                lengths = ends - starts
                ends_with_cr = (lengths > 0) & (arr[np.maximum(ends - 1, 0)] == 13)
                line_nos = lines_before + 1 + np.arange(ends.size)
                is_data = ((lengths - ends_with_cr) > 0) & (line_nos > self._header_line)
                data_idx = data_before + np.cumsum(is_data) - 1
                hit = is_data & np.isin(data_idx, targets)
                found.update(zip(data_idx[hit].tolist(), line_nos[hit].tolist(), strict=True))
                lines_before += ends.size
                data_before += int(np.count_nonzero(is_data))
                if len(found) == targets.size:
                    break
        return [found.get(row, self._header_line + 1 + row) for row in rows]


# ------------------------------------------------------------------------------------ checks
def _check_units(path: Path, header: _Header, acc: NDArray[np.float64], gyr: NDArray[np.float64]) -> list[str]:
    """Compare the labelled units with physics: raise for a wrong accelerometer unit, warn for a gyroscope.

    ``acc`` and ``gyr`` (shape (n, 3), the file's units) are valid rows, possibly a regular subsample.
    """
    acc_norm = np.linalg.norm(acc, axis=-1)
    median = float(np.median(acc_norm))
    acc_unit, gyr_unit = header.acc_unit, header.gyr_unit
    unit_label = _UNITS["acc"][acc_unit][1]
    lo, hi = _GRAVITY_BAND
    if acc_unit == "mps2" and lo <= median <= hi:
        raise _fail(
            path,
            f"column acc_*_mps2 looks like g (median |acc| = {median:.2f}, expected ≈{GRAVITY_MPS2:.2f} m/s² "
            f"for a worn sensor); rename the columns to acc_*_g",
        )
    if acc_unit == "g" and lo * GRAVITY_MPS2 <= median <= hi * GRAVITY_MPS2:
        raise _fail(
            path,
            f"column acc_*_g looks like m/s² (median |acc| = {median:.2f}, expected ≈1 g for a worn sensor); "
            f"rename the columns to acc_*_mps2",
        )
    median_g = median * _UNITS["acc"][acc_unit][0] / GRAVITY_MPS2
    if not lo <= median_g <= hi:
        raise _fail(
            path,
            f"the accelerometer does not see gravity (median |acc| = {median:.3g} {unit_label} = "
            f"{median_g:.2f} g, expected ≈1 g = {GRAVITY_MPS2:.2f} m/s²); check the acc_* columns and their "
            f"unit",
        )

    found: list[str] = []
    moving = float(np.std(acc_norm)) * _UNITS["acc"][acc_unit][0] > _MOVING_ACC_STD_MPS2
    p99 = float(np.percentile(np.abs(gyr), 99)) if gyr.size else 0.0
    if gyr_unit == "dps" and moving and p99 < _GYR_DPS_LOOKS_RADS:
        found.append(
            f"{_where(path)}: columns gyr_*_dps may be in rad/s (99th percentile |gyr| = {p99:.2f} while the "
            f"accelerometer shows movement; walking turns the pelvis and thighs faster than "
            f"{_GYR_DPS_LOOKS_RADS:g} deg/s); if so, rename the columns to gyr_*_rads"
        )
    if gyr_unit == "rads" and p99 > _GYR_RADS_LOOKS_DPS:
        found.append(
            f"{_where(path)}: columns gyr_*_rads may be in deg/s (99th percentile |gyr| = {p99:.1f} rad/s = "
            f"{p99 * 180 / math.pi:.0f} deg/s, far beyond walking); if so, rename the columns to gyr_*_dps"
        )
    return found


# ------------------------------------------------------------------------------------ public API
def read_sensor_csv(path: PathLike, placement: str) -> tuple[SensorStream, list[str]]:
    """Read one sensor's CSV file (the generic format of DESIGN.md §4).

    Parameters
    ----------
    path : str or os.PathLike
        The CSV file.
    placement : str
        Placement name given to the stream (``"pelvis"``, ``"left_thigh"``, ``"right_thigh"``, ...).

    Returns
    -------
    stream : SensorStream
        ``t_s`` shape (n_samples,) in s; ``acc_mps2`` shape (n_samples, 3) in m/s²; ``gyr_dps`` shape
        (n_samples, 3) in deg/s (converted from g and rad/s when so labelled). Rows with an empty or NaN cell
        are kept with NaN values: lost samples, which become gaps on the common time base.
    warnings : list of str
        One line each, prefixed with the file (and line) concerned: ignored columns, lost samples, holes in
        time, a gyroscope unit that looks wrong.

    Raises
    ------
    InputFileError
        The file is missing, unreadable, empty, binary, has no header, lacks a column, has a column without
        a unit or with an unknown one, has two columns for one axis, a non-numeric cell, a time that does not
        strictly increase, less than ``MIN_DURATION_S`` of data, or an accelerometer whose signal contradicts
        its unit. The message names the file, and the line and column when they are known.
    """
    file_path = Path(path)
    if not isinstance(placement, str) or not placement.strip():
        raise _fail(file_path, f"placement: expected a non-empty name, got {placement!r}")
    head = _sniff(file_path)
    header, found_warnings = _parse_header(file_path, *_header_line(file_path, head))
    data = _parse_body(file_path, header)
    line_of = _LineNumbers(file_path, header.line)
    time_name = header.time[0]

    if data.shape[0] == 0:
        raise _fail(file_path, f"file too short: no data rows after the header (line {header.line})")
    t_all = data[:, 0]
    kept = np.isfinite(t_all)
    n_no_time = int(data.shape[0] - np.count_nonzero(kept))
    if n_no_time:
        first = int(np.argmin(kept))
        (first_line,) = line_of(first)
        found_warnings.append(
            f"{_where(file_path, row=first_line, column=time_name)}: {n_no_time} row(s) without a time "
            f"(first on line {first_line}) were dropped"
        )
        kept_rows = np.flatnonzero(kept)
        data = data[kept]
    else:
        kept_rows = None

    def row_of(i: int) -> int:
        return int(kept_rows[i]) if kept_rows is not None else i

    t_s = np.ascontiguousarray(data[:, 0])
    if t_s.size < 2:
        raise _fail(
            file_path,
            f"file too short: {t_s.size} row(s) with a time; expected at least {MIN_DURATION_S:g} s",
        )
    dt_s = np.diff(t_s)
    bad = dt_s <= 0
    if bad.any():
        j = int(np.argmax(bad))
        prev_line, line = line_of(row_of(j), row_of(j + 1))
        if dt_s[j] == 0:
            message = (
                f"time {float(t_s[j + 1])!r} s is duplicated (same time as line {prev_line}); expected "
                f"strictly increasing times"
            )
        else:
            message = (
                f"time goes backwards: {float(t_s[j + 1])!r} s after {float(t_s[j])!r} s on line "
                f"{prev_line}; expected strictly increasing times"
            )
        raise _fail(file_path, message, column=time_name, row=line)
    span_s = float(t_s[-1] - t_s[0])
    if span_s < MIN_DURATION_S:
        raise _fail(
            file_path,
            f"file too short: {span_s:.3g} s of data ({t_s.size} rows); expected at least {MIN_DURATION_S:g} s",
        )

    acc_raw = data[:, 1:4]
    gyr_raw = data[:, 4:7]
    finite = np.asarray(np.isfinite(acc_raw).all(axis=-1) & np.isfinite(gyr_raw).all(axis=-1), dtype=bool)
    n_lost = int(finite.size - np.count_nonzero(finite))
    if n_lost == finite.size:
        raise _fail(file_path, "no valid samples: every row has an empty or NaN accelerometer or gyroscope cell")
    if n_lost:
        first = int(np.argmin(finite))
        (first_line,) = line_of(row_of(first))
        found_warnings.append(
            f"{_where(file_path, row=first_line)}: {n_lost} row(s) with an empty or NaN value (first on line "
            f"{first_line}) are treated as lost samples"
        )
    step = max(1, finite.size // _SANITY_MAX_ROWS)  # the unit checks look at up to _SANITY_MAX_ROWS rows
    sample = finite[::step]
    found_warnings.extend(_check_units(file_path, header, acc_raw[::step][sample], gyr_raw[::step][sample]))

    nominal_dt_s = float(np.median(dt_s))
    holes = dt_s > _HOLE_FACTOR * nominal_dt_s
    if holes.any():
        j = int(np.argmax(holes))
        (line,) = line_of(row_of(j + 1))
        found_warnings.append(
            f"{_where(file_path, row=line, column=time_name)}: {int(np.count_nonzero(holes))} hole(s) in "
            f"time (longest {float(dt_s[holes].max()):.3g} s, first before line {line}) become gaps"
        )

    acc_factor = _UNITS["acc"][header.acc_unit][0]
    gyr_factor = _UNITS["gyr"][header.gyr_unit][0]
    acc_mps2 = np.ascontiguousarray(acc_raw) * acc_factor if acc_factor != 1.0 else np.ascontiguousarray(acc_raw)
    gyr_dps = np.ascontiguousarray(gyr_raw) * gyr_factor if gyr_factor != 1.0 else np.ascontiguousarray(gyr_raw)
    try:
        stream = SensorStream(placement=placement, t_s=t_s, acc_mps2=acc_mps2, gyr_dps=gyr_dps)
    except RecordingError as exc:
        raise _fail(file_path, str(exc)) from None
    return stream, found_warnings


def read_csv_raw_sensor(path: PathLike, label: str) -> RawSensor:
    """One generic CSV file (:func:`read_sensor_csv`) as a RawSensor for :func:`~.sensor_data.assemble`.

    Its times and units are checked already (``units_checked``) and its warnings are the sensor's ``notes``.
    """
    stream, notes = read_sensor_csv(path, label)
    return RawSensor(
        label=label,
        path=Path(path),
        t_s=stream.t_s,
        acc=stream.acc_mps2,
        gyr=stream.gyr_dps,
        acc_unit="mps2",
        gyr_unit="dps",
        unit_source="the column names",
        time_column=_TIME_COLUMN,
        acc_columns=("acc_x", "acc_y", "acc_z"),
        gyr_columns=("gyr_x", "gyr_y", "gyr_z"),
        first_line=None,
        units_checked=True,
        notes=tuple(notes),
    )


def read_recording(
    sensor_files: Mapping[str, PathLike], *, sampling_rate_hz: float | None = None
) -> tuple[Recording, list[str]]:
    """Read one CSV file per sensor and put them on one time base with :func:`~.sensor_data.assemble`.

    The files go through the same alignment checks as every other reader's sensors (overlap in time, sampling
    rates, the grid at the highest nominal rate snapped to a device rate).

    Parameters
    ----------
    sensor_files : mapping of str to path
        Placement (``"pelvis"``, ``"left_thigh"``, ``"right_thigh"``) → CSV file. The files must share one
        clock (their ``t_s`` columns are aligned as they are).
    sampling_rate_hz : float, optional
        Rate of the common time base; default: the highest nominal rate of the files.

    Returns
    -------
    recording : Recording
        ``frame="sensor"``, placements in the order of ``sensor_files``; lost samples and holes in time are
        gaps (``valid`` False), never interpolated.
    warnings : list of str
        The readers' warnings, then those about the alignment (partial overlap, resampling).

    Raises
    ------
    InputFileError
        For an unknown placement, anything :func:`read_sensor_csv` refuses, files that do not overlap in time,
        or a recording the analysis core refuses (a :class:`~gait.errors.RecordingError`, re-raised naming the
        file).
    BridgeError
        For an invalid ``sampling_rate_hz``.
    """
    if not isinstance(sensor_files, Mapping) or not sensor_files:
        raise InputFileError(f"sensor_files: expected at least one placement → file, got {sensor_files!r}")
    if sampling_rate_hz is not None and not (
        isinstance(sampling_rate_hz, int | float) and math.isfinite(sampling_rate_hz) and sampling_rate_hz > 0
    ):
        raise BridgeError(f"sampling_rate_hz: expected a positive rate in Hz, got {sampling_rate_hz!r}")
    paths = {placement: Path(p) for placement, p in sensor_files.items()}
    for placement, path in paths.items():
        if placement not in KNOWN_PLACEMENTS:
            raise InputFileError(
                f"unknown placement {placement!r}; known placements: {', '.join(KNOWN_PLACEMENTS)}", path=path
            )

    found_warnings: list[str] = []
    seen: dict[Path, str] = {}
    for placement, path in paths.items():
        key = path.resolve()
        if key in seen:
            found_warnings.append(f"{path}: the same file is given for {seen[key]} and {placement}")
        seen.setdefault(key, placement)

    sensors = [(placement, read_csv_raw_sensor(path, placement)) for placement, path in paths.items()]
    recording, more = assemble(sensors, sampling_rate_hz=sampling_rate_hz, min_overlap_fraction=MIN_OVERLAP_FRACTION)
    return recording, found_warnings + more


def write_sensor_csv(path: PathLike, t_s: ArrayLike, acc_mps2: ArrayLike, gyr_dps: ArrayLike) -> Path:
    """Write one sensor's samples in the generic CSV format (m/s² and deg/s, ``%.6f``).

    Parameters
    ----------
    path : str or os.PathLike
        File to create (overwritten if present).
    t_s : array_like, shape (n_samples,)
        Sample times in seconds.
    acc_mps2 : array_like, shape (n_samples, 3)
        Specific force in m/s².
    gyr_dps : array_like, shape (n_samples, 3)
        Angular rate in deg/s.

    Returns
    -------
    pathlib.Path
        The file written. NaN values are written as ``nan`` (lost samples for the reader).

    Raises
    ------
    BridgeError
        For arrays of the wrong shape (the message names the argument) or a file that cannot be written.
    """
    t = np.asarray(t_s, dtype=np.float64)
    acc = np.asarray(acc_mps2, dtype=np.float64)
    gyr = np.asarray(gyr_dps, dtype=np.float64)
    if t.ndim != 1:
        raise BridgeError(f"t_s: expected shape (n_samples,), got {t.shape}")
    for name, arr in (("acc_mps2", acc), ("gyr_dps", gyr)):
        if arr.shape != (t.size, 3):
            raise BridgeError(f"{name}: expected shape ({t.size}, 3) to match t_s, got {arr.shape}")
    file_path = Path(path)
    header = ",".join([_TIME_COLUMN] + [f"{q}_{a}_{u}" for q, u in (("acc", "mps2"), ("gyr", "dps")) for a in _AXES])
    try:
        with file_path.open("w", encoding="utf-8", newline="\n") as fh:
            np.savetxt(fh, np.column_stack([t, acc, gyr]), fmt="%.6f", delimiter=",", header=header, comments="")
    except OSError as exc:
        raise BridgeError(f"{file_path}: cannot write: {exc.strerror or exc}") from None
    return file_path


def write_recording_csv(recording: Recording, directory: PathLike, stem: str) -> dict[str, Path]:
    """Write a Recording as one CSV file per sensor, ``<directory>/<stem>_<placement>.csv``.

    Times are ``recording.start_time_s`` plus the sample times; lost samples (``valid`` False) are omitted
    rows, which the reader turns back into gaps. The axes are written as they are (``x, y, z`` are ``ap, ml,
    si`` for a recording in the body frame).

    Parameters
    ----------
    recording : Recording
        The data to write.
    directory : str or os.PathLike
        Folder for the files (created when missing).
    stem : str
        Start of each file name.

    Returns
    -------
    dict of str to pathlib.Path
        Placement → file written.

    Raises
    ------
    BridgeError
        For an invalid ``stem`` or a folder or file that cannot be written.
    """
    if not isinstance(stem, str) or not stem or any(sep in stem for sep in ("/", "\\", os.sep)):
        raise BridgeError(f"stem: expected a non-empty file name without a folder, got {stem!r}")
    folder = Path(directory)
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise BridgeError(f"{folder}: cannot create the folder: {exc.strerror or exc}") from None
    t_s = recording.start_time_s + recording.time_s
    written: dict[str, Path] = {}
    for k, placement in enumerate(recording.placements):
        keep = recording.valid[k]
        written[placement] = write_sensor_csv(
            folder / f"{stem}_{placement}.csv",
            t_s[keep],
            recording.acc_mps2[k][keep],
            recording.gyr_dps[k][keep],
        )
    return written
