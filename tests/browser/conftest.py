"""Browser tests: Debian's Chromium, headless, driven by Playwright against `live_server`.

Each test runs in a transaction-less database (the server thread must see what the test wrote)
restored from the migrations' data afterwards, so the drug catalogue is there in every test.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from pathlib import Path
from urllib.parse import urljoin

import pytest
from django.conf import settings
from django.db import connections
from django.test import Client

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
ARTIFACTS = Path(__file__).resolve().parent.parent / "artifacts"
AXE = Path(__file__).resolve().parent / "vendor" / "axe.min.js"
TABLET = {"width": 1024, "height": 768}
BLOCKING_IMPACTS = ("serious", "critical")


@pytest.fixture
def browser(monkeypatch):
    """Chromium for one test, or a skip (a failure under TDM_REQUIRE_SERVICES=1) saying why it
    is missing. Started after the test's database is set up and stopped before it is flushed."""

    def unavailable(reason: str):
        if settings.TDM_REQUIRE_SERVICES:
            pytest.fail(f"TDM_REQUIRE_SERVICES=1 but the browser tests cannot run: {reason}")
        pytest.skip(reason)

    try:
        from playwright.sync_api import Error, sync_playwright
    except ImportError:
        unavailable("the playwright package is not installed (requirements-dev.txt)")
    if not CHROMIUM.exists():
        unavailable(f"no Chromium at {CHROMIUM} (Debian package `chromium`)")
    # Playwright's sync API runs an event loop in this thread. Django then refuses ORM calls
    # (nothing here is asynchronous, so that check is lifted while the browser runs) and looks
    # its connections up per async context instead of per thread: hand it the connections it
    # already has, which hold the test database and its serialized catalogue for restoring.
    opened = {alias: connections[alias] for alias in connections}
    monkeypatch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
    with sync_playwright() as playwright:
        for alias, connection in opened.items():
            connections[alias] = connection
        try:
            chromium = playwright.chromium.launch(
                executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_ARGS
            )
        except Error as error:
            unavailable(f"Chromium at {CHROMIUM} does not start: {error}")
        yield chromium
        chromium.close()


@pytest.fixture
def open_page(browser, live_server) -> Iterator[Callable]:
    """`open_page(user)` is a tablet-sized page logged in as `user` (a session made for it);
    `open_page()` is one logged in as nobody."""
    contexts = []

    def new_page(user=None, *, viewport: dict[str, int] = TABLET):
        # The browser's clock runs in the site's time zone, as on a ward PC.
        context = browser.new_context(
            viewport=viewport,
            base_url=live_server.url,
            locale="en-GB",
            timezone_id=settings.TIME_ZONE,
        )
        contexts.append(context)
        if user is not None:
            client = Client()
            client.force_login(user)
            session = client.cookies[settings.SESSION_COOKIE_NAME].value
            context.add_cookies(
                [{"name": settings.SESSION_COOKIE_NAME, "value": session, "url": live_server.url}]
            )
        page = context.new_page()
        page.set_default_timeout(15_000)
        page.on(
            "console",
            lambda message: (
                refused.append(f"{page.url}: {message.text}")
                if "Content Security Policy" in message.text
                else None
            ),
        )
        return page

    refused: list[str] = []
    yield new_page
    for context in contexts:
        context.close()
    assert not refused, "the Content-Security-Policy blocked:\n" + "\n".join(refused)


@pytest.fixture
def screenshot() -> Callable:
    """`screenshot(page, name)`: a full-page PNG in tests/artifacts/ to look at."""

    def save(page, name: str) -> Path:
        ARTIFACTS.mkdir(exist_ok=True)
        path = ARTIFACTS / f"{name}.png"
        page.screenshot(path=str(path), full_page=True)
        return path

    return save


def serious_violations(page) -> list[dict]:
    """The axe-core rules of WCAG A/AA and best practice that the page breaks seriously."""
    # From the page's own origin, answered by the test: the Content-Security-Policy allows no
    # inline script, and the check must see the page as the policy leaves it.
    axe_url = urljoin(page.url, "/axe-core-for-the-test.js")
    page.route(axe_url, lambda route: route.fulfill(path=str(AXE), content_type="text/javascript"))
    page.add_script_tag(url=axe_url)
    # `iframes: false`: the embedded PDF is not a document axe can enter.
    result = page.evaluate(
        """async () => await axe.run(document, {
            iframes: false,
            resultTypes: ["violations"],
        })"""
    )
    # axe no longer reports repeated ids, yet a repeated id ties a label to the wrong input.
    repeated = page.evaluate(
        """() => {
            const seen = {};
            document.querySelectorAll("[id]").forEach(e => { seen[e.id] = (seen[e.id] || 0) + 1; });
            return Object.keys(seen).filter(id => seen[id] > 1);
        }"""
    )
    duplicates = [{"rule": "unique-id", "impact": "serious", "nodes": repeated}] if repeated else []
    return duplicates + [
        {
            "rule": v["id"],
            "impact": v["impact"],
            "help": v["help"],
            "nodes": [node["target"] for node in v["nodes"]][:5],
        }
        for v in result["violations"]
        if v["impact"] in BLOCKING_IMPACTS
    ]


@pytest.fixture
def assert_accessible() -> Callable:
    """`assert_accessible(page)`: axe-core finds no serious or critical violation."""

    def check(page) -> None:
        violations = serious_violations(page)
        assert not violations, f"{page.url}:\n{json.dumps(violations, indent=2)}"

    return check
