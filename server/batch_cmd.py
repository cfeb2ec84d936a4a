"""``fusiongait batch``: analyse a cohort of recordings on a Dask cluster (:mod:`server.batch`, docs/batch.md).

::

    fusiongait batch INPUT_DIR_OR_MANIFEST --out DIR [--scheduler tcp://host:8786 | --workers N]
                     [--height-m 1.75 | --sensor-height-m 0.95] [--html] [--force] [--rehash] [--no-progress]
                     [--daily [--utc-offset-min M] [--min-wear-h H]]

``--daily`` is the home mode: each recording (one task, as in the clinic mode) analysed per local calendar day with
its trends, as ``fusiongait daily`` does for one file; one summary row per recording-day (docs/batch.md).

Without ``--scheduler`` a local cluster of ``--workers`` processes (default: one per core) runs the tasks; with it,
the cluster at that address (its workers must have the same FusionGait installed and read the input paths). Exit
status: 0 when every recording is done, 1 when some failed (their errors are in the summary), 2 for bad input.
"""

from __future__ import annotations

import argparse
import contextlib
import logging
import os
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from server.argtypes import body_height_m, sensor_height_m, utc_offset_min, wear_h
from server.batch import BatchError, BatchItem, discover, read_manifest, run_batch

__all__ = ["add_batch_parser", "local_client"]


def _workers(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number of worker processes, got {text!r}") from None
    if not 1 <= value <= 256:
        raise argparse.ArgumentTypeError(f"expected 1 to 256 worker processes, got {text}")
    return value


def add_batch_parser(commands: Any) -> None:
    """Add the ``batch`` sub-command to the ``fusiongait`` parser."""
    batch = commands.add_parser(
        "batch",
        help="analyse many recordings on a Dask cluster (a local one by default)",
        description=(
            "Analyse every recording of a folder (captures, per-sensor CSV sets) or of a manifest (CSV or JSON, "
            "docs/batch.md), one Dask task each. Reports go to OUT/reports, a summary table to OUT/summary.csv and "
            ".parquet. A re-run skips what is done (same input content, options and analysis version) and redoes "
            "what failed."
        ),
    )
    batch.add_argument("input", type=Path, metavar="INPUT_DIR_OR_MANIFEST", help="a folder, or a .csv/.json manifest")
    batch.add_argument("--out", type=Path, required=True, metavar="DIR", help="output folder (created)")
    where = batch.add_mutually_exclusive_group()
    where.add_argument("--scheduler", metavar="tcp://HOST:8786", help="an existing Dask scheduler's address")
    where.add_argument(
        "--workers", type=_workers, metavar="N", help="worker processes of the local cluster (default: one per core)"
    )
    height = batch.add_mutually_exclusive_group()
    height.add_argument("--height-m", type=body_height_m, metavar="M", help="body height for recordings without one")
    height.add_argument(
        "--sensor-height-m",
        type=sensor_height_m,
        metavar="M",
        help="sacral sensor height for recordings without one",
    )
    batch.add_argument("--html", action="store_true", help="also write an HTML report per recording")
    batch.add_argument(
        "--daily",
        action="store_true",
        help="home mode: analyse each recording per local calendar day with its trends (as fusiongait daily); "
        "OUT/daily_summary.csv has one row per recording-day",
    )
    batch.add_argument(
        "--utc-offset-min",
        type=utc_offset_min,
        metavar="M",
        help="with --daily: the patients' local time minus UTC in minutes for recordings whose manifest entry has "
        "no utc_offset_min (default 0)",
    )
    batch.add_argument(
        "--min-wear-h",
        type=wear_h,
        metavar="H",
        help="with --daily: wear time a day needs to count (default: the rules file's, 12 h)",
    )
    batch.add_argument("--force", action="store_true", help="redo every recording, even those already done")
    batch.add_argument("--rehash", action="store_true", help="hash every input again (not only changed files)")
    batch.add_argument("--no-progress", action="store_true", help="no progress bar on stderr")
    batch.set_defaults(handler=_batch)


def _cores() -> int:
    if hasattr(os, "sched_getaffinity"):
        return max(1, len(os.sched_getaffinity(0)))
    return max(1, os.cpu_count() or 1)


@contextlib.contextmanager
def local_client(workers: int) -> Iterator[Any]:
    """A ``distributed.Client`` on a new LocalCluster of ``workers`` single-threaded processes (no dashboard)."""
    from distributed import Client, LocalCluster  # noqa: PLC0415 - Dask only for batch runs

    with (
        LocalCluster(  # type: ignore[no-untyped-call]
            n_workers=workers,
            threads_per_worker=1,
            processes=True,
            dashboard_address=":0",  # a free port: never the 8787 of another cluster on the machine
            silence_logs=logging.ERROR,
        ) as cluster,
        Client(cluster) as client,  # type: ignore[no-untyped-call]
    ):
        yield client


def _items(args: argparse.Namespace) -> list[BatchItem]:
    source: Path = args.input
    if source.is_dir():
        items, ignored = discover(source, exclude=[args.out])
        if ignored:
            print(f"fusiongait: {len(ignored)} file(s) that are not recordings were left out", file=sys.stderr)
        if not items:
            raise BatchError(f"{source}: no recording found (captures .imucap, or <name>_pelvis.csv sets)")
    elif source.is_file():
        if source.suffix.lower() not in (".csv", ".json"):
            raise BatchError(f"{source}: expected a folder or a manifest (.csv or .json)")
        items = read_manifest(source)
    else:
        raise BatchError(f"{source} does not exist")
    return [
        i.with_defaults(
            height_m=args.height_m,
            sensor_height_m=args.sensor_height_m,
            utc_offset_min=args.utc_offset_min,
            min_wear_h=args.min_wear_h,
        )
        for i in items
    ]


def _batch(args: argparse.Namespace) -> int:
    try:
        for option, value in (("--utc-offset-min", args.utc_offset_min), ("--min-wear-h", args.min_wear_h)):
            if value is not None and not args.daily:
                raise BatchError(f"argument {option}: only with --daily (the home mode)")
        items = _items(args)
        if args.out.exists() and not args.out.is_dir():
            raise BatchError(f"--out {args.out} is a file, expected a folder")
        if args.scheduler:
            from distributed import Client  # noqa: PLC0415

            context: contextlib.AbstractContextManager[Any] = Client(args.scheduler, timeout="30s")  # type: ignore[no-untyped-call]
        else:
            context = local_client(args.workers or _cores())
        with context as client:
            result = run_batch(
                items,
                args.out,
                client=client,
                html=args.html,
                rehash=args.rehash,
                force=args.force,
                progress=not args.no_progress,
                daily=args.daily,
            )
    except BatchError as exc:
        print(f"fusiongait: error: {exc.message}", file=sys.stderr)
        return 2
    except OSError as exc:  # the scheduler cannot be reached, the output folder cannot be written
        print(f"fusiongait: error: {' '.join(str(exc).splitlines())}", file=sys.stderr)
        return 1
    for item_id, error in result.failures.items():
        print(f"fusiongait: warning: {item_id}: {error}", file=sys.stderr)
    done = result.total - result.failed
    print(
        f"{result.total} recordings: {done} done ({result.analysed} analysed in this run, {result.skipped} already "
        f"done), {result.failed} failed; {result.elapsed_s:.1f} s"
    )
    if args.daily:
        print(f"{sum(1 for r in result.rows if r['date'] is not None)} recording-days")
    print(f"summary: {result.summary_csv}" + (f" and {result.summary_parquet}" if result.summary_parquet else ""))
    return 0 if result.failed == 0 else 1
