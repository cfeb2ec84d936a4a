"""Reference bands for healthy adults walking at self-selected speed (CLINICAL.md §2), one versioned table.

Each band is ``(low, high)`` with its source. Bands marked ``interim=True`` are literature approximations that must be
replaced by the project's own normative data before anyone relies on them (CLINICAL.md, status note).
"""

from __future__ import annotations

from dataclasses import dataclass
from types import MappingProxyType
from typing import Final

__all__ = ["NORMS_VERSION", "REFERENCE_BANDS", "ReferenceBand"]

NORMS_VERSION: Final = "2026-11-clinical-md-s2"


@dataclass(frozen=True, slots=True)
class ReferenceBand:
    """A healthy-adult reference band for one metric."""

    low: float
    high: float
    unit: str
    source: str
    interim: bool


REFERENCE_BANDS: Final = MappingProxyType(
    {
        # 1.2 ± 0.2 m/s adult controls (CLINICAL.md §2, ref. [9]); ±2 SD.
        "walking_speed_mps": ReferenceBand(0.8, 1.6, "m/s", "CLINICAL.md §2 [9]: 1.2±0.2 m/s, ±2 SD", False),
        # ≈111 steps/min in LDD-study controls [8]; textbook 100–120 (approx.).
        "cadence_spm": ReferenceBand(100.0, 120.0, "steps/min", "CLINICAL.md §2 [8] (textbook range, approx.)", True),
        # Stride 1.15 ± 0.15 m in older women [10]; ±2 SD.
        "stride_length_m": ReferenceBand(0.85, 1.45, "m", "CLINICAL.md §2 [10]: 1.15±0.15 m, ±2 SD", False),
        # Step 0.64 ± 0.07 m [9]; ±2 SD.
        "step_length_m": ReferenceBand(0.50, 0.78, "m", "CLINICAL.md §2 [9]: 0.64±0.07 m, ±2 SD", False),
        # Stride-time CV typically 1–3 % in healthy adults (approx.) [36]; median < 6 % [35].
        "stride_time_cv_pct": ReferenceBand(0.0, 3.0, "%", "CLINICAL.md §2 [35, 36] (approx.)", True),
        # Symmetry ratio (larger/smaller) upper limits 1.05 stance, 1.06 swing [37, 38]; step time: swing's limit
        # used as an interim bound.
        "step_time_asymmetry": ReferenceBand(1.0, 1.06, "ratio", "CLINICAL.md §2 [37, 38] (swing-time limit)", True),
        "stance_symmetry_ratio": ReferenceBand(1.0, 1.05, "ratio", "CLINICAL.md §2 [37, 38]", False),
        # Stance ≈ 60–62 % of the stride (textbook, approx.) [34].
        "stance_pct": ReferenceBand(58.0, 64.0, "%", "Perry & Burnfield [34] (textbook, approx.)", True),
        # Kinematics (CLINICAL.md §2). Pelvic tilt ROM ≈ 3–5° (4.9–5.4° older THA patients [32]; textbook 2–4° [34]).
        "tilt_rom_deg": ReferenceBand(2.0, 6.0, "deg", "CLINICAL.md §2 [32, 34] (approx.)", True),
        # Obliquity ROM 8.2 ± 1.7° by IMU at preferred speed [26]; ±2 SD. Sex- and speed-dependent [31].
        "obliquity_rom_deg": ReferenceBand(4.8, 11.6, "deg", "CLINICAL.md §2 [26]: 8.2±1.7°, ±2 SD", True),
        # Rotation ROM ≈ 8–12° (textbook, approx.; no verified adult mean) [34].
        "rotation_rom_deg": ReferenceBand(8.0, 12.0, "deg", "CLINICAL.md §2 [34] (textbook, approx.)", True),
        # Hip sagittal ROM: whole cycle ≈ 40–45° (textbook) [34]; F1's interim lower limit is 35° (CLINICAL.md §4).
        "hip_sagittal_rom_deg": ReferenceBand(35.0, 50.0, "deg", "CLINICAL.md §2 [8, 34], §4 F1 (approx.)", True),
        # Peak hip extension 11 ± 6° young, 7 ± 6° older (marker-based) [25]; model-dependent, so interim.
        "hip_peak_extension_deg": ReferenceBand(
            0.0, 23.0, "deg", "CLINICAL.md §2 [25]: 11±6° young, ±2 SD (model-dependent)", True
        ),
    }
)
