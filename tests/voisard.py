"""Loader for the Voisard lower-back set (../shared/datasets), used by tests and scripts/validate_events.py.

Lost packets stay lost: samples go on the PacketCounter grid with NaN where a packet is missing, which is the grid
the reference events refer to (the dataset's SOURCE.md).
"""

from __future__ import annotations

import csv
import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from gait.recording import Recording

FS_HZ = 100.0


@dataclass(frozen=True)
class VoisardTrial:
    code: str
    recording: Recording
    height_m: float | None
    ic_left_idx: np.ndarray
    ic_right_idx: np.ndarray
    trial_bounds_idx: tuple[int, int]
    uturn_bounds_idx: tuple[int, int]
    missing_fraction: float

    def walks(self, margin_idx: int = 25) -> list[tuple[int, int]]:
        """The two straight walks (U-turn excluded) as inclusive sample ranges."""
        lo, hi = self.trial_bounds_idx
        u0, u1 = self.uturn_bounds_idx
        return [(lo - margin_idx, u0), (u1, hi + margin_idx)]


def trial_codes(root: Path, *, max_missing: float = 0.05) -> list[str]:
    with (root / "trials_index.csv").open() as f:
        return [r["code"] for r in csv.DictReader(f) if float(r["missing_frac_lb"]) <= max_missing]


def load_trial(root: Path, code: str) -> VoisardTrial:
    meta = json.loads((root / "GaitData" / f"{code}.json").read_text())
    raw = np.loadtxt(root / "GaitData" / f"{code}_lb.txt", skiprows=2)
    counter = raw[:, 0].astype(np.int64)
    idx = counter - counter[0]
    n = int(idx[-1]) + 1
    acc = np.full((1, n, 3), np.nan)
    gyr = np.full((1, n, 3), np.nan)
    acc[0, idx] = raw[:, 1:4]
    gyr[0, idx] = np.rad2deg(raw[:, 4:7])
    rec = Recording(acc_mps2=acc, gyr_dps=gyr, sampling_rate_hz=FS_HZ, placements=("pelvis",), source=code)
    height = meta.get("Height")
    height_m = float(height) / 100 if height is not None and np.isfinite(height) else None
    return VoisardTrial(
        code=code,
        recording=rec,
        height_m=height_m,
        ic_left_idx=np.array([hs for _, hs in meta["LeftFootEvents"]], dtype=np.int64),
        ic_right_idx=np.array([hs for _, hs in meta["RightFootEvents"]], dtype=np.int64),
        trial_bounds_idx=tuple(meta["TrialBoundaries"]),
        uturn_bounds_idx=tuple(meta["UTurnBoundaries"]),
        missing_fraction=float(1 - len(counter) / n),
    )


def match_pairs(detected: np.ndarray, reference: np.ndarray, tolerance: int) -> tuple[np.ndarray, np.ndarray]:
    """Greedy nearest one-to-one matching within ``tolerance`` samples: the indices into ``detected`` and into
    ``reference`` of the matched pairs, nearest pairs first."""
    d = np.asarray(detected)[:, None] - np.asarray(reference)[None, :]
    pairs = np.argwhere(np.abs(d) <= tolerance)
    order = np.argsort(np.abs(d[pairs[:, 0], pairs[:, 1]]), kind="stable")
    used_d: set[int] = set()
    used_r: set[int] = set()
    out_d, out_r = [], []
    for i, j in pairs[order]:
        if i in used_d or j in used_r:
            continue
        used_d.add(int(i))
        used_r.add(int(j))
        out_d.append(int(i))
        out_r.append(int(j))
    return np.asarray(out_d, dtype=np.int64), np.asarray(out_r, dtype=np.int64)


def match_events(detected: np.ndarray, reference: np.ndarray, tolerance: int) -> np.ndarray:
    """Greedy nearest one-to-one matching; returns the signed errors (detected − reference) of matched pairs."""
    i, j = match_pairs(detected, reference, tolerance)
    return (np.asarray(detected)[i] - np.asarray(reference)[j]).astype(np.int64)


@dataclass(frozen=True)
class WalkEvents:
    """The initial contacts of one scored walk.

    Attributes
    ----------
    reference : ndarray of int
        Reference heel strikes inside the walk, increasing.
    matched : ndarray of int
        For each of them, the detected IC matched to it, or -1 (a miss).
    unmatched : ndarray of int
        Detected ICs inside the walk matched to no reference heel strike (false detections).
    """

    reference: np.ndarray
    matched: np.ndarray
    unmatched: np.ndarray

    @property
    def detected(self) -> np.ndarray:
        """Our ICs of the walk, increasing: the matched ones and the false detections."""
        return np.sort(np.concatenate([self.matched[self.matched >= 0], self.unmatched]))

    @property
    def errors(self) -> np.ndarray:
        """Signed timing errors (detected − reference) of the matched pairs, samples."""
        hit = self.matched >= 0
        return (self.matched[hit] - self.reference[hit]).astype(np.int64)


def walk_events(
    detected: np.ndarray, reference: np.ndarray, walks: list[tuple[int, int]], tolerance: int
) -> list[WalkEvents]:
    """Match the detected ICs to the reference heel strikes once over the whole trial, then assign them to walks.

    A walk holds its reference heel strikes (inclusive sample range), the detections matched to them wherever
    those lie, and the unmatched detections inside the range. A detection a few samples from its heel strike is the
    same event even when the walk's edge (the annotated U-turn) falls between the two; matching inside each walk's
    range separately counted such a pair as one miss and one false detection, in different walks.
    """
    det = np.sort(np.asarray(detected, dtype=np.int64))
    ref = np.sort(np.asarray(reference, dtype=np.int64))
    i, j = match_pairs(det, ref, tolerance)
    partner = np.full(ref.size, -1, dtype=np.int64)
    partner[j] = det[i]
    is_matched = np.zeros(det.size, dtype=bool)
    is_matched[i] = True
    out = []
    for lo, hi in walks:
        in_r = (ref >= lo) & (ref <= hi)
        free = ~is_matched & (det >= lo) & (det <= hi)
        out.append(WalkEvents(reference=ref[in_r], matched=partner[in_r], unmatched=det[free]))
    return out
