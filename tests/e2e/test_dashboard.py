"""The dashboard in real headless Chromium, against a real ``b1e55ed run`` process (simulated market, paper).

The server runs in a subprocess with an API token, so the browser goes through the token prompt once and the
kill-switch control is live. Live updates are triggered with ``POST /scan`` rather than waited for. Timings (first
load, SSE message → panel swapped) are recorded in ``tests/artifacts/dashboard_timings.json`` and printed, never
asserted; the screenshot goes to ``tests/artifacts/dashboard.png``.

Playwright's sync API runs its own asyncio loop in a thread, so these are plain (non-trio) tests.
"""

from __future__ import annotations

import json
import os
import re
import signal
import statistics
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx
import pytest
from playwright.sync_api import Browser, BrowserContext, ConsoleMessage, Page, sync_playwright

from b1e55ed.api.security import SESSION_COOKIE, session_value
from b1e55ed.api.server import free_port
from b1e55ed.config import Secret

CHROMIUM = Path("/usr/bin/chromium")
ARTIFACTS = Path(__file__).resolve().parents[1] / "artifacts"
TOKEN = "e2e-dashboard-token-0123456789"
START_TIMEOUT_S = 60.0
SCANS = 4
LOADS = 5

ROUND_TRIP = (
    "async () => { const t = performance.now(); await (await fetch('/health')).text(); return performance.now() - t; }"
)
"""The baseline for a live update: one bare request from the page, with no rendering."""

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(not CHROMIUM.exists(), reason=f"{CHROMIUM} is missing: `make browser` installs it"),
]


class Desk:
    """The running server: its address, an authorised HTTP client, and the figures the tests collect."""

    def __init__(self, base: str, log: Path) -> None:
        self.base = base
        self.log = log
        self.http = httpx.Client(base_url=base, headers={"Authorization": f"Bearer {TOKEN}"}, timeout=60.0)
        self.timings: dict[str, list[float]] = {}

    def scan(self) -> int:
        response = self.http.post("/scan")
        assert response.status_code == 200, response.text
        cycle: int = response.json()["cycle"]
        return cycle

    def record(self, name: str, value: float) -> None:
        self.timings.setdefault(name, []).append(round(value, 2))


@pytest.fixture(scope="module")
def desk(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Desk]:
    with _running_desk(tmp_path_factory.mktemp("desk"), {}) as desk:
        desk.scan()  # a second cycle, so every panel has data before the first page load
        yield desk
        _write_timings(desk)


@contextmanager
def _running_desk(workdir: Path, settings: dict[str, str]) -> Iterator[Desk]:
    port = free_port()
    inherited = {name: value for name, value in os.environ.items() if not name.startswith("B1E55ED_")}
    env = {
        **inherited,
        "B1E55ED_API__PORT": str(port),
        "B1E55ED_API__AUTH_TOKEN": TOKEN,
        "B1E55ED_API__RATE_LIMIT_PER_MIN": "0",
        "B1E55ED_MARKET__SIM_PACE": "wall",
        "B1E55ED_BRAIN__INTERVAL_S": "3600",  # no timed cycle during the test: POST /scan drives them
        **settings,
    }
    log = workdir / "server.log"
    with log.open("wb") as out:
        process = subprocess.Popen(
            [sys.executable, "-m", "b1e55ed", "run", "--market", "sim"],
            cwd=workdir,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    desk = Desk(f"http://127.0.0.1:{port}", log)
    try:
        _wait_ready(desk, process)
        yield desk
    finally:
        desk.http.close()
        process.send_signal(signal.SIGINT)
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def _wait_ready(desk: Desk, process: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + START_TIMEOUT_S
    while time.monotonic() < deadline:
        if process.poll() is not None:
            pytest.fail(f"the server exited with {process.returncode}:\n{desk.log.read_text()[-3000:]}")
        try:
            health = desk.http.get("/health")
            if health.status_code == 200 and health.json()["last_cycle"] is not None:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.2)
    pytest.fail(
        f"the server did not settle a first cycle within {START_TIMEOUT_S:g} s:\n{desk.log.read_text()[-3000:]}"
    )


BASELINES = {
    "first_load_ms": "baseline_page_html_only_ms",
    "dom_ready_ms": "baseline_page_html_only_ms",
    "sse_message_to_panel_ms": "baseline_health_fetch_ms",
    "panel_fetch_and_swap_ms": "baseline_health_fetch_ms",
}
"""Each figure's baseline, measured in the same run: the page's HTML alone, and one bare request from the page."""


def _write_timings(desk: Desk) -> None:
    medians = {name: statistics.median(values) for name, values in desk.timings.items()}
    summary: dict[str, Any] = {}
    for name, values in sorted(desk.timings.items()):
        figures: dict[str, Any] = {"median_ms": round(medians[name], 2), "n": len(values)}
        baseline = BASELINES.get(name)
        if baseline in medians and medians[baseline] > 0:
            figures["baseline"] = baseline
            figures["ratio"] = round(medians[name] / medians[baseline], 2)
        summary[name] = {**figures, "samples_ms": values}
        print(json.dumps({"figure": name, **figures}))
    summary["load_average"] = os.getloadavg()
    ARTIFACTS.mkdir(exist_ok=True)
    (ARTIFACTS / "dashboard_timings.json").write_text(json.dumps(summary, indent=2) + "\n")


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=str(CHROMIUM), args=["--no-sandbox", "--disable-background-networking"]
        )
        yield browser
        browser.close()


class Console:
    """Every console error, uncaught exception and failed request a page produced."""

    def __init__(self, page: Page) -> None:
        self.errors: list[str] = []
        page.on("console", self._console)
        page.on("pageerror", lambda error: self.errors.append(f"uncaught: {error}"))
        page.on("requestfailed", lambda request: self._failed(request.url, request.failure or ""))
        page.on("response", lambda response: self._status(response.url, response.status))

    def _console(self, message: ConsoleMessage) -> None:
        if message.type == "error":
            self.errors.append(f"console: {message.text}")

    def _failed(self, url: str, failure: str) -> None:
        if "/stream" not in url:  # the SSE stream is cut when the page closes
            self.errors.append(f"request failed: {url}: {failure}")

    def _status(self, url: str, status: int) -> None:
        if status >= 400:
            self.errors.append(f"HTTP {status}: {url}")


def _context(browser: Browser, desk: Desk, *, signed_in: bool = True) -> BrowserContext:
    context = browser.new_context(viewport={"width": 1440, "height": 1000})
    context.set_default_timeout(10_000)
    if signed_in:
        cookie = session_value(Secret(TOKEN))
        context.add_cookies([{"name": SESSION_COOKIE, "value": cookie, "url": desk.base}])
    return context


@pytest.fixture
def page(browser: Browser, desk: Desk) -> Iterator[tuple[Page, Console]]:
    context = _context(browser, desk)
    page = context.new_page()
    console = Console(page)
    page.goto(desk.base + "/")
    page.wait_for_selector('#feed[data-state="live"]')
    yield page, console
    context.close()


@pytest.mark.slow
def test_dashboard_loads_without_console_errors(browser: Browser, desk: Desk) -> None:
    context = _context(browser, desk)
    page = context.new_page()
    console = Console(page)
    for _ in range(LOADS):
        page.goto(desk.base + "/", wait_until="load")
        timing = page.evaluate(
            "() => { const n = performance.getEntriesByType('navigation')[0]; return {load: n.loadEventEnd"
            " - n.startTime, ready: n.domContentLoadedEventEnd - n.startTime, html: n.responseEnd - n.startTime}; }"
        )
        desk.record("first_load_ms", timing["load"])
        desk.record("dom_ready_ms", timing["ready"])
        desk.record("baseline_page_html_only_ms", timing["html"])
    page.wait_for_selector('#feed[data-state="live"]')
    for panel in ("prices", "equity", "killswitch", "status", "positions", "scorecard", "signals", "decisions"):
        assert page.locator(f"#{panel}").is_visible(), panel
    assert page.locator("#prices li[data-symbol]").count() == 3
    page.evaluate("() => document.fonts.ready")
    loaded = page.evaluate(
        "() => [...document.fonts].filter(f => f.status === 'loaded').map(f => f.family + ' ' + f.weight)"
    )
    assert "JetBrains Mono 300" in loaded
    page.wait_for_timeout(300)  # late console errors (favicon, fonts) surface here
    context.close()
    assert console.errors == []


@pytest.mark.slow
def test_a_scan_arrives_over_sse_and_refreshes_the_panels(page: tuple[Page, Console], desk: Desk) -> None:
    tab, console = page
    for _ in range(SCANS):
        tab.evaluate("() => { window.b1e55ed.updates = []; }")
        started = time.perf_counter()
        cycle = desk.scan()
        tab.wait_for_selector(f'#last-cycle[data-cycle="{cycle}"]')
        tab.wait_for_selector(f'#decisions tr[data-cycle="{cycle}"]')
        desk.record("scan_to_status_panel_ms", (time.perf_counter() - started) * 1000)
        tab.wait_for_function("() => window.b1e55ed.updates.some(u => u.panel === 'sync')")
        desk.record("baseline_health_fetch_ms", tab.evaluate(ROUND_TRIP))
        for update in tab.evaluate("() => window.b1e55ed.updates"):
            if update["fromMessageMs"] is not None:
                desk.record("sse_message_to_panel_ms", update["fromMessageMs"])
            desk.record("panel_fetch_and_swap_ms", update["fetchMs"])
    assert tab.locator(f'#signals tr[data-cycle="{cycle}"]').count() > 0
    assert tab.evaluate("() => window.b1e55ed.messages") > 0
    assert (
        tab.locator("#feed-last").inner_text().startswith(("signal", "decision", "order", "fill", "position", "cycle"))
    )
    assert console.errors == []


@pytest.mark.slow
def test_the_price_monitor_shows_simulated_mids_updating_over_sse(page: tuple[Page, Console]) -> None:
    tab, console = page
    btc = tab.locator('#prices li[data-symbol="BTC"]')
    tab.wait_for_function("() => window.b1e55ed.priceFrames >= 1", timeout=15_000)  # polled every 5 s
    first = (btc.locator("[data-price]").get_attribute("data-mid"), btc.locator("[data-price]").inner_text())
    frames = tab.evaluate("() => window.b1e55ed.priceFrames")
    tab.wait_for_function("(n) => window.b1e55ed.priceFrames > n", arg=frames, timeout=15_000)
    second = (btc.locator("[data-price]").get_attribute("data-mid"), btc.locator("[data-price]").inner_text())
    assert first[0]
    assert second[0]
    assert first[0] != second[0], "the mid did not move between two polls"
    assert first[1] != second[1]
    assert re.fullmatch(r"[0-9]{1,3}(,[0-9]{3})*\.[0-9]{2}", second[1]), second[1]  # as the server writes it
    assert re.fullmatch(r"mid \d\d:\d\d:\d\d · close [0-9,.]+", btc.locator("[data-quote]").inner_text())
    assert tab.locator("#prices-note").text_content() == "live mids · last close per cycle"
    assert tab.locator("#simulated").is_visible()  # simulated mids, labelled as such
    assert console.errors == []


@pytest.mark.slow
def test_the_signal_filter_narrows_the_table(page: tuple[Page, Console]) -> None:
    tab, console = page
    rows = tab.locator("#signals tbody tr")
    before = [(row.get_attribute("data-producer"), row.get_attribute("data-symbol")) for row in rows.all()]
    symbols = sorted({symbol for _, symbol in before if symbol})
    assert len(symbols) >= 2, f"the simulated market gave signals for {symbols} only"
    chosen = symbols[0]
    tab.select_option('#signal-filter select[name="symbol"]', chosen)
    tab.wait_for_function(
        "(symbol) => [...document.querySelectorAll('#signals tbody tr')].every(r => r.dataset.symbol === symbol)",
        arg=chosen,
    )
    after = [row.get_attribute("data-symbol") for row in rows.all()]
    assert after
    assert set(after) == {chosen}
    assert len(after) < len(before)
    assert console.errors == []


@pytest.mark.slow
def test_the_decision_drill_down_opens(page: tuple[Page, Console]) -> None:
    tab, console = page
    taken = tab.locator('#decisions tr[data-taken="true"]')
    row = taken.first if taken.count() else tab.locator("#decisions tr[data-decision]").first
    decision_id = row.get_attribute("data-decision")
    row.click()
    article = tab.locator(f'#drilldown article[data-decision="{decision_id}"]')
    article.wait_for()
    assert row.get_attribute("aria-current") == "true"
    text = article.inner_text().lower()
    for section in ("producers", "context", "sizing", "risk checks"):
        assert section in text
    if taken.count():
        assert article.locator("[data-check]").count() > 0
    ARTIFACTS.mkdir(exist_ok=True)
    tab.screenshot(path=str(ARTIFACTS / "dashboard.png"), full_page=True)
    assert console.errors == []


@pytest.mark.slow
def test_the_kill_switch_control_halts_and_resumes_over_sse(page: tuple[Page, Console], desk: Desk) -> None:
    tab, console = page
    tab.on("dialog", lambda dialog: dialog.accept())
    tab.click('button[data-killswitch="HALTED"]')
    tab.wait_for_selector('#trading-state[data-state="HALTED"]')
    assert desk.http.get("/health").json()["killswitch"] == "HALTED"
    assert tab.locator('button[data-killswitch="HALTED"]').is_disabled()
    tab.click('button[data-killswitch="ACTIVE"]')
    tab.wait_for_selector('#trading-state[data-state="ACTIVE"]')
    assert desk.http.get("/health").json()["killswitch"] == "ACTIVE"
    assert console.errors == []


@pytest.mark.slow
def test_the_token_prompt_refuses_a_wrong_token_then_opens_the_desk(browser: Browser, desk: Desk) -> None:
    context = _context(browser, desk, signed_in=False)
    tab = context.new_page()
    console = Console(tab)
    tab.goto(desk.base + "/")
    assert tab.locator("#prices").count() == 0
    tab.fill("#token-input", "not-the-token")
    tab.click('#token-form button[type="submit"]')
    tab.wait_for_selector("#token-error:text('Wrong token.')")
    refused = [error for error in console.errors if "/auth/session" in error or "401" in error]
    assert refused, "the wrong token was not refused"
    console.errors = [error for error in console.errors if error not in refused]
    tab.fill("#token-input", TOKEN)
    tab.click('#token-form button[type="submit"]')
    tab.wait_for_selector('#feed[data-state="live"]')
    assert tab.locator("#signals tbody tr").count() > 0
    tab.goto(desk.base + "/")  # the session cookie keeps it open
    tab.wait_for_selector("#prices")
    context.close()
    assert console.errors == []


KARMA_SETTINGS = {
    "B1E55ED_TIMEFRAME": "1s",  # a bar closes every second, so virtual positions mature between scans
    "B1E55ED_KARMA__HORIZON_BARS": "1",
    "B1E55ED_KARMA__MIN_SAMPLES": "0",
}


@pytest.mark.slow
def test_the_karma_panel_draws_reliability_scorecards_and_updates_over_sse(
    browser: Browser, tmp_path_factory: pytest.TempPathFactory
) -> None:
    with _running_desk(tmp_path_factory.mktemp("karma-desk"), KARMA_SETTINGS) as desk:
        context = _context(browser, desk)
        tab = context.new_page()
        console = Console(tab)
        tab.goto(desk.base + "/")
        tab.wait_for_selector('#feed[data-state="live"]')
        assert tab.locator("#karma").is_visible()
        scored: list[dict[str, Any]] = []
        for _ in range(30):  # each scan a bar later: the last scan's positions mature, calibrated from the second
            time.sleep(1.1)
            desk.scan()
            scored = desk.http.get("/karma").json()["sources"]
            if any(b["count"] for card in scored for b in card["reliability"]):
                break
        assert scored, "nothing was scored in 30 one-second bars"
        tab.wait_for_selector("#karma figure.karma-reliability circle", state="attached")
        diagram = tab.locator("#karma figure.karma-reliability").first
        assert diagram.locator("svg").get_attribute("aria-label")
        assert tab.locator("#karma table tbody tr").count() >= len(scored)
        context.close()
        assert console.errors == []
