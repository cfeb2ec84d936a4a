"""Shared test helpers: where the real datasets are, and a marker that skips when they are absent."""

from __future__ import annotations

from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
DATASETS = ROOT.parent / "shared" / "datasets"
VOISARD = DATASETS / "voisard_ipol_healthy_lowerback"
NEURA = DATASETS / "neura_sparse_gaittoolbox_sample"

requires_voisard = pytest.mark.skipif(not VOISARD.is_dir(), reason=f"dataset not present: {VOISARD}")
requires_neura = pytest.mark.skipif(not NEURA.is_dir(), reason=f"dataset not present: {NEURA}")
