"""FusionGait analysis core: pure numpy/scipy, arrays in, frozen results out (DESIGN.md §1).

No I/O, no asyncio, no pydantic here: the layers above (``hardware``, ``firmware_bridge``, ``server``) read files and
devices and call :class:`GaitPipeline` on a :class:`Recording`.
"""

from gait.errors import AnalysisError, GaitError, RecordingError
from gait.pipeline import GaitPipeline, GaitResult
from gait.recording import KNOWN_PLACEMENTS, Recording
from gait.report import build_report, summary_text

__all__ = [
    "KNOWN_PLACEMENTS",
    "AnalysisError",
    "GaitError",
    "GaitPipeline",
    "GaitResult",
    "Recording",
    "RecordingError",
    "build_report",
    "summary_text",
]
