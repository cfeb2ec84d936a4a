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

The analysis key of a recording is a SHA-256 over the content of its input files, the analysis options (heights,
session header), the input names written into the report and the analysis version (the package version and a
digest of the analysis code: ``gait/``, ``hardware/`` without the simulator, ``firmware_bridge/``,
``server/analysis.py``). A re-run skips every recording whose state says ``done`` with the same key, and redoes
the failed and the changed ones. File hashes are reused while a file's size and modification time are those of
the last run (``rehash=True`` reads every file again). The state file is written after the report, so a run
stopped half-way leaves nothing that looks done.
"""

from __future__ import annotations

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
from server.analysis import AnalysisOptions, analyze_recording
from server.argtypes import HEIGHT_RANGE_M, SENSOR_HEIGHT_RANGE_M
from server.errors import ServiceError

__all__ = [
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
    source: str = ""

    def options(self) -> AnalysisOptions:
        """The analysis options of this recording."""
        return AnalysisOptions(
            height_m=self.height_m,
            sensor_height_m=self.sensor_height_m,
            session={"patient": self.patient, "date": self.session_date, "label": self.session_label},
        )

    def with_defaults(self, *, height_m: float | None, sensor_height_m: float | None) -> BatchItem:
        """This item with the batch-wide height applied when it has none of its own."""
        if self.height_m is not None or self.sensor_height_m is not None:
            return self
        return dataclasses.replace(self, height_m=height_m, sensor_height_m=sensor_height_m)


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
)


def read_manifest(path: Path) -> list[BatchItem]:
    """The recordings listed in a manifest (CSV or JSON; docs/batch.md has the format).

    Every entry has either ``path`` (a capture, or a vendor file) or one CSV file per sensor (``pelvis``, and
    optionally ``left_thigh``, ``right_thigh``); relative paths are relative to the manifest's folder. Optional:
    ``id`` (default: the path without its suffix), ``patient``, ``session_date`` (YYYY-MM-DD), ``session_label``,
    ``height_m`` or ``sensor_height_m``.

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


def analysis_key(item: BatchItem, input_hashes: Sequence[Mapping[str, Any]], version: str) -> str:
    """SHA-256 of what the report depends on: input contents, names, options and the analysis version."""
    document = {
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
    return hashlib.sha256(json.dumps(document, sort_keys=True).encode()).hexdigest()


# ----------------------------------------------------------------------------------------- the task
@dataclass(frozen=True, slots=True)
class ItemOutcome:
    """What a task sends back: the report (or the reason there is none), with the time it took and where."""

    id: str
    status: Literal["done", "failed"]
    report: dict[str, Any] | None
    warnings: list[str]
    error: str
    elapsed_s: float
    worker: str
    html: str | None = None


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


def analyze_item(item: BatchItem, expected_version: str | None = None, html: bool = False) -> ItemOutcome:
    """Analyse one recording (the Dask task). Never raises for bad data: the reason comes back as ``error``.

    Parameters
    ----------
    item : BatchItem
    expected_version : str, optional
        The client's :func:`analysis_version`; a worker running other code refuses the task (a cluster whose
        workers have another FusionGait would otherwise write reports under a key they do not match).
    html : bool
        Also render the HTML report.
    """
    t0 = time.perf_counter()
    worker = f"{socket.gethostname()}:{os.getpid()}"
    report = html_text = None
    warnings: list[str] = []
    try:
        if expected_version is not None and analysis_version() != expected_version:
            raise BatchError(
                f"this worker runs FusionGait analysis {analysis_version()}, the client {expected_version}: install "
                "the same version on every worker"
            )
        recording, reader_warnings = load_item(item)
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
    ("flags", "str"),
    ("flags_insufficient_data", "str"),
    ("n_warnings", "int"),
    ("norms_version", "str"),
    ("analysis_version", "str"),
    ("analysis_key", "str"),
    ("elapsed_s", "float"),
    ("worker", "str"),
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


def _csv_bytes(rows: Sequence[Mapping[str, Any]]) -> bytes:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow([name for name, _ in SUMMARY_COLUMNS])
    for row in rows:
        writer.writerow(["" if row[name] is None else row[name] for name, _ in SUMMARY_COLUMNS])
    return buffer.getvalue().encode()


def _write_parquet(path: Path, rows: Sequence[Mapping[str, Any]]) -> bool:
    try:
        import pyarrow as pa  # noqa: PLC0415 - optional at run time
        import pyarrow.parquet as pq  # noqa: PLC0415
    except ImportError:
        return False
    types = {"str": pa.string(), "float": pa.float64(), "int": pa.int64(), "bool": pa.bool_()}
    schema = pa.schema([(name, types[kind]) for name, kind in SUMMARY_COLUMNS])
    table = pa.Table.from_pylist([dict(r) for r in rows], schema=schema)
    sink = pa.BufferOutputStream()
    pq.write_table(table, sink)
    write_atomic(path, sink.getvalue().to_pybytes())
    return True


# ----------------------------------------------------------------------------------------- the run
@dataclass
class BatchResult:
    """What a run did. ``rows`` is the summary table (also in ``OUT/summary.csv`` and ``.parquet``)."""

    total: int
    analysed: int
    skipped: int
    failed: int
    rows: list[dict[str, Any]]
    summary_csv: Path
    summary_parquet: Path | None
    elapsed_s: float
    failures: dict[str, str] = field(default_factory=dict)


def _report_paths(out: Path, item_id: str) -> tuple[Path, Path, Path]:
    return out / "reports" / f"{item_id}.json", out / "reports" / f"{item_id}.html", out / "state" / f"{item_id}.json"


def run_batch(
    items: Sequence[BatchItem],
    out: Path,
    *,
    client: Any,
    html: bool = False,
    rehash: bool = False,
    force: bool = False,
    progress: bool = True,
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
            report_path, html_path, state_path = _report_paths(out, item.id)
            previous = _read_json(state_path)
            previous = previous if isinstance(previous, dict) and previous.get("schema") == STATE_SCHEMA else None
            try:
                inputs = _input_hashes(item, previous, rehash=rehash)
            except OSError as exc:
                states[item.id] = _state(item, "failed", f"cannot read the input: {_one_line(exc)}", None, [], version)
                write_atomic(state_path, _json_bytes(states[item.id]))
                ran.add(item.id)
                continue
            key = analysis_key(item, inputs, version)
            done = (
                not force
                and previous is not None
                and previous.get("status") == "done"
                and previous.get("analysis_key") == key
                and report_path.is_file()
                and (not html or html_path.is_file())
            )
            if done:
                assert previous is not None
                states[item.id] = previous
            else:
                states[item.id] = _state(item, "queued", "", key, inputs, version)
                todo.append(item)

        by_id = {i.id: i for i in todo}
        fresh_rows: dict[str, dict[str, Any]] = {}  # summary rows of this run's tasks, made from the report in hand
        if todo:
            futures = client.map(
                analyze_item,
                todo,
                expected_version=version,
                html=html,
                key=[f"fusiongait-analyze-{states[i.id]['analysis_key'][:16]}-{n}" for n, i in enumerate(todo)],
                pure=False,
            )
            owner = {f.key: i.id for f, i in zip(futures, todo, strict=True)}
            bar = tqdm(total=len(todo), unit="rec", desc="fusiongait batch", file=sys.stderr, disable=not progress)
            try:
                for future, result in as_completed(futures, with_results=True, raise_errors=False):  # type: ignore[no-untyped-call]
                    item_id = owner[future.key]
                    state = states[item_id]
                    _store(out, by_id[item_id], state, result)
                    report = result.report if isinstance(result, ItemOutcome) and state["status"] == "done" else None
                    rel = _report_paths(out, item_id)[0].relative_to(out).as_posix()
                    fresh_rows[item_id] = summary_row(by_id[item_id], state, report, ran=True, report_path=rel)
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
                rows.append(fresh_rows[item.id])
                continue
            state = states[item.id]  # skipped (or never run): its report is the one on disk
            report_path = _report_paths(out, item.id)[0]
            report = _read_json(report_path) if state.get("status") == "done" else None
            rel = report_path.relative_to(out).as_posix()
            rows.append(summary_row(item, state, report, ran=item.id in ran, report_path=rel))
        summary_csv = out / "summary.csv"
        write_atomic(summary_csv, _csv_bytes(rows))
        parquet = out / "summary.parquet"
        summary_parquet = parquet if _write_parquet(parquet, rows) else None
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
    item: BatchItem, status: str, error: str, key: str | None, inputs: list[dict[str, Any]], version: str
) -> dict[str, Any]:
    return {
        "schema": STATE_SCHEMA,
        "id": item.id,
        "status": status,
        "error": error,
        "analysis_key": key,
        "analysis_version": version,
        "inputs": inputs,
        "options": {
            "height_m": item.height_m,
            "sensor_height_m": item.sensor_height_m,
            "session": {"patient": item.patient, "date": item.session_date, "label": item.session_label},
        },
        "warnings": [],
        "elapsed_s": None,
        "worker": None,
        "finished_at": None,
    }


def _store(out: Path, item: BatchItem, state: dict[str, Any], result: Any) -> None:
    """Write one finished task: the report (and HTML) first, then its state, so 'done' implies the report."""
    report_path, html_path, state_path = _report_paths(out, item.id)
    if isinstance(result, ItemOutcome):
        state.update(status=result.status, error=result.error, warnings=result.warnings)
        state.update(elapsed_s=result.elapsed_s, worker=result.worker)
        if result.status == "done" and result.report is not None:
            write_atomic(report_path, _json_bytes(result.report))
            if result.html is not None:
                write_atomic(html_path, result.html.encode())
    else:  # the task itself failed: a worker died (KilledWorker), the cluster went away, ...
        state.update(status="failed", error=f"task failed: {type(result).__name__}: {_one_line(result)}")
    if state["status"] != "done":
        for stale in (report_path, html_path):
            with contextlib.suppress(FileNotFoundError):
                stale.unlink()
    state["finished_at"] = dt.datetime.now(dt.UTC).isoformat(timespec="seconds")
    write_atomic(state_path, _json_bytes(state))
