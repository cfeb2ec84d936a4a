"""The dashboard in a real browser (issue 8): `make demo`'s setup path watched end to end in headless Chromium.

The test starts the demo exactly as ``make demo`` does (``python -m server.demo``, on a free port and a temporary
data folder, no ``--duration-s``), reads the printed address and token, and with Playwright driving Debian's
chromium (``/usr/bin/chromium``, not a downloaded browser): signs in through the form, lands on the live session,
sees the three sensors connected, the trace canvas redrawing, the stride count growing and a flag raised (the demo
walker, ``anterior_tilt_compensation``: live, F2 is flagged at low confidence once 10 strides per side are in, about
15 s into the session; the stored report flags F1 and F2; the test allows 90 s), stops
the session, follows to the report page and sees the stored report in its frame once the analysis is done. Then
Ctrl-C (SIGINT) must stop the demo cleanly.

Screenshots of every step are kept as test artifacts in ``tests/artifacts/dashboard/`` (ignored by git), and the
demo's output and the browser console next to them, to look at when the test fails.

Skipped when chromium or the ``playwright`` package is missing (``make test`` installs both).
"""

from __future__ import annotations

import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[2]
ARTIFACTS = ROOT / "tests" / "artifacts" / "dashboard"

CHROMIUM = "/usr/bin/chromium" if os.access("/usr/bin/chromium", os.X_OK) else shutil.which("chromium")
try:
    from playwright.sync_api import Page, sync_playwright
    from playwright.sync_api import TimeoutError as PlaywrightTimeout

    _PLAYWRIGHT_ERROR = ""
except ImportError as exc:  # pragma: no cover - depends on the environment
    _PLAYWRIGHT_ERROR = f"playwright not importable ({exc}); pip install -e '.[test]'"

pytestmark = [
    pytest.mark.skipif(CHROMIUM is None, reason="chromium not installed (make test installs Debian's package)"),
    pytest.mark.skipif(bool(_PLAYWRIGHT_ERROR), reason=_PLAYWRIGHT_ERROR),
]

STARTUP_S = 60  # the demo prints its address and token
FLAG_S = 90  # walking until the first flag (about 15 s live)
REPORT_S = 60  # stop → offline analysis done and the report shown
EXIT_S = 60  # Ctrl-C → the demo has exited


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class Demo:
    proc: subprocess.Popen[str]
    url: str = ""
    token: str = ""
    lines: list[str] = field(default_factory=list)
    reader: threading.Thread | None = None

    @property
    def output(self) -> str:
        return "".join(self.lines)


@pytest.fixture
def demo(tmp_path: Path) -> Iterator[Demo]:
    """``make demo`` on a free port; stopped with SIGINT (Ctrl-C) by the test, killed here if still running."""
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    for old in ARTIFACTS.glob("*"):
        old.unlink()
    port = _free_port()
    proc = subprocess.Popen(
        [sys.executable, "-m", "server.demo", "--port", str(port), "--data-dir", str(tmp_path / "data")],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        bufsize=1,
    )
    run = Demo(proc)
    ready = threading.Event()

    def pump() -> None:
        assert proc.stdout is not None
        for line in proc.stdout:
            run.lines.append(line)
            if m := re.search(r"Open\s+(http://\S+/#/live/\S+)", line):
                run.url = m.group(1)
            if m := re.search(r"Token\s+(fg_\S+)", line):
                run.token = m.group(1)
            if run.url and run.token:
                ready.set()
        ready.set()  # the demo ended (the test reports its output)

    reader = threading.Thread(target=pump, daemon=True)
    reader.start()
    run.reader = reader
    ready.wait(STARTUP_S)
    try:
        assert run.url and run.token, f"the demo printed no address and token in {STARTUP_S} s:\n{run.output}"
        yield run
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(10)
        reader.join(5)
        (ARTIFACTS / "demo-output.txt").write_text(run.output)


def _shot(page: Page, name: str) -> None:
    page.screenshot(path=str(ARTIFACTS / f"{name}.png"), full_page=True)


def _wait(page: Page, what: str, script: str, arg: Any = None, timeout_s: float = 30) -> Any:
    """page.wait_for_function with a failure message that says what was awaited (and a screenshot)."""
    try:
        return page.wait_for_function(script, arg=arg, timeout=timeout_s * 1000, polling=250).json_value()
    except PlaywrightTimeout:
        _shot(page, f"failed-{re.sub(r'[^a-z0-9]+', '-', what.lower())}")
        pytest.fail(f"waited {timeout_s:.0f} s for {what}; screenshot in {ARTIFACTS}")


def test_demo_live_session_in_headless_chromium(demo: Demo) -> None:
    console: list[str] = []
    page_errors: list[str] = []
    sid = demo.url.rsplit("/", 1)[-1]
    started = time.monotonic()
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, headless=True, args=["--no-sandbox"])
        try:
            page = browser.new_page(viewport={"width": 1280, "height": 900})
            page.on("console", lambda m: console.append(f"{m.type}: {m.text}"))
            page.on("pageerror", lambda e: page_errors.append(str(e)))

            # 1. the printed address, not signed in yet → the sign-in form
            page.goto(demo.url)
            page.get_by_test_id("signin-form").wait_for(timeout=15_000)
            page.get_by_test_id("token-input").fill(demo.token)
            _shot(page, "01-signin")
            page.get_by_test_id("signin-submit").click()

            # 2. back on the live session, signed in
            _wait(page, "the live page after signing in", f"location.hash === '#/live/{sid}'", timeout_s=15)
            _wait(
                page,
                "the live feed to open",
                "document.querySelector('[data-testid=live-connection]')?.dataset.state === 'open'",
            )
            _wait(
                page,
                "the three sensor cards to show connected",
                """() => {
                    const cards = [...document.querySelectorAll('[data-testid=sensor-card]')];
                    return cards.length === 3 && cards.every((c) => c.dataset.state === 'connected');
                }""",
            )
            _shot(page, "02-live-connected")

            # 3. the traces scroll: the canvas pixels change, and the stride count grows
            canvas = "document.querySelector('[data-testid=trace-canvas]')"
            before = page.evaluate(f"{canvas}.toDataURL()")
            _wait(
                page,
                "the trace canvas to redraw",
                f"(before) => {canvas}.toDataURL() !== before",
                arg=before,
                timeout_s=10,
            )
            count = "Number(document.querySelector('[data-testid=stride-count]').textContent)"
            first = _wait(page, "the first strides", f"() => {count} > 0 && {count}", timeout_s=30)
            _wait(page, "the stride count to grow", f"(n) => {count} > n", arg=first, timeout_s=15)
            # the text readout shows the numbers of the frame on the canvas (it lagged up to a second), and no two
            # labels on the canvas overlap (the tick labels of neighbouring strips crowded each other)
            drawn = page.evaluate(
                f"""() => {{
                    const c = {canvas};
                    const readout = document.querySelector('[data-testid=trace-readout]');
                    const boxes = c.traceLabels || [];
                    const clash = [];
                    boxes.forEach((a, i) => boxes.slice(i + 1).forEach((b) => {{
                        if (a.x < b.x + b.w && b.x < a.x + a.w && a.y < b.y + b.h && b.y < a.y + a.h)
                            clash.push(`${{a.text}} / ${{b.text}}`);
                    }}));
                    return {{canvas: c.dataset.tEnd, readout: readout.dataset.tEnd, text: readout.textContent,
                             labels: boxes.map((b) => b.text), clash}};
                }}"""
            )
            assert drawn["canvas"] and drawn["readout"] == drawn["canvas"], drawn
            assert drawn["text"].startswith("Now: tilt "), drawn
            assert len(drawn["labels"]) >= 10 and not drawn["clash"], drawn
            _shot(page, "03-live-walking")

            # 4. a flag is raised while the patient walks
            flagged = _wait(
                page,
                "a flag raised on the live page",
                """() => [...document.querySelectorAll('[data-testid=flag-item][data-status=flagged]')]
                        .map((f) => `${f.dataset.flagId}:${f.dataset.level}`).join(' ')""",
                timeout_s=FLAG_S,
            )
            assert re.search(r"\bF[12]:", flagged), f"expected F1 or F2 flagged for this walker, got {flagged}"
            page.locator("[data-testid=flag-item][data-status=flagged]").first.scroll_into_view_if_needed()
            _shot(page, "04-live-flagged")
            assert int(page.get_by_test_id("stride-count").text_content() or 0) > first

            # 5. stop (button, then the confirmation) → the report page
            page.get_by_test_id("stop-button").click()
            page.get_by_test_id("stop-confirm").wait_for(state="visible", timeout=5_000)
            _shot(page, "05-stop-confirm")
            page.get_by_test_id("stop-confirm").click()
            _wait(page, "the report page after stopping", "location.hash.startsWith('#/reports/')", timeout_s=30)
            _wait(
                page,
                "the analysis to be done",
                """() => {
                    const s = document.querySelector('[data-testid=analysis-status]')?.dataset.status;
                    if (s === 'failed' || s === 'missing') throw new Error(`analysis ${s}`);
                    return s === 'done';
                }""",
                timeout_s=REPORT_S,
            )
            page.get_by_test_id("report-iframe").wait_for(timeout=15_000)
            report = page.frame_locator("[data-testid=report-iframe]")
            report.get_by_text("FusionGait").first.wait_for(timeout=15_000)
            report_text = report.locator("body").inner_text()
            assert re.search(r"\bF[12]\b", report_text), "the stored report names the flags"
            _shot(page, "06-report")
        finally:
            browser.close()
            (ARTIFACTS / "browser-console.txt").write_text(
                "\n".join(console + [f"pageerror: {e}" for e in page_errors])
            )

    assert not page_errors, f"uncaught errors in the page: {page_errors}"

    # 6. Ctrl-C stops the demo cleanly
    demo.proc.send_signal(signal.SIGINT)
    try:
        code = demo.proc.wait(EXIT_S)
    except subprocess.TimeoutExpired:
        pytest.fail(f"the demo did not exit within {EXIT_S} s of SIGINT:\n{demo.output}")
    if demo.reader is not None:
        demo.reader.join(10)
    assert code == 0, f"the demo exited with {code} after SIGINT:\n{demo.output}"
    assert "Traceback" not in demo.output, demo.output
    print(f"dashboard browser test: {time.monotonic() - started:.0f} s; screenshots in {ARTIFACTS}")
