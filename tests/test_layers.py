"""Imports run one way only (DESIGN.md §1): gait ← hardware ← firmware_bridge ← server; every __all__ resolves."""

from __future__ import annotations

import ast
import importlib
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
LAYERS = ["gait", "hardware", "firmware_bridge", "server"]
# Beyond the layer order, gait/ must stay pure: no I/O or service libraries.
GAIT_FORBIDDEN = {
    "asyncio",
    "pydantic",
    "fastapi",
    "serial",
    "bleak",
    "sqlalchemy",
    "socket",
    "os",
    "pathlib",
    "io",
}


def _imports(path: Path) -> set[str]:
    tree = ast.parse(path.read_text())
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(a.name.split(".")[0] for a in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module.split(".")[0])
    return names


@pytest.mark.parametrize("layer", LAYERS)
def test_layer_imports_only_lower_layers(layer: str) -> None:
    allowed_upper = set(LAYERS[LAYERS.index(layer) + 1 :])
    for path in (ROOT / layer).rglob("*.py"):
        bad = _imports(path) & allowed_upper
        assert not bad, f"{path.relative_to(ROOT)} imports higher layer(s) {sorted(bad)}"


def test_gait_is_pure() -> None:
    for path in (ROOT / "gait").rglob("*.py"):
        bad = _imports(path) & GAIT_FORBIDDEN
        assert not bad, f"{path.relative_to(ROOT)} imports I/O module(s) {sorted(bad)}"


def _modules() -> list[str]:
    out = []
    for layer in LAYERS:
        for path in (ROOT / layer).rglob("*.py"):
            rel = path.relative_to(ROOT).with_suffix("")
            parts = list(rel.parts)
            if parts[-1] == "__main__" or "migrations" in parts:  # Alembic scripts run only under Alembic
                continue
            if parts[-1] == "__init__":
                parts = parts[:-1]
            out.append(".".join(parts))
    return sorted(out)


@pytest.mark.parametrize("module", _modules())
def test_all_names_resolve(module: str) -> None:
    mod = importlib.import_module(module)
    names = getattr(mod, "__all__", None)
    assert names is not None, f"{module} has no __all__"
    missing = [n for n in names if not hasattr(mod, n)]
    assert not missing, f"{module}.__all__ names missing attributes {missing}"
