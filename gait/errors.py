"""Exceptions of the analysis core.

Every error raised by ``gait`` derives from :class:`GaitError`, so the layers above can map the whole family in one
place (DESIGN.md §5 rule 6).
"""

from __future__ import annotations

__all__ = ["AnalysisError", "GaitError", "RecordingError"]


class GaitError(Exception):
    """Root of all errors raised by the analysis core."""


class RecordingError(GaitError, ValueError):
    """A :class:`~gait.recording.Recording` (or the arrays for one) is malformed.

    The message names the argument, what was expected and what came.
    """


class AnalysisError(GaitError):
    """The analysis cannot produce a result from this recording (for example: no pelvis sensor)."""
