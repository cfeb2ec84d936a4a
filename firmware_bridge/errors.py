"""Exceptions of the bridge layer (bytes and files → :class:`~gait.recording.Recording`).

Every error raised by ``firmware_bridge`` derives from :class:`BridgeError`, so the layers above can map the
whole family in one place (DESIGN.md §5 rule 6).
"""

from __future__ import annotations

import os
from pathlib import Path

__all__ = ["BridgeError", "InputFileError"]


class BridgeError(Exception):
    """Root of all errors raised by the bridge layer."""


class InputFileError(BridgeError, ValueError):
    """An input file cannot be read, or its content is not what the format promises.

    ``str(error)`` is one line naming where the problem is, then what was expected and what came, for
    example::

        walk_pelvis.csv, line 57, column 'gyr_z_dps': expected a number, got 'abc'

    Parameters
    ----------
    message : str
        What was expected and what came (without the location).
    path : str or os.PathLike, optional
        The file, as the user named it.
    column : str, optional
        The column concerned, as spelled in the file's header.
    row : int, optional
        1-based line number in the file, as a text editor shows it.

    Attributes
    ----------
    message : str
    path : pathlib.Path or None
    column : str or None
    row : int or None
    """

    def __init__(
        self,
        message: str,
        *,
        path: str | os.PathLike[str] | None = None,
        column: str | None = None,
        row: int | None = None,
    ) -> None:
        super().__init__(message)
        self.message = " ".join(str(message).splitlines())  # one line, whatever came in
        self.path = Path(path) if path is not None else None
        self.column = column
        self.row = int(row) if row is not None else None

    def location(self) -> str:
        """The ``file, line N, column 'c'`` prefix (empty when nothing is known)."""
        parts = []
        if self.path is not None:
            parts.append(str(self.path))
        if self.row is not None:
            parts.append(f"line {self.row}")
        if self.column is not None:
            parts.append(f"column {self.column!r}")
        return ", ".join(parts)

    def __str__(self) -> str:
        where = self.location()
        return f"{where}: {self.message}" if where else self.message
