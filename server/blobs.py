"""Content-addressed file store: uploaded bytes kept under their SHA-256, written durably before anyone is told.

A blob is written to a temporary file in the store, fsynced, renamed to ``ab/cdef….blob`` and the folder fsynced,
so after :meth:`BlobStore.put` returns the bytes survive a crash or power loss. Storing the same bytes twice
stores them once. Reads check the checksum, so a damaged file is found rather than analysed.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

from firmware_bridge.atomic import write_atomic
from server.errors import ServiceError

__all__ = ["BlobStore", "CorruptBlob"]


class CorruptBlob(ServiceError):
    """A stored file is missing or no longer matches its checksum."""

    status_code = 500
    code = "corrupt_blob"


class BlobStore:
    """Files under ``root``, named by the SHA-256 of their content.

    Parameters
    ----------
    root : Path
        The store's folder (created when missing).
    """

    def __init__(self, root: Path) -> None:
        self.root = Path(root)
        self.root.mkdir(parents=True, exist_ok=True)

    def path_of(self, sha256: str) -> Path:
        """Where the blob ``sha256`` lives."""
        return self.root / sha256[:2] / f"{sha256[2:]}.blob"

    def put(self, data: bytes) -> str:
        """Store ``data`` durably and return its SHA-256 (hex)."""
        sha256 = hashlib.sha256(data).hexdigest()
        target = self.path_of(sha256)
        if target.exists() and target.stat().st_size == len(data):
            return sha256
        write_atomic(target, data)
        return sha256

    def get(self, sha256: str) -> bytes:
        """The bytes of blob ``sha256``, checked against it.

        Raises
        ------
        CorruptBlob
            When the file is missing or its content does not match the checksum.
        """
        try:
            data = self.path_of(sha256).read_bytes()
        except OSError as exc:
            raise CorruptBlob(f"stored file {sha256[:12]}… cannot be read: {exc.strerror or exc}") from None
        if hashlib.sha256(data).hexdigest() != sha256:
            raise CorruptBlob(f"stored file {sha256[:12]}… does not match its checksum")
        return data
