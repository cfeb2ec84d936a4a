"""One analysis step shared by the command line and the service: a Recording in, the JSON report out.

``fusiongait analyze`` and the service's background jobs both call :func:`analyze_recording`, so a report made on
the command line and one made by the server from the same data are the same document.
"""

from __future__ import annotations

import warnings
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from gait.recording import Recording

if TYPE_CHECKING:
    from gait.pipeline import GaitResult

__all__ = ["AnalysisOptions", "AnalysisOutcome", "analyze_recording", "report_warning_text"]


@dataclass(frozen=True, kw_only=True, slots=True)
class AnalysisOptions:
    """What the analysis needs beyond the data: body or sensor height, and the report header.

    Attributes
    ----------
    height_m, sensor_height_m : float, optional
        Body height or sacral-sensor height (at most one), for step length.
    session : mapping
        ``patient``, ``date`` (ISO), ``label`` for the report header.
    plateau_sessions : int, optional
        How many of the earliest baselines form the plateau (default: all but the most recent).
    """

    height_m: float | None = None
    sensor_height_m: float | None = None
    session: Mapping[str, str | None] = field(default_factory=dict)
    plateau_sessions: int | None = None


@dataclass(frozen=True, slots=True)
class AnalysisOutcome:
    """The report, every warning raised on the way (each once, in order of appearance) and the pipeline's result."""

    report: dict[str, Any]
    warnings: list[str]
    result: GaitResult | None = None


def report_warning_text(item: Any) -> str:
    """A report ``warnings`` entry as one line of text (entries are strings or ``{message: ...}`` objects)."""
    if isinstance(item, dict):
        return str(item.get("message", item))
    return str(item)


def analyze_recording(
    recording: Recording,
    *,
    options: AnalysisOptions,
    reader_warnings: Sequence[str] = (),
    inputs: Mapping[str, str] | None = None,
    baselines: Sequence[Mapping[str, Any]] = (),
) -> AnalysisOutcome:
    """Run the gait pipeline on ``recording`` and assemble the ``fusiongait.report/1`` document.

    Parameters
    ----------
    recording : Recording
    options : AnalysisOptions
    reader_warnings : sequence of str
        Warnings of the reader that made the recording; they go into the report first.
    inputs : mapping of placement to str, optional
        Where each sensor's data came from (file names), for the report.
    baselines : sequence of mapping
        Earlier reports of the same patient, oldest first.

    Raises
    ------
    gait.errors.GaitError
        When the analysis refuses the data.
    """
    from gait.pipeline import GaitPipeline  # noqa: PLC0415 - heavy imports, only when analysing
    from gait.report import build_report  # noqa: PLC0415

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        result = GaitPipeline(height_m=options.height_m, sensor_height_m=options.sensor_height_m).run(recording)
        report = build_report(
            result,
            warnings=reader_warnings,
            inputs=dict(inputs or {}),
            session=dict(options.session),
            baselines=baselines,
            plateau_sessions=options.plateau_sessions,
        )
    seen: list[str] = []
    texts = [report_warning_text(w) for w in report.get("warnings", [])]
    texts += [f"{w.category.__name__}: {w.message}" for w in caught]
    for text in texts:
        if text not in seen:
            seen.append(text)
    return AnalysisOutcome(report=report, warnings=seen, result=result)
