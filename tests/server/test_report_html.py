"""The HTML report: valid HTML5, self-contained, and looked at in a real (headless) Chromium."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

import html5lib
import pytest

from gait.pipeline import GaitPipeline
from gait.report import build_report
from hardware.simulator import Segment, WalkerParams, antalgic, simulate_session
from server.report_html import render_html

SCHEDULE = (
    Segment(kind="stand", duration_s=3.0),
    Segment(kind="walk", duration_s=22.0),
    Segment(kind="stand", duration_s=1.0),
)
CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")


def _report(params: WalkerParams, seed: int, **kw: Any) -> dict[str, Any]:
    session = simulate_session(params, schedule=SCHEDULE, random_mounting=True, seed=seed)
    return build_report(GaitPipeline(height_m=1.75).run(session.recording), **kw)


@pytest.fixture(scope="module")
def report() -> dict[str, Any]:
    """An antalgic session after two healthy ones: flags, evidence and a baseline trend."""
    earlier = [_report(WalkerParams(), seed, session={"date": f"2026-0{seed}-01"}) for seed in (1, 2)]
    return _report(
        antalgic(side="right"),
        3,
        session={"patient": "P-0042 <test>", "date": "2026-03-01", "label": "6 weeks post-op"},
        baselines=earlier,
    )


@pytest.fixture(scope="module")
def html(report: dict[str, Any]) -> str:
    return render_html(report)


def test_html_is_valid_html5(html: str) -> None:
    parser = html5lib.HTMLParser(strict=True, namespaceHTMLElements=False)
    parser.parse(html)  # raises on any parse error
    assert not parser.errors


def test_html_is_self_contained(html: str) -> None:
    assert "<script" not in html and "<link" not in html and "@import" not in html and "url(" not in html
    external = set(re.findall(r"""(?:src|href)=["']([^"'#][^"']*)""", html))
    assert not external, external
    assert set(re.findall(r"https?://[^\s\"'<>]+", html)) <= {"http://www.w3.org/2000/svg"}


def test_html_has_every_section_and_escapes_text(html: str, report: dict[str, Any]) -> None:
    for anchor in ("flags", "spatiotemporal", "symmetry", "kinematics", "trend", "quality", "caveats"):
        assert f"id='{anchor}'" in html
    assert "P-0042 &lt;test&gt;" in html and "<test>" not in html
    for caveat in report["caveats"]:
        assert caveat.replace("'", "&#x27;").replace('"', "&quot;") in html
    for flag_id in ("F1", "F5", "F9"):
        assert f"data-flag='{flag_id}'" in html
    assert html.count('role="img"') >= 6  # pelvis ×3, hip, thigh, trend plots
    assert 'class="spark"' in html  # the flagged metric's trend next to its value


def test_minimal_report_renders() -> None:
    text = render_html({"schema": "fusiongait.report/1", "warnings": [], "flags": []})
    html5lib.HTMLParser(strict=True).parse(text)
    assert "Not computed" in text


@pytest.mark.skipif(CHROMIUM is None, reason="chromium not installed (make test installs Debian's package)")
def test_headless_chromium_renders_plots_and_flags(html: str, tmp_path: Path) -> None:
    page = tmp_path / "report.html"
    page.write_text(html, encoding="utf-8")
    shot = tmp_path / "report.png"
    assert CHROMIUM is not None
    # No network: every host name fails to resolve, so anything fetched from outside would be missing.
    common = [CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu", "--host-resolver-rules=MAP * ~NOTFOUND"]
    dom = subprocess.run(
        [*common, "--dump-dom", page.as_uri()], capture_output=True, text=True, timeout=60, check=True
    ).stdout
    subprocess.run(
        [*common, "--hide-scrollbars", "--window-size=1200,4000", f"--screenshot={shot}", page.as_uri()],
        capture_output=True,
        timeout=60,
        check=True,
    )
    assert dom.count("<svg") >= 6 and dom.count("<polyline") >= 8
    assert len(re.findall(r'data-flag="F\d"', dom)) == 9
    assert 'data-flag="F5" data-status="flagged"' in dom
    assert "Pattern consistent with antalgic asymmetry" in dom
    png = shot.read_bytes()
    assert png[:8] == b"\x89PNG\r\n\x1a\n"
    width, height = int.from_bytes(png[16:20], "big"), int.from_bytes(png[20:24], "big")
    assert (width, height) == (1200, 4000) and len(png) > 50_000  # a page with drawings, not a blank one
    print(f"screenshot kept at {shot}")
