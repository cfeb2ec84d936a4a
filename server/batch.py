"""Cohort batch analysis (issue 10): many recordings, one Dask task each, results written idempotently.

``fusiongait batch`` (:mod:`server.batch_cmd`) finds the recordings (:func:`discover`: a folder of captures and
per-sensor CSV sets, or a manifest, :func:`read_manifest`), and :func:`run_batch` hands every one that is not
already done to a ``dask.distributed`` cluster (a local one with N worker processes, or an existing one by
address). Each task (:func:`analyze_item`) reads its recording where it lies and runs
:func:`server.analysis.analyze_recording`, the same step as ``fusiongait analyze`` and the service's jobs, so a
batch report is the document the command line writes for the same data and options.

The client alone writes the output folder::

    OUT/reports/<id>.json      the report (``fusiongait.report/1``); <id>.html with --html
    OUT/state/<id>.json        what was done: status (done | failed), the error, the analysis key, input hashes
    OUT/summary.csv            one row per recording (key metrics, flags, status, error), rebuilt every run
    OUT/summary.parquet        the same table (pyarrow)

The home mode (``run_batch(..., daily=True)``, ``fusiongait batch --daily``) runs
:func:`server.analysis.analyze_home_recording` instead, the step of ``fusiongait daily``: still one task per
recording, which analyses it per local calendar day and builds its trends. It writes ``OUT/reports/<id>.daily.json``,
``<id>.trends.json`` (``<id>.home.html`` with ``--html``), ``OUT/state/<id>.daily.json`` and
``OUT/daily_summary.csv`` (and ``.parquet``) with one row per recording-day; the clinic mode's files are left alone.

The analysis key of a recording is a SHA-256 over the content of its input files, the analysis options (heights,
session header), the input names written into the report and the analysis version (the package version and a
digest of the analysis code: ``gait/``, ``hardware/`` without the simulator, ``firmware_bridge/``,
``server/analysis.py``); in the home mode also the mode and the home options (UTC offset, start time, surgery
date, baseline period, minimum wear time). A re-run skips every recording whose state says ``done`` with the same
key, and redoes the failed and the changed ones. File hashes are reused while a file's size and modification time
are those of the last run (``rehash=True`` reads every file again). The state file is written after the report, so
a run stopped half-way leaves nothing that looks done.
"""

from __future__ import annotations

import argparse
import contextlib
import csv
import dataclasses
import datetime as dt
import fcntl
import hashlib
import io
import json
import math
import os
import re
import socket
import sys
import time
from collections import Counter
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Any, Literal

from firmware_bridge.atomic import write_atomic
from firmware_bridge.errors import BridgeError
from gait.errors import GaitError
from gait.recording import KNOWN_PLACEMENTS, PELVIS, Recording
from hardware.capture import MAGIC as CAPTURE_MAGIC
from hardware.errors import HardwareError
from server import __version__
from server.analysis import AnalysisOptions, HomeOptions, analyze_home_recording, analyze_recording
from server.argtypes import HEIGHT_RANGE_M, SENSOR_HEIGHT_RANGE_M, iso_date, start_time, utc_offset_min
from server.errors import ServiceError

__all__ = [
    "DAILY_SUMMARY_COLUMNS",
    "MANIFEST_SCHEMA",
    "STATE_SCHEMA",
    "SUMMARY_COLUMNS",
    "BatchError",
    "BatchItem",
    "BatchResult",
    "ItemOutcome",
    "analysis_key",
    "analysis_version",
    "analyze_item",
    "daily_summary_rows",
    "discover",
    "load_item",
    "read_manifest",
    "run_batch",
    "summary_row",
]

MANIFEST_SCHEMA = "fusiongait.batch-manifest/1"
STATE_SCHEMA = "fusiongait.batch-item/1"
CAPTURE_SUFFIX = ".imucap"
#: ``<stem>_<placement>.csv`` (as ``write_recording_csv`` names them) or ``<placement>.csv`` in a folder of its own.
_CSV_NAME = re.compile(r"^(?:(?P<stem>.+?)[_-])?(?P<placement>" + "|".join(KNOWN_PLACEMENTS) + r")\.csv$", re.I)
_ID_OK = re.compile(r"^[A-Za-z0-9._-]+(?:/[A-Za-z0-9._-]+)*$")

Kind = Literal["capture", "csv", "file", "folder"]


class BatchError(ServiceError):
    """A batch input (folder, manifest, output folder) is wrong; the message says which and why."""

    status_code = 422
    code = "bad_input"


# ----------------------------------------------------------------------------------------- items
@dataclass(frozen=True, kw_only=True, slots=True)
class BatchItem:
    """One recording of a batch: where its data are and what its report header says.

    Attributes
    ----------
    id : str
        Unique in the batch; a relative path of letters, digits, ``._-`` and ``/`` (the report's file name).
    kind : {"capture", "csv", "file", "folder"}
        A capture file, one CSV file per sensor, a vendor-format recording file (APDM HDF5, FusionGait Parquet,
        TSDF), or a session folder of vendor per-sensor files (x-IMU3, Movella DOT, MetaWear); the last two are
        read by ``firmware_bridge.readers.dispatch.open_recording``.
    files : mapping of str to str
        Every file the recording is read from (their content goes into the analysis key): placement → path for CSV
        sets, ``{"": path}`` for one file, file name → path for a folder.
    names : mapping of str to str
        The same files as written into the report (relative to the input folder or the manifest).
    patient, session_date, session_label : str, optional
        The report header.
    height_m, sensor_height_m : float, optional
        For step length (at most one).
    utc_offset_min : int, optional
        Home mode (``--daily``): the patient's local time minus UTC in minutes (None: 0, UTC).
    start_time : datetime, optional
        Home mode: wall-clock time of the first sample, for a recording whose times count from zero (naive: the
        patient's local time).
    surgery_date, baseline_from, baseline_to : date, optional
        Home mode: what chooses the baseline of the trends (CLINICAL.md §5 rule 4).
    min_wear_h : float, optional
        Home mode: the wear time a day needs to count (None: the rules file's).
    source : str
        The file or folder a reader opens (captures, vendor files and folders).
    """

    id: str
    kind: Kind
    files: Mapping[str, str]
    names: Mapping[str, str]
    patient: str | None = None
    session_date: str | None = None
    session_label: str | None = None
    height_m: float | None = None
    sensor_height_m: float | None = None
    utc_offset_min: int | None = None
    start_time: dt.datetime | None = None
    surgery_date: dt.date | None = None
    baseline_from: dt.date | None = None
    baseline_to: dt.date | None = None
    min_wear_h: float | None = None
    source: str = ""

    def options(self) -> AnalysisOptions:
        """The analysis options of this recording."""
        return AnalysisOptions(
            height_m=self.height_m,
            sensor_height_m=self.sensor_height_m,
            session={"patient": self.patient, "date": self.session_date, "label": self.session_label},
        )

    def home_options(self) -> HomeOptions:
        """The options of the day-by-day analysis of this recording (``--daily``)."""
        period = None
        if self.baseline_from is not None and self.baseline_to is not None:
            period = (self.baseline_from, self.baseline_to)
        return HomeOptions(
            height_m=self.height_m,
            sensor_height_m=self.sensor_height_m,
            utc_offset_min=self.utc_offset_min or 0,
            min_wear_h=self.min_wear_h,
            start_time=self.start_time,
            surgery_date=self.surgery_date,
            baseline_period=period,
            patient=self.patient or "",
            start_time_name="start_time",
            start_time_hint="give its start_time in a manifest (e.g. 2026-03-02T08:00, docs/batch.md)",
            plateau_hint="give the post-op plateau as baseline_from/baseline_to in the manifest",
        )

    def with_defaults(
        self,
        *,
        height_m: float | None,
        sensor_height_m: float | None,
        utc_offset_min: int | None = None,
        min_wear_h: float | None = None,
    ) -> BatchItem:
        """This item with the batch-wide height, UTC offset and minimum wear time applied where it has none."""
        item = self
        if item.height_m is None and item.sensor_height_m is None:
            item = dataclasses.replace(item, height_m=height_m, sensor_height_m=sensor_height_m)
        if item.utc_offset_min is None and utc_offset_min is not None:
            item = dataclasses.replace(item, utc_offset_min=utc_offset_min)
        if item.min_wear_h is None and min_wear_h is not None:
            item = dataclasses.replace(item, min_wear_h=min_wear_h)
        return item


def _is_capture(path: Path) -> bool:
    if path.suffix.lower() == CAPTURE_SUFFIX:
        return True
    try:
        with path.open("rb") as fh:
            return fh.read(len(CAPTURE_MAGIC)) == CAPTURE_MAGIC
    except OSError:
        return False


def _vendor_dispatcher() -> tuple[Callable[..., Any], Callable[[Path], str | None]] | None:
    """``(open_recording, detect_format)`` of ``firmware_bridge.readers.dispatch`` (the vendor-format readers), or
    None in an installation without them."""
    try:
        from firmware_bridge.readers import dispatch  # noqa: PLC0415 - looked up when used
    except ImportError:  # pragma: no cover - an older firmware_bridge
        return None
    return dispatch.open_recording, dispatch.detect_format


def _unique_ids(items: list[BatchItem]) -> list[BatchItem]:
    """Folder discovery: a capture and a CSV set with the same stem get ``~2``, ``~3`` after the second id."""
    seen: dict[str, int] = {}
    out = []
    for item in items:
        n = seen.get(item.id, 0) + 1
        seen[item.id] = n
        out.append(item if n == 1 else dataclasses.replace(item, id=f"{item.id}~{n}"))
    return out


def _safe_id(text: str) -> str:
    parts = [re.sub(r"[^A-Za-z0-9._-]+", "_", p).strip("._") or "_" for p in text.split("/")]
    return "/".join(parts)


def discover(root: Path, *, exclude: Sequence[Path] = ()) -> tuple[list[BatchItem], list[Path]]:
    """The recordings in a folder (recursively; hidden files and folders are left out).

    * a capture: a ``.imucap`` file, or any file that starts with the capture magic;
    * a CSV set: ``<stem>_<placement>.csv`` files of one folder with the same stem (placements ``pelvis``,
      ``left_thigh``, ``right_thigh``), or ``pelvis.csv`` … in a folder of its own (its id is the folder);
    * any other file, when the vendor-format dispatcher (``firmware_bridge.readers.open_recording``) is installed:
      it decides whether the file is a recording (an error in the summary when it is not).

    Returns
    -------
    items : list of BatchItem
        Sorted by id; ids are paths relative to ``root`` without the suffix.
    ignored : list of Path
        Files that are none of these (other CSV files; any file when there is no vendor dispatcher).
    """
    root = root.resolve()
    excluded = [p.resolve() for p in exclude]
    vendor = _vendor_dispatcher()
    detect = vendor[1] if vendor is not None else None
    items: list[BatchItem] = []
    ignored: list[Path] = []
    csv_sets: dict[tuple[Path, str], dict[str, Path]] = {}
    for folder, dirs, files in os.walk(root):
        here = Path(folder)
        dirs[:] = sorted(d for d in dirs if not d.startswith(".") and (here / d).resolve() not in excluded)
        per_sensor: list[Path] = []
        for name in sorted(files):
            path = here / name
            if name.startswith(".") or not path.is_file():
                continue
            rel = path.relative_to(root)
            match = _CSV_NAME.match(name)
            fmt = _format_of(path, detect)
            if match is not None and fmt in ("csv", None):
                stem = match["stem"] or (here.name if here != root else "recording")
                csv_sets.setdefault((here, stem), {})[match["placement"].lower()] = path
            elif fmt == "capture" or path.suffix.lower() == CAPTURE_SUFFIX:
                items.append(_file_item(rel.with_suffix("").as_posix(), "capture", path, rel.as_posix()))
            elif fmt in _WHOLE_RECORDING_FORMATS:
                items.append(_file_item(rel.with_suffix("").as_posix(), "file", path, rel.as_posix()))
            elif fmt is not None and fmt != "csv" and here != root:
                per_sensor.append(path)  # vendor per-sensor files: their folder is one session
            else:
                ignored.append(path)
        if per_sensor:
            rel_folder = here.relative_to(root).as_posix()
            items.append(
                BatchItem(
                    id=_safe_id(rel_folder),
                    kind="folder",
                    files={p.relative_to(here).as_posix(): str(p) for p in per_sensor},
                    names={"": rel_folder},
                    source=str(here),
                )
            )
    for (set_folder, stem), by_placement in csv_sets.items():
        set_rel = set_folder.relative_to(root)
        own_folder = all(p.name.lower() == f"{pl}.csv" for pl, p in by_placement.items())
        item_id = set_rel.as_posix() if own_folder and set_folder != root else (set_rel / stem).as_posix()
        ordered = {p: by_placement[p] for p in KNOWN_PLACEMENTS if p in by_placement}
        items.append(
            BatchItem(
                id=_safe_id(item_id),
                kind="csv",
                files={p: str(path) for p, path in ordered.items()},
                names={p: path.relative_to(root).as_posix() for p, path in ordered.items()},
            )
        )
    items.sort(key=lambda i: (i.id, i.kind))
    return _unique_ids(items), ignored


_WHOLE_RECORDING_FORMATS = ("apdm-h5", "parquet", "tsdf")


def _format_of(path: Path, detect: Callable[[Path], str | None] | None) -> str | None:
    """The dispatcher's format of a file by its content (None: not a recording, or no dispatcher)."""
    if detect is None:
        return "capture" if _is_capture(path) else None
    try:
        return detect(path)
    except (BridgeError, OSError):
        return None


def _file_item(item_id: str, kind: Kind, path: Path, name: str) -> BatchItem:
    full = str(path.resolve())
    return BatchItem(id=_safe_id(item_id), kind=kind, files={"": full}, names={"": name}, source=full)


# ----------------------------------------------------------------------------------------- manifest
_MANIFEST_FIELDS = (
    "id",
    "path",
    *KNOWN_PLACEMENTS,
    "patient",
    "session_date",
    "session_label",
    "height_m",
    "sensor_height_m",
    "utc_offset_min",
    "start_time",
    "surgery_date",
    "baseline_from",
    "baseline_to",
)


def read_manifest(path: Path) -> list[BatchItem]:
    """The recordings listed in a manifest (CSV or JSON; docs/batch.md has the format).

    Every entry has either ``path`` (a capture, or a vendor file) or one CSV file per sensor (``pelvis``, and
    optionally ``left_thigh``, ``right_thigh``); relative paths are relative to the manifest's folder. Optional:
    ``id`` (default: the path without its suffix), ``patient``, ``session_date`` (YYYY-MM-DD), ``session_label``,
    ``height_m`` or ``sensor_height_m``; for the home mode (``--daily``) ``utc_offset_min`` (whole quarter hours),
    ``start_time`` (ISO-8601), ``surgery_date``, ``baseline_from`` and ``baseline_to`` (YYYY-MM-DD, both or neither).

    Raises
    ------
    BatchError
        Naming the manifest, the entry (line or index) and the field that is wrong.
    """
    try:
        text = path.read_text(encoding="utf-8-sig")
    except (OSError, UnicodeDecodeError) as exc:
        raise BatchError(f"cannot read the manifest {path}: {exc}") from None
    entries: list[tuple[str, Mapping[str, Any]]]
    if path.suffix.lower() == ".json":
        try:
            document = json.loads(text)
        except json.JSONDecodeError as exc:
            raise BatchError(f"{path}: not JSON ({exc.msg}, line {exc.lineno})") from None
        if isinstance(document, dict):
            if document.get("schema", MANIFEST_SCHEMA) != MANIFEST_SCHEMA:
                raise BatchError(f"{path}: expected schema {MANIFEST_SCHEMA!r}, got {document.get('schema')!r}")
            document = document.get("recordings")
        if not isinstance(document, list):
            raise BatchError(f"{path}: expected a list of recordings (or {{'recordings': [...]}})")
        entries = []
        for i, entry in enumerate(document):
            if not isinstance(entry, dict):
                raise BatchError(f"{path}: recording {i}: expected an object, got {type(entry).__name__}")
            entries.append((f"recording {i}", entry))
    else:
        reader = csv.DictReader(io.StringIO(text))
        unknown = [c for c in reader.fieldnames or () if c and c.strip() not in _MANIFEST_FIELDS]
        if unknown:
            raise BatchError(f"{path}: unknown column(s) {', '.join(unknown)}; expected {', '.join(_MANIFEST_FIELDS)}")
        entries = [
            (f"line {reader.line_num}", {k.strip(): v for k, v in row.items() if k})
            for row in reader
            if any((v or "").strip() for v in row.values() if isinstance(v, str))
        ]
    base = path.resolve().parent
    items = [_manifest_item(path, where, entry, base) for where, entry in entries]
    if not items:
        raise BatchError(f"{path}: the manifest lists no recording")
    seen: dict[str, str] = {}
    for (where, _), item in zip(entries, items, strict=True):
        if item.id in seen:
            raise BatchError(f"{path}: {where}: id {item.id!r} is already used by {seen[item.id]}")
        seen[item.id] = where
    return items


def _text(entry: Mapping[str, Any], key: str) -> str | None:
    value = entry.get(key)
    if value is None:
        return None
    value = str(value).strip()
    return value or None


def _default_id(path: Path) -> str:
    """A manifest entry's id when it has none: its relative path without suffix, or a file name when absolute."""
    if path.is_absolute() or ".." in path.parts:
        return path.name
    return path.as_posix().removeprefix("./")


def _manifest_item(manifest: Path, where: str, entry: Mapping[str, Any], base: Path) -> BatchItem:
    def fail(message: str) -> BatchError:
        return BatchError(f"{manifest}: {where}: {message}")

    unknown = sorted(set(entry) - set(_MANIFEST_FIELDS) - {"sensors"})
    if unknown:
        raise fail(f"unknown field(s) {', '.join(unknown)}")
    sensors = dict(entry.get("sensors") or {})
    for placement in KNOWN_PLACEMENTS:
        if _text(entry, placement):
            sensors[placement] = entry[placement]
    bad = sorted(set(sensors) - set(KNOWN_PLACEMENTS))
    if bad:
        raise fail(f"unknown placement(s) {', '.join(bad)}; expected {', '.join(KNOWN_PLACEMENTS)}")
    single = _text(entry, "path")
    if bool(single) == bool(sensors):
        raise fail("give either path (a capture) or one CSV file per sensor (pelvis, left_thigh, right_thigh)")
    if sensors and PELVIS not in sensors:
        raise fail("the pelvis CSV file is required")

    def resolve(text: Any) -> tuple[str, str]:
        raw = str(text).strip()
        p = Path(raw).expanduser()
        return str(p if p.is_absolute() else (base / p).resolve()), raw

    source = ""
    if single:
        full, raw = resolve(single)
        names, source = {"": raw}, full
        kind: Kind
        if Path(full).is_dir():  # a session folder of per-sensor vendor files
            folder = Path(full)
            kind = "folder"
            files = {
                f.relative_to(folder).as_posix(): str(f)
                for f in sorted(folder.rglob("*"))
                if f.is_file() and not any(part.startswith(".") for part in f.relative_to(folder).parts)
            }
        else:
            kind = "capture" if _is_capture(Path(full)) or _vendor_dispatcher() is None else "file"
            files = {"": full}
        default_id = _default_id(Path(raw).with_suffix(""))
    else:
        resolved = {p: resolve(sensors[p]) for p in KNOWN_PLACEMENTS if p in sensors}
        files = {p: full for p, (full, _) in resolved.items()}
        names = {p: raw for p, (_, raw) in resolved.items()}
        kind = "csv"
        pelvis = Path(names[PELVIS]).with_suffix("")
        default_id = _default_id(pelvis.parent / (re.sub(r"[_-]?pelvis$", "", pelvis.name, flags=re.I) or "recording"))
    item_id = _text(entry, "id") or _safe_id(default_id)
    if not _ID_OK.match(item_id) or any(part in ("..", ".") for part in item_id.split("/")):
        raise fail(f"id {item_id!r}: expected letters, digits, '.', '_', '-' and '/' only")
    date = _text(entry, "session_date")
    if date is not None:
        try:
            date = dt.date.fromisoformat(date).isoformat()
        except ValueError:
            raise fail(f"session_date: expected YYYY-MM-DD, got {date!r}") from None
    heights: dict[str, float | None] = {}
    for key, (low, high) in (("height_m", HEIGHT_RANGE_M), ("sensor_height_m", SENSOR_HEIGHT_RANGE_M)):
        raw_h = _text(entry, key)
        if raw_h is None:
            heights[key] = None
            continue
        try:
            value = float(raw_h)
        except ValueError:
            raise fail(f"{key}: expected a number of metres, got {raw_h!r}") from None
        if not low <= value <= high:
            raise fail(f"{key}: expected {low:g} to {high:g} m, got {raw_h}")
        heights[key] = value
    if heights["height_m"] is not None and heights["sensor_height_m"] is not None:
        raise fail("give height_m or sensor_height_m, not both")
    home: dict[str, Any] = {}
    for key, parse in (
        ("utc_offset_min", utc_offset_min),
        ("start_time", start_time),
        ("surgery_date", iso_date),
        ("baseline_from", iso_date),
        ("baseline_to", iso_date),
    ):
        home_text = _text(entry, key)
        try:
            home[key] = None if home_text is None else parse(home_text)
        except argparse.ArgumentTypeError as exc:
            raise fail(f"{key}: {exc}") from None
    if (home["baseline_from"] is None) != (home["baseline_to"] is None):
        raise fail("baseline_from and baseline_to: give both, or neither")
    if home["baseline_from"] is not None and home["baseline_to"] < home["baseline_from"]:
        raise fail(f"baseline_to: {home['baseline_to']} is before baseline_from {home['baseline_from']}")
    return BatchItem(
        id=item_id,
        kind=kind,
        files=files,
        names=names,
        patient=_text(entry, "patient"),
        session_date=date,
        session_label=_text(entry, "session_label"),
        height_m=heights["height_m"],
        sensor_height_m=heights["sensor_height_m"],
        source=source,
        **home,
    )


# ----------------------------------------------------------------------------------------- versions and keys
#: What the analysis of a recording depends on, beside its data and options (relative to the repository root).
_ANALYSIS_CODE = ("gait", "hardware", "firmware_bridge", "server/analysis.py")
_NOT_ANALYSIS_CODE = ("hardware/simulator", "hardware/firmware")


@cache
def analysis_version() -> str:
    """``<package version>+<12 hex digits>``: the digest covers the analysis code and its rules files.

    Computed once per process (a Dask worker checks it against the client's before it analyses anything).
    """
    root = Path(__file__).resolve().parents[1]
    digest = hashlib.sha256()
    for entry in _ANALYSIS_CODE:
        base = root / entry
        paths = [base] if base.is_file() else sorted(base.rglob("*"))
        for path in paths:
            rel = path.relative_to(root).as_posix()
            if not path.is_file() or path.suffix not in (".py", ".toml", ".json"):
                continue
            if rel.startswith(_NOT_ANALYSIS_CODE) or "__pycache__" in rel:
                continue
            digest.update(rel.encode() + b"\0" + path.read_bytes() + b"\0")
    return f"{__version__}+{digest.hexdigest()[:12]}"


def _file_sha256(path: Path) -> str:
    with path.open("rb") as fh:
        return hashlib.file_digest(fh, "sha256").hexdigest()


def _input_hashes(item: BatchItem, previous: Mapping[str, Any] | None, *, rehash: bool) -> list[dict[str, Any]]:
    """``[{placement, path, size, mtime_ns, sha256}]``; a hash is reused while size and mtime are unchanged."""
    known = {}
    if previous is not None and not rehash:
        known = {(e["placement"], e["path"]): e for e in previous.get("inputs", []) if isinstance(e, dict)}
    out = []
    for placement, file in item.files.items():
        path = Path(file)
        st = path.stat()
        prev = known.get((placement, file))
        if prev is not None and prev.get("size") == st.st_size and prev.get("mtime_ns") == st.st_mtime_ns:
            sha = str(prev["sha256"])
        else:
            sha = _file_sha256(path)
        out.append(
            {"placement": placement, "path": file, "size": st.st_size, "mtime_ns": st.st_mtime_ns, "sha256": sha}
        )
    return out


def _home_key_options(item: BatchItem) -> dict[str, Any]:
    """The home-mode options as they go into the key and the state (effective values: no offset is UTC)."""
    return {
        "utc_offset_min": item.utc_offset_min or 0,
        "start_time": None if item.start_time is None else item.start_time.isoformat(),
        "surgery_date": None if item.surgery_date is None else item.surgery_date.isoformat(),
        "baseline_from": None if item.baseline_from is None else item.baseline_from.isoformat(),
        "baseline_to": None if item.baseline_to is None else item.baseline_to.isoformat(),
        "min_wear_h": item.min_wear_h,
    }


def analysis_key(
    item: BatchItem, input_hashes: Sequence[Mapping[str, Any]], version: str, *, daily: bool = False
) -> str:
    """SHA-256 of what the outputs depend on: input contents, names, options, the mode and the analysis version.

    ``daily=True`` (the home mode) adds the mode and the home options (UTC offset, start time, surgery date,
    baseline period, minimum wear time), so a re-run in the other mode or with other options is not a skip.
    """
    document: dict[str, Any] = {
        "kind": item.kind,
        "inputs": [[e["placement"], e["sha256"]] for e in input_hashes],
        "names": dict(item.names),
        "options": {
            "height_m": item.height_m,
            "sensor_height_m": item.sensor_height_m,
            "session": [item.patient, item.session_date, item.session_label],
        },
        "version": version,
    }
    if daily:
        document["mode"] = "daily"
        document["home"] = _home_key_options(item)
    return hashlib.sha256(json.dumps(document, sort_keys=True).encode()).hexdigest()


# ----------------------------------------------------------------------------------------- the task
@dataclass(frozen=True, slots=True)
class ItemOutcome:
    """What a task sends back: the report (or the reason there is none), with the time it took and where.

    In the home mode (``--daily``) ``report`` is the daily document (``fusiongait.daily/1``), ``trends`` the trends
    (``fusiongait.home_trends/1``) and ``html`` the home report.
    """

    id: str
    status: Literal["done", "failed"]
    report: dict[str, Any] | None
    warnings: list[str]
    error: str
    elapsed_s: float
    worker: str
    html: str | None = None
    trends: dict[str, Any] | None = None


def load_item(item: BatchItem) -> tuple[Recording, list[str]]:
    """Read the recording of ``item`` with the readers of ``fusiongait analyze``.

    Raises
    ------
    BridgeError, HardwareError
        When a file cannot be read; BatchError when a capture has no pelvis sensor.
    """
    from firmware_bridge.readers.capture_format import read_capture  # noqa: PLC0415 - in the worker
    from firmware_bridge.readers.csv_format import read_recording  # noqa: PLC0415

    if item.kind == "csv":
        return read_recording(dict(item.files))
    if item.kind == "capture":
        recording, warnings = read_capture(item.source)
    else:
        vendor = _vendor_dispatcher()
        if vendor is None:
            raise BatchError(f"{item.names['']}: no reader for this format in this installation")
        recording, warnings = vendor[0](item.source)
    if PELVIS not in recording.placements:
        raise BatchError(f"{item.names['']}: no pelvis sensor (it has {', '.join(recording.placements)})")
    return recording, list(warnings)


def _one_line(text: object) -> str:
    return " ".join(str(text).splitlines()).strip()


def analyze_item(
    item: BatchItem, expected_version: str | None = None, html: bool = False, daily: bool = False
) -> ItemOutcome:
    """Analyse one recording (the Dask task). Never raises for bad data: the reason comes back as ``error``.

    Parameters
    ----------
    item : BatchItem
    expected_version : str, optional
        The client's :func:`analysis_version`; a worker running other code refuses the task (a cluster whose
        workers have another FusionGait would otherwise write reports under a key they do not match).
    html : bool
        Also render the HTML report (the home report with ``daily``).
    daily : bool
        The home mode: :func:`server.analysis.analyze_home_recording` (per local calendar day, with the trends)
        instead of the clinic analysis.
    """
    t0 = time.perf_counter()
    worker = f"{socket.gethostname()}:{os.getpid()}"
    report = html_text = trends = None
    warnings: list[str] = []
    try:
        if expected_version is not None and analysis_version() != expected_version:
            raise BatchError(
                f"this worker runs FusionGait analysis {analysis_version()}, the client {expected_version}: install "
                "the same version on every worker"
            )
        recording, reader_warnings = load_item(item)
        if daily:
            home = analyze_home_recording(recording, options=item.home_options())
            report, trends = home.daily, home.trends
            warnings = list(dict.fromkeys([*reader_warnings, *home.warnings]))
            if html:
                from server.home_report import render_home_html  # noqa: PLC0415 - only with --html

                html_text = render_home_html(trends)
        else:
            outcome = analyze_recording(
                recording, options=item.options(), reader_warnings=reader_warnings, inputs=dict(item.names)
            )
            report, warnings = outcome.report, outcome.warnings
            if html:
                from server.report_html import render_html  # noqa: PLC0415 - only with --html

                html_text = render_html(report)
    except (BridgeError, HardwareError, GaitError, ServiceError, OSError) as exc:
        status, error = "failed", _one_line(exc)
    except Exception as exc:  # a bug in one recording's analysis must not stop the cohort
        status, error = "failed", f"internal error: {type(exc).__name__}: {_one_line(exc)}"
    else:
        status, error = "done", ""
    return ItemOutcome(
        id=item.id,
        status=status,  # type: ignore[arg-type]
        report=report,
        warnings=warnings,
        error=error,
        elapsed_s=round(time.perf_counter() - t0, 3),
        worker=worker,
        html=html_text,
        trends=trends,
    )


# ----------------------------------------------------------------------------------------- output folder
def _json_bytes(document: Any) -> bytes:
    return (json.dumps(document, indent=2, allow_nan=False) + "\n").encode()


def _read_json(path: Path) -> Any:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None


@contextlib.contextmanager
def _locked(out: Path) -> Iterator[None]:
    """One batch at a time per output folder (an advisory lock on ``OUT/.lock``)."""
    out.mkdir(parents=True, exist_ok=True)
    with (out / ".lock").open("a+") as fh:
        try:
            fcntl.flock(fh, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise BatchError(f"{out}: another fusiongait batch is writing to this folder") from None
        try:
            yield
        finally:
            fcntl.flock(fh, fcntl.LOCK_UN)


# ----------------------------------------------------------------------------------------- summary
def _value(x: Any) -> float | None:
    if isinstance(x, dict):
        x = x.get("value")
    if isinstance(x, bool) or not isinstance(x, int | float) or not math.isfinite(x):
        return None
    return float(x)


def _get(doc: Any, *path: str) -> Any:
    for key in path:
        if not isinstance(doc, dict):
            return None
        doc = doc.get(key)
    return doc


#: Summary columns: (name, type, where in the report). Types: str, float, int, bool.
_METRICS: tuple[tuple[str, str, tuple[str, ...]], ...] = (
    ("duration_s", "float", ("recording", "duration_s")),
    ("cadence_spm", "float", ("spatiotemporal", "cadence_spm")),
    ("walking_speed_mps", "float", ("spatiotemporal", "walking_speed_mps")),
    ("stride_length_m", "float", ("spatiotemporal", "stride_length_m")),
    ("step_length_m", "float", ("spatiotemporal", "step_length_m")),
    ("stride_time_s", "float", ("spatiotemporal", "stride_time_s")),
    ("stride_time_cv_pct", "float", ("spatiotemporal", "stride_time_cv_pct")),
    ("step_time_asymmetry", "float", ("spatiotemporal", "step_time_asymmetry")),
    ("double_support_pct", "float", ("spatiotemporal", "double_support_pct")),
    ("stance_pct_left", "float", ("spatiotemporal", "stance_pct", "left")),
    ("stance_pct_right", "float", ("spatiotemporal", "stance_pct", "right")),
    ("pelvis_tilt_rom_deg", "float", ("kinematics", "pelvis", "tilt_rom_deg")),
    ("pelvis_obliquity_rom_deg", "float", ("kinematics", "pelvis", "obliquity_rom_deg")),
    ("pelvis_rotation_rom_deg", "float", ("kinematics", "pelvis", "rotation_rom_deg")),
    ("pelvis_mean_tilt_deg", "float", ("kinematics", "pelvis", "mean_tilt_deg")),
    ("hip_left_peak_extension_deg", "float", ("kinematics", "hip", "left", "peak_extension_deg")),
    ("hip_right_peak_extension_deg", "float", ("kinematics", "hip", "right", "peak_extension_deg")),
    ("hip_left_sagittal_rom_deg", "float", ("kinematics", "hip", "left", "sagittal_rom_deg")),
    ("hip_right_sagittal_rom_deg", "float", ("kinematics", "hip", "right", "sagittal_rom_deg")),
    ("alignment_confidence", "float", ("quality", "alignment", "confidence")),
)

#: The last columns of both summaries: the flags, and how and where the row's analysis ran.
_FLAG_AND_RUN_COLUMNS: tuple[tuple[str, str], ...] = (
    ("flags", "str"),
    ("flags_insufficient_data", "str"),
    ("n_warnings", "int"),
    ("norms_version", "str"),
    ("analysis_version", "str"),
    ("analysis_key", "str"),
    ("elapsed_s", "float"),
    ("worker", "str"),
)

SUMMARY_COLUMNS: tuple[tuple[str, str], ...] = (
    ("id", "str"),
    ("status", "str"),
    ("error", "str"),
    ("analysed_this_run", "bool"),
    ("patient", "str"),
    ("session_date", "str"),
    ("session_label", "str"),
    ("kind", "str"),
    ("inputs", "str"),
    ("report", "str"),
    *((name, kind) for name, kind, _ in _METRICS),
    ("strides_used", "int"),
    *_FLAG_AND_RUN_COLUMNS,
)


def summary_row(
    item: BatchItem, state: Mapping[str, Any], report: Mapping[str, Any] | None, *, ran: bool, report_path: str
) -> dict[str, Any]:
    """One row of the summary table: the item, its status and error, and the key metrics of its report.

    ``flags`` lists the flagged patterns as ``F2:left;F5`` (id, and side when the flag has one); metrics a report
    does not have (no thigh sensors, no standing calibration) are empty.
    """
    row: dict[str, Any] = {name: None for name, _ in SUMMARY_COLUMNS}
    row.update(
        id=item.id,
        status=state.get("status", "failed"),
        error=state.get("error") or "",
        analysed_this_run=ran,
        patient=item.patient,
        session_date=item.session_date,
        session_label=item.session_label,
        kind=item.kind,
        inputs=";".join(f"{p}={n}" if p else n for p, n in item.names.items()),
        analysis_version=state.get("analysis_version"),
        analysis_key=state.get("analysis_key"),
        elapsed_s=state.get("elapsed_s"),
        worker=state.get("worker"),
    )
    if report is None:
        return row
    row["report"] = report_path
    for name, _kind, where in _METRICS:
        row[name] = _value(_get(report, *where))
    strides = _get(report, "quality", "strides_used")
    row["strides_used"] = int(strides) if isinstance(strides, int) else None
    flags = [f for f in report.get("flags", []) if isinstance(f, dict)]
    row["flags"] = ";".join(
        f"{f['id']}:{f['side']}" if f.get("side") else str(f["id"]) for f in flags if f.get("flagged")
    )
    row["flags_insufficient_data"] = ";".join(str(f["id"]) for f in flags if f.get("status") == "insufficient data")
    row["n_warnings"] = len(report.get("warnings", []))
    row["norms_version"] = report.get("norms_version")
    return row


#: Day columns of the home-mode summary: (name, type, key of the daily document's day entry, factor to the unit).
_DAY_METRICS: tuple[tuple[str, str, str, float], ...] = (
    ("recorded_h", "float", "recorded_s", 1 / 3600),
    ("wear_h", "float", "wear_s", 1 / 3600),
    ("non_wear_h", "float", "non_wear_s", 1 / 3600),
    ("steps", "int", "steps", 1.0),
    ("walking_min", "float", "walking_s", 1 / 60),
    ("n_wb", "int", "n_wb", 1.0),
    ("wb_duration_median_s", "float", "wb_duration_median_s", 1.0),
    ("wb_duration_p90_s", "float", "wb_duration_p90_s", 1.0),
    ("cadence_spm", "float", "cadence_spm", 1.0),
    ("walking_speed_median_mps", "float", "walking_speed_median_mps", 1.0),
    ("walking_speed_p90_mps", "float", "walking_speed_p90_mps", 1.0),
    ("walking_speed_10_30_mps", "float", "walking_speed_10_30_mps", 1.0),
    ("walking_speed_30_mps", "float", "walking_speed_30_mps", 1.0),
    ("stride_length_10_30_m", "float", "stride_length_10_30_m", 1.0),
    ("stride_length_30_m", "float", "stride_length_30_m", 1.0),
    ("stride_time_s", "float", "stride_time_s", 1.0),
    ("stride_time_cv_pct", "float", "stride_time_cv_pct", 1.0),
    ("stride_time_cv_in_bout_pct", "float", "stride_time_cv_in_bout_pct", 1.0),
)

DAILY_SUMMARY_COLUMNS: tuple[tuple[str, str], ...] = (
    ("id", "str"),
    ("status", "str"),
    ("error", "str"),
    ("analysed_this_run", "bool"),
    ("patient", "str"),
    ("kind", "str"),
    ("inputs", "str"),
    ("daily_report", "str"),
    ("trends_report", "str"),
    ("utc_offset_min", "int"),
    ("date", "str"),
    ("sufficient", "bool"),
    ("reasons", "str"),
    *((name, kind) for name, kind, _, _ in _DAY_METRICS),
    ("kinematics_n_bouts", "int"),
    ("kinematics_sufficient", "bool"),
    ("baseline_from", "str"),
    ("baseline_to", "str"),
    *_FLAG_AND_RUN_COLUMNS,
)


def daily_summary_rows(
    item: BatchItem,
    state: Mapping[str, Any],
    daily: Mapping[str, Any] | None,
    trends: Mapping[str, Any] | None,
    *,
    ran: bool,
    report_paths: tuple[str, str],
) -> list[dict[str, Any]]:
    """The home-mode summary rows of one recording: one per calendar day of its daily document.

    A recording that failed (or whose documents are missing) is one row with its status and error and no date.
    Day values are the daily document's, in the unit the column names (hours, minutes); ``flags`` lists the home
    arm's flagged patterns of the recording's trends (the same on each of its rows).
    """
    base: dict[str, Any] = {name: None for name, _ in DAILY_SUMMARY_COLUMNS}
    base.update(
        id=item.id,
        status=state.get("status", "failed"),
        error=state.get("error") or "",
        analysed_this_run=ran,
        patient=item.patient,
        kind=item.kind,
        inputs=";".join(f"{p}={n}" if p else n for p, n in item.names.items()),
        utc_offset_min=item.utc_offset_min or 0,
        analysis_version=state.get("analysis_version"),
        analysis_key=state.get("analysis_key"),
        elapsed_s=state.get("elapsed_s"),
        worker=state.get("worker"),
    )
    days = [d for d in (daily or {}).get("days", []) if isinstance(d, dict)]
    if daily is None or trends is None or not days:
        return [base]
    flags = [f for f in trends.get("flags", []) if isinstance(f, dict)]
    base.update(
        daily_report=report_paths[0],
        trends_report=report_paths[1],
        baseline_from=_get(trends, "baseline", "from"),
        baseline_to=_get(trends, "baseline", "to"),
        flags=";".join(str(f["id"]) for f in flags if f.get("status") == "flagged"),
        flags_insufficient_data=";".join(str(f["id"]) for f in flags if f.get("status") == "insufficient data"),
        n_warnings=len(daily.get("warnings", [])),
        norms_version=daily.get("norms_version"),
    )
    rows = []
    for day in days:
        row = dict(base)
        row.update(
            date=day.get("date"),
            sufficient=bool(day.get("sufficient")),
            reasons="; ".join(str(r) for r in day.get("reasons") or []),
        )
        for name, kind, key, factor in _DAY_METRICS:
            value = _value(day.get(key))
            if value is not None and kind == "int":
                row[name] = int(value)
            elif value is not None:
                row[name] = value if factor == 1.0 else round(value * factor, 4)
        kinematics = day.get("kinematics") or {}
        row["kinematics_n_bouts"] = kinematics.get("n_bouts")
        row["kinematics_sufficient"] = kinematics.get("sufficient")
        rows.append(row)
    return rows


def _csv_bytes(rows: Sequence[Mapping[str, Any]], columns: Sequence[tuple[str, str]] = SUMMARY_COLUMNS) -> bytes:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow([name for name, _ in columns])
    for row in rows:
        writer.writerow(["" if row[name] is None else row[name] for name, _ in columns])
    return buffer.getvalue().encode()


def _write_parquet(
    path: Path, rows: Sequence[Mapping[str, Any]], columns: Sequence[tuple[str, str]] = SUMMARY_COLUMNS
) -> bool:
    try:
        import pyarrow as pa  # noqa: PLC0415 - optional at run time
        import pyarrow.parquet as pq  # noqa: PLC0415
    except ImportError:
        return False
    types = {"str": pa.string(), "float": pa.float64(), "int": pa.int64(), "bool": pa.bool_()}
    schema = pa.schema([(name, types[kind]) for name, kind in columns])
    table = pa.Table.from_pylist([dict(r) for r in rows], schema=schema)
    sink = pa.BufferOutputStream()
    pq.write_table(table, sink)
    write_atomic(path, sink.getvalue().to_pybytes())
    return True


# ----------------------------------------------------------------------------------------- the run
@dataclass
class BatchResult:
    """What a run did. ``rows`` is the summary table (also in ``OUT/summary.csv`` and ``.parquet``; in the home mode
    ``OUT/daily_summary.csv`` and ``.parquet``, one row per recording-day)."""

    total: int
    analysed: int
    skipped: int
    failed: int
    rows: list[dict[str, Any]]
    summary_csv: Path
    summary_parquet: Path | None
    elapsed_s: float
    failures: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class _Paths:
    """Where one recording's outputs go: the report (the daily document in the home mode), the trends (home mode
    only), the HTML and the state. The two modes keep apart files, so neither overwrites the other's."""

    report: Path
    trends: Path | None
    html: Path
    state: Path

    def outputs(self) -> list[Path]:
        return [p for p in (self.report, self.trends, self.html) if p is not None]


def _paths(out: Path, item_id: str, *, daily: bool = False) -> _Paths:
    reports = out / "reports"
    if daily:
        return _Paths(
            report=reports / f"{item_id}.daily.json",
            trends=reports / f"{item_id}.trends.json",
            html=reports / f"{item_id}.home.html",
            state=out / "state" / f"{item_id}.daily.json",
        )
    return _Paths(
        report=reports / f"{item_id}.json",
        trends=None,
        html=reports / f"{item_id}.html",
        state=out / "state" / f"{item_id}.json",
    )


def _rows(
    item: BatchItem,
    state: Mapping[str, Any],
    report: Mapping[str, Any] | None,
    trends: Mapping[str, Any] | None,
    *,
    ran: bool,
    out: Path,
    daily: bool,
) -> list[dict[str, Any]]:
    """The summary rows of one recording in the mode of the run."""
    paths = _paths(out, item.id, daily=daily)
    rel = paths.report.relative_to(out).as_posix()
    if not daily:
        return [summary_row(item, state, report, ran=ran, report_path=rel)]
    assert paths.trends is not None
    rels = (rel, paths.trends.relative_to(out).as_posix())
    return daily_summary_rows(item, state, report, trends, ran=ran, report_paths=rels)


def run_batch(
    items: Sequence[BatchItem],
    out: Path,
    *,
    client: Any,
    html: bool = False,
    rehash: bool = False,
    force: bool = False,
    progress: bool = True,
    daily: bool = False,
) -> BatchResult:
    """Analyse every item not already done on the Dask cluster of ``client``, write reports, state and summary.

    Parameters
    ----------
    items : sequence of BatchItem
        Unique ids.
    out : Path
        The output folder (created; one run at a time holds it).
    client : distributed.Client
        The cluster to run the tasks on.
    html : bool
        Also write an HTML report per recording.
    rehash : bool
        Hash every input file again even when its size and modification time are unchanged.
    force : bool
        Redo every recording, done or not.
    progress : bool
        Draw a progress bar on stderr (tqdm).
    daily : bool
        The home mode: each recording analysed per local calendar day with its trends
        (:func:`server.analysis.analyze_home_recording`); ``OUT/reports/<id>.daily.json``, ``<id>.trends.json``
        (``<id>.home.html`` with ``html``), state in ``OUT/state/<id>.daily.json``, and ``OUT/daily_summary.csv``
        (and ``.parquet``) with one row per recording-day instead of ``OUT/summary.csv``.

    Returns
    -------
    BatchResult
        Counts and the summary rows, in the order of ``items``. A recording that failed is a row with its error,
        never an exception.
    """
    from distributed import as_completed  # noqa: PLC0415 - Dask only for batch runs
    from tqdm import tqdm  # noqa: PLC0415

    t0 = time.perf_counter()
    dup = sorted(i for i, n in Counter(i.id for i in items).items() if n > 1)
    if dup:
        raise BatchError(f"duplicate recording id(s): {', '.join(dup)}")
    version = analysis_version()
    with _locked(out):
        states: dict[str, dict[str, Any]] = {}
        todo: list[BatchItem] = []
        ran: set[str] = set()
        for item in items:
            paths = _paths(out, item.id, daily=daily)
            previous = _read_json(paths.state)
            previous = previous if isinstance(previous, dict) and previous.get("schema") == STATE_SCHEMA else None
            try:
                inputs = _input_hashes(item, previous, rehash=rehash)
            except OSError as exc:
                error = f"cannot read the input: {_one_line(exc)}"
                states[item.id] = _state(item, "failed", error, None, [], version, daily=daily)
                write_atomic(paths.state, _json_bytes(states[item.id]))
                ran.add(item.id)
                continue
            key = analysis_key(item, inputs, version, daily=daily)
            done = (
                not force
                and previous is not None
                and previous.get("status") == "done"
                and previous.get("analysis_key") == key
                and all(p.is_file() for p in paths.outputs() if p != paths.html or html)
            )
            if done:
                assert previous is not None
                states[item.id] = previous
            else:
                states[item.id] = _state(item, "queued", "", key, inputs, version, daily=daily)
                todo.append(item)

        by_id = {i.id: i for i in todo}
        fresh_rows: dict[str, list[dict[str, Any]]] = {}  # summary rows of this run's tasks, from the documents in hand
        if todo:
            task = "fusiongait-daily" if daily else "fusiongait-analyze"
            futures = client.map(
                analyze_item,
                todo,
                expected_version=version,
                html=html,
                daily=daily,
                key=[f"{task}-{states[i.id]['analysis_key'][:16]}-{n}" for n, i in enumerate(todo)],
                pure=False,
            )
            owner = {f.key: i.id for f, i in zip(futures, todo, strict=True)}
            bar = tqdm(total=len(todo), unit="rec", desc="fusiongait batch", file=sys.stderr, disable=not progress)
            try:
                for future, result in as_completed(futures, with_results=True, raise_errors=False):  # type: ignore[no-untyped-call]
                    item_id = owner[future.key]
                    state = states[item_id]
                    _store(out, by_id[item_id], state, result, daily=daily)
                    ok = isinstance(result, ItemOutcome) and state["status"] == "done"
                    report = result.report if ok else None
                    trends = result.trends if ok else None
                    fresh_rows[item_id] = _rows(by_id[item_id], state, report, trends, ran=True, out=out, daily=daily)
                    ran.add(item_id)
                    future.release()
                    bar.update(1)
            finally:
                bar.close()
                for future in futures:
                    if not future.done():
                        future.cancel()

        rows = []
        for item in items:
            if item.id in fresh_rows:
                rows += fresh_rows[item.id]
                continue
            state = states[item.id]  # skipped (or never run): its documents are the ones on disk
            paths = _paths(out, item.id, daily=daily)
            is_done = state.get("status") == "done"
            report = _read_json(paths.report) if is_done else None
            trends = _read_json(paths.trends) if is_done and paths.trends is not None else None
            rows += _rows(item, state, report, trends, ran=item.id in ran, out=out, daily=daily)
        columns = DAILY_SUMMARY_COLUMNS if daily else SUMMARY_COLUMNS
        stem = "daily_summary" if daily else "summary"
        summary_csv = out / f"{stem}.csv"
        write_atomic(summary_csv, _csv_bytes(rows, columns))
        parquet = out / f"{stem}.parquet"
        summary_parquet = parquet if _write_parquet(parquet, rows, columns) else None
    failures = {r["id"]: r["error"] for r in rows if r["status"] != "done"}
    return BatchResult(
        total=len(items),
        analysed=len(ran),
        skipped=len(items) - len(ran),
        failed=len(failures),
        rows=rows,
        summary_csv=summary_csv,
        summary_parquet=summary_parquet,
        elapsed_s=time.perf_counter() - t0,
        failures=failures,
    )


def _state(
    item: BatchItem,
    status: str,
    error: str,
    key: str | None,
    inputs: list[dict[str, Any]],
    version: str,
    *,
    daily: bool = False,
) -> dict[str, Any]:
    options: dict[str, Any] = {
        "height_m": item.height_m,
        "sensor_height_m": item.sensor_height_m,
        "session": {"patient": item.patient, "date": item.session_date, "label": item.session_label},
    }
    if daily:
        options["home"] = _home_key_options(item)
    return {
        "schema": STATE_SCHEMA,
        "id": item.id,
        "mode": "daily" if daily else "clinic",
        "status": status,
        "error": error,
        "analysis_key": key,
        "analysis_version": version,
        "inputs": inputs,
        "options": options,
        "warnings": [],
        "elapsed_s": None,
        "worker": None,
        "finished_at": None,
    }


def _store(out: Path, item: BatchItem, state: dict[str, Any], result: Any, *, daily: bool = False) -> None:
    """Write one finished task: its documents (and HTML) first, then its state, so 'done' implies the documents."""
    paths = _paths(out, item.id, daily=daily)
    if isinstance(result, ItemOutcome):
        state.update(status=result.status, error=result.error, warnings=result.warnings)
        state.update(elapsed_s=result.elapsed_s, worker=result.worker)
        if result.status == "done" and result.report is not None:
            write_atomic(paths.report, _json_bytes(result.report))
            if paths.trends is not None and result.trends is not None:
                write_atomic(paths.trends, _json_bytes(result.trends))
            if result.html is not None:
                write_atomic(paths.html, result.html.encode())
    else:  # the task itself failed: a worker died (KilledWorker), the cluster went away, ...
        state.update(status="failed", error=f"task failed: {type(result).__name__}: {_one_line(result)}")
    if state["status"] != "done":
        for stale in paths.outputs():
            with contextlib.suppress(FileNotFoundError):
                stale.unlink()
    state["finished_at"] = dt.datetime.now(dt.UTC).isoformat(timespec="seconds")
    write_atomic(paths.state, _json_bytes(state))
