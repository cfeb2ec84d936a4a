"""Reference values, minimal detectable changes and flag thresholds, from one versioned data file.

All numbers live in ``gait/data/clinical_rules.toml`` (shipped with the package), each with its source (CLINICAL.md
reference numbers). Values marked ``interim`` are literature approximations that must be replaced by the project's
own normative or test-retest data before anyone relies on them (CLINICAL.md, status note). This module parses that
file once into frozen objects; :func:`parse_rules` parses any other text of the same shape (tests, a clinic's own
norms).
"""

from __future__ import annotations

import itertools
import math
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from importlib import resources
from types import MappingProxyType
from typing import Any, Final

import numpy as np

from gait.errors import GaitError

__all__ = [
    "CLINICAL_RULES",
    "FLAG_IDS",
    "NORMS_VERSION",
    "REFERENCE_BANDS",
    "ClinicalRules",
    "MinimalChange",
    "ReferenceBand",
    "RulesError",
    "SpeedBin",
    "SpeedRules",
    "parse_rules",
]


#: The compensation flags of CLINICAL.md §4; the rules file has an entry for each.
FLAG_IDS: Final = ("F1", "F2", "F3", "F4", "F5", "F6", "F7", "F8", "F9")


class RulesError(GaitError, ValueError):
    """The clinical rules file is malformed; the message names the entry and what was expected."""


@dataclass(frozen=True, slots=True)
class SpeedBin:
    """Reference of a speed-dependent metric at one walking speed (interpolated linearly between speeds)."""

    speed_mps: float
    mean: float
    sd: float
    source: str


@dataclass(frozen=True, slots=True)
class ReferenceBand:
    """A healthy-adult reference for one metric.

    Attributes
    ----------
    low, high : float
        The band shown next to a value (±2 SD where a SD is known).
    unit, source : str
    interim : bool
        A literature approximation to be replaced by the project's own data.
    mean, sd : float or None
        For z-scores (None when the source gives a band only).
    speed_dependent : bool
        The metric depends on walking speed (CLINICAL.md §3 rule 4): compare only inside the reference speed band,
        or against the speed bin of the measured speed when ``speed_bins`` are given.
    speed_bins : tuple of SpeedBin
        References at given speeds, ascending ``speed_mps``; interpolated linearly between them and held beyond.
    """

    low: float
    high: float
    unit: str
    source: str
    interim: bool
    mean: float | None = None
    sd: float | None = None
    speed_dependent: bool = False
    speed_bins: tuple[SpeedBin, ...] = field(default=())

    def at_speed(self, speed_mps: float) -> ReferenceBand:
        """The reference for a walking speed (itself when it has no speed bins or the speed is unknown)."""
        if not self.speed_bins or not math.isfinite(speed_mps):
            return self
        speeds = [b.speed_mps for b in self.speed_bins]
        mean = float(np.interp(speed_mps, speeds, [b.mean for b in self.speed_bins]))
        sd = float(np.interp(speed_mps, speeds, [b.sd for b in self.speed_bins]))
        nearest = min(self.speed_bins, key=lambda b: abs(b.speed_mps - speed_mps))
        source = (
            nearest.source
            if abs(nearest.speed_mps - speed_mps) < 1e-9
            else f"interpolated at {speed_mps:.2f} m/s: " + "; ".join(b.source for b in self.speed_bins)
        )
        return ReferenceBand(
            low=mean - 2.0 * sd,
            high=mean + 2.0 * sd,
            unit=self.unit,
            source=source,
            interim=self.interim,
            mean=mean,
            sd=sd,
            speed_dependent=True,
        )

    def z(self, value: float) -> float:
        """z-score of ``value`` (NaN without mean and SD)."""
        if self.mean is None or self.sd is None or self.sd <= 0:
            return float("nan")
        return (value - self.mean) / self.sd


@dataclass(frozen=True, slots=True)
class MinimalChange:
    """Smallest change vs the patient's baseline taken as real (CLINICAL.md §5).

    Attributes
    ----------
    value : float
        The MDC (for speed: the small meaningful change); the effect size is ``|Δ| / value``.
    unit, source : str
    interim : bool
    substantial : float or None
        A larger published threshold (speed: 0.10 m/s), for the wording only.
    """

    value: float
    unit: str
    source: str
    interim: bool
    substantial: float | None = None


@dataclass(frozen=True, slots=True)
class SpeedRules:
    """Speed bands of the references (CLINICAL.md §2 [9], §3 rule 4, §4 caveats)."""

    reference_low_mps: float
    reference_high_mps: float
    reference_source: str
    baseline_bin_mps: float
    baseline_bin_source: str
    min_reliable_mps: float
    min_reliable_source: str

    def in_reference_band(self, speed_mps: float) -> bool:
        """Whether a speed lies in the band of the healthy references (self-selected speed of adult controls)."""
        return bool(self.reference_low_mps <= speed_mps <= self.reference_high_mps)


@dataclass(frozen=True, slots=True)
class ClinicalRules:
    """The parsed rules file.

    Attributes
    ----------
    version : str
        Reported as ``norms_version``.
    speed : SpeedRules
    norms : mapping of metric name to ReferenceBand
    mdc : mapping of metric name to MinimalChange
    confidence : mapping of str to number
        The confidence parameters (strides per side, quality, effect size, persistence).
    flags : mapping of flag id to mapping
        Thresholds and their sources per flag (``name``, ``kind`` and flag-specific keys).
    caveats : tuple of str
    daily : mapping of str to value
        The everyday-walking rules (walking-bout definition, daily outcomes, data sufficiency; see
        :class:`gait.daily.DailyRules`); empty when the file has no ``[daily]`` table.
    """

    version: str
    speed: SpeedRules
    norms: Mapping[str, ReferenceBand]
    mdc: Mapping[str, MinimalChange]
    confidence: Mapping[str, Any]
    flags: Mapping[str, Mapping[str, Any]]
    caveats: tuple[str, ...]
    daily: Mapping[str, Any] = field(default_factory=lambda: MappingProxyType({}))

    def flag_number(self, flag_id: str, key: str) -> float:
        """A numeric threshold of a flag; raises :class:`RulesError` naming it when missing."""
        try:
            return float(self.flags[flag_id][key])
        except (KeyError, TypeError, ValueError):
            raise RulesError(f"flags.{flag_id}.{key}: expected a number in the rules file") from None

    def flag_text(self, flag_id: str, key: str, default: str = "") -> str:
        """A text entry of a flag (its ``source`` etc.)."""
        return str(self.flags.get(flag_id, {}).get(key, default))

    def confidence_number(self, key: str) -> float:
        """A numeric confidence parameter."""
        try:
            return float(self.confidence[key])
        except (KeyError, TypeError, ValueError):
            raise RulesError(f"confidence.{key}: expected a number in the rules file") from None


def _need(table: Mapping[str, Any], key: str, where: str, kind: type | tuple[type, ...]) -> Any:
    if key not in table:
        raise RulesError(f"{where}.{key}: missing from the rules file")
    value = table[key]
    if not isinstance(value, kind) or (isinstance(value, bool) and kind is not bool):
        raise RulesError(f"{where}.{key}: expected {kind}, got {value!r}")
    return value


def _band(name: str, t: Mapping[str, Any]) -> ReferenceBand:
    where = f"norms.{name}"
    num = (int, float)
    bins = tuple(
        SpeedBin(
            float(_need(b, "speed_mps", f"{where}.speed_bins", num)),
            float(_need(b, "mean", f"{where}.speed_bins", num)),
            float(_need(b, "sd", f"{where}.speed_bins", num)),
            str(_need(b, "source", f"{where}.speed_bins", str)),
        )
        for b in t.get("speed_bins", [])
    )
    if any(a.speed_mps >= b.speed_mps for a, b in itertools.pairwise(bins)):
        raise RulesError(f"{where}.speed_bins: expected ascending speed_mps")
    return ReferenceBand(
        low=float(_need(t, "low", where, num)),
        high=float(_need(t, "high", where, num)),
        unit=str(_need(t, "unit", where, str)),
        source=str(_need(t, "source", where, str)),
        interim=bool(_need(t, "interim", where, bool)),
        mean=float(t["mean"]) if "mean" in t else None,
        sd=float(t["sd"]) if "sd" in t else None,
        speed_dependent=bool(t.get("speed_dependent", bool(bins))),
        speed_bins=bins,
    )


def parse_rules(text: str) -> ClinicalRules:
    """Parse the text of a rules file (the shape of ``gait/data/clinical_rules.toml``).

    Raises
    ------
    RulesError
        When the text is not TOML or an entry is missing or of the wrong type.
    """
    try:
        raw = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise RulesError(f"rules file: not valid TOML ({exc})") from None
    num = (int, float)
    s = _need(raw, "speed", "rules", dict)
    speed = SpeedRules(
        reference_low_mps=float(_need(s, "reference_low_mps", "speed", num)),
        reference_high_mps=float(_need(s, "reference_high_mps", "speed", num)),
        reference_source=str(_need(s, "reference_source", "speed", str)),
        baseline_bin_mps=float(_need(s, "baseline_bin_mps", "speed", num)),
        baseline_bin_source=str(_need(s, "baseline_bin_source", "speed", str)),
        min_reliable_mps=float(_need(s, "min_reliable_mps", "speed", num)),
        min_reliable_source=str(_need(s, "min_reliable_source", "speed", str)),
    )
    norms = {name: _band(name, t) for name, t in _need(raw, "norms", "rules", dict).items()}
    mdc = {
        name: MinimalChange(
            value=float(_need(t, "value", f"mdc.{name}", num)),
            unit=str(_need(t, "unit", f"mdc.{name}", str)),
            source=str(_need(t, "source", f"mdc.{name}", str)),
            interim=bool(_need(t, "interim", f"mdc.{name}", bool)),
            substantial=float(t["substantial"]) if "substantial" in t else None,
        )
        for name, t in _need(raw, "mdc", "rules", dict).items()
    }
    flags = _need(raw, "flags", "rules", dict)
    for fid in FLAG_IDS:
        entry = _need(flags, fid, "flags", dict)
        _need(entry, "name", f"flags.{fid}", str)
        _need(entry, "kind", f"flags.{fid}", str)
    caveats = tuple(str(c) for c in _need(_need(raw, "caveats", "rules", dict), "text", "caveats", list))
    return ClinicalRules(
        version=str(_need(raw, "version", "rules", str)),
        speed=speed,
        norms=MappingProxyType(norms),
        mdc=MappingProxyType(mdc),
        confidence=MappingProxyType(dict(_need(raw, "confidence", "rules", dict))),
        flags=MappingProxyType({k: MappingProxyType(dict(v)) for k, v in flags.items()}),
        caveats=caveats,
        daily=MappingProxyType(dict(raw.get("daily", {}))),
    )


#: The rules shipped with the package (``gait/data/clinical_rules.toml``), read once at import.
CLINICAL_RULES: Final = parse_rules(
    resources.files("gait").joinpath("data", "clinical_rules.toml").read_text(encoding="utf-8")
)
NORMS_VERSION: Final = CLINICAL_RULES.version
#: Healthy-adult reference bands by metric name (CLINICAL.md §2).
REFERENCE_BANDS: Final = CLINICAL_RULES.norms
