"""Files that are either all there or not there: the relay's queue state, the batch command's outputs."""

from __future__ import annotations

import contextlib
import os
import tempfile
from collections.abc import Callable
from pathlib import Path

__all__ = ["fsync_dir", "fsync_file", "replace_atomically", "write_atomic"]


def fsync_dir(folder: Path) -> None:
    """Make a folder's entries (a file created, renamed or removed in it) durable."""
    fd = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def fsync_file(path: Path) -> None:
    """Make a file's content durable."""
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def replace_atomically(path: Path, write: Callable[[Path], object]) -> None:
    """Have ``write`` make the file under a temporary name next to ``path`` (a hidden name of its own), fsync it,
    rename it over ``path`` and fsync the folder: after a crash ``path`` holds the old content or the new, never a
    part. The folder is created when missing; the temporary file is removed when ``write`` fails."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, name = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    os.close(fd)
    tmp = Path(name)
    try:
        write(tmp)
        fsync_file(tmp)
        os.chmod(tmp, 0o644)
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            tmp.unlink()
        raise
    fsync_dir(path.parent)


def write_atomic(path: Path, data: bytes) -> None:
    """Write ``data`` to ``path`` all or nothing (:func:`replace_atomically`)."""
    replace_atomically(path, lambda tmp: tmp.write_bytes(data))
