"""Reading the numeric columns of a vendor's text export, fast, with exact locations for bad cells.

Vendor CSV files (x-IMU3, Movella DOT, MetaWear) put a header row somewhere near the top (after a preamble for
Movella) and then one row per sample. :func:`read_columns` parses the wanted columns with Arrow's multithreaded CSV
reader (empty cells become NaN: lost samples). When a cell is not a number, a second, slow pass over the lines finds
the first bad cell so that the error names the file, the line and the column.
"""

from __future__ import annotations

import csv
import io
import math
import os
from collections.abc import Sequence
from pathlib import Path
from typing import Final

import numpy as np
from numpy.typing import NDArray

from firmware_bridge.errors import InputFileError

__all__ = ["head_lines", "read_columns"]

PathLike = str | os.PathLike[str]
_SNIFF_BYTES: Final = 64 * 1024


def head_lines(path: PathLike, max_lines: int = 40) -> list[str]:
    """The first lines of a text file (decoded leniently), for sniffing a format; [] for a binary file."""
    file_path = Path(path)
    try:
        with file_path.open("rb") as fh:
            head = fh.read(_SNIFF_BYTES)
    except OSError as exc:
        raise InputFileError(f"cannot read the file: {exc.strerror or exc}", path=file_path) from None
    if b"\x00" in head:
        return []
    text = head.decode("utf-8-sig", "replace")
    lines = text.splitlines()
    if len(head) == _SNIFF_BYTES and lines:
        lines = lines[:-1]  # the last one may be cut
    return lines[:max_lines]


def _locate_bad_cell(
    path: Path, header_line: int, header: Sequence[str], wanted: Sequence[str], delimiter: str
) -> None:
    index = [list(header).index(name) for name in wanted]
    with path.open("r", encoding="utf-8-sig", errors="replace", newline="") as fh:
        for line_no, row in enumerate(csv.reader(fh, delimiter=delimiter), start=1):
            if line_no <= header_line or not row or all(not c.strip() for c in row):
                continue
            if len(row) != len(header):
                raise InputFileError(
                    f"expected {len(header)} fields like the header (line {header_line}), got {len(row)}; a line cut "
                    "short or an extra separator",
                    path=path,
                    row=line_no,
                )
            for name, i in zip(wanted, index, strict=True):
                cell = row[i].strip()
                if cell == "" or cell.lower() == "nan":
                    continue
                try:
                    value = float(cell)
                except ValueError:
                    raise InputFileError(
                        f"expected a number, got {cell[:40]!r}", path=path, column=name, row=line_no
                    ) from None
                if math.isinf(value):
                    raise InputFileError(f"expected a finite number, got {cell!r}", path=path, column=name, row=line_no)


def read_columns(
    path: PathLike, *, header_line: int, header: Sequence[str], wanted: Sequence[str], delimiter: str = ","
) -> dict[str, NDArray[np.float64]]:
    """The ``wanted`` columns of a text table whose header is on line ``header_line``.

    Parameters
    ----------
    path : str or os.PathLike
    header_line : int
        1-based line number of the header row; data rows follow it.
    header : sequence of str
        The header's fields as spelled (to name columns in messages and find them).
    wanted : sequence of str
        Columns to return (each must be in ``header``).
    delimiter : str

    Returns
    -------
    dict of str to ndarray of float64, shape (n_rows,)
        Empty cells and ``nan`` are NaN.

    Raises
    ------
    InputFileError
        A cell that is not a number (naming line and column), or a file that cannot be read.
    """
    import pyarrow as pa  # noqa: PLC0415 - heavy; only when a vendor file is read
    import pyarrow.csv as pa_csv  # noqa: PLC0415

    file_path = Path(path)
    names = [f"c{i}" for i in range(len(header))]
    keyed = {name: names[list(header).index(name)] for name in wanted}
    try:
        with file_path.open("rb") as fh:
            for _ in range(header_line):
                fh.readline()
            body = fh.read()
        table = pa_csv.read_csv(
            io.BytesIO(body),
            read_options=pa_csv.ReadOptions(column_names=names),
            parse_options=pa_csv.ParseOptions(delimiter=delimiter, ignore_empty_lines=True),
            convert_options=pa_csv.ConvertOptions(
                include_columns=list(keyed.values()),
                column_types={keyed[w]: pa.float64() for w in wanted},
                null_values=["", "nan", "NaN", "NAN", "null", "NULL"],
                strings_can_be_null=True,
            ),
        )
    except OSError as exc:
        raise InputFileError(f"cannot read the file: {exc.strerror or exc}", path=file_path) from None
    except (pa.ArrowInvalid, pa.ArrowTypeError) as exc:
        _locate_bad_cell(file_path, header_line, header, wanted, delimiter)
        raise InputFileError(f"the table cannot be read: {exc}", path=file_path) from None
    out = {w: np.array(table.column(keyed[w]).to_numpy(zero_copy_only=False), dtype=np.float64) for w in wanted}
    inf = [w for w, a in out.items() if np.isinf(a).any()]
    if inf:
        _locate_bad_cell(file_path, header_line, header, wanted, delimiter)
    return out
