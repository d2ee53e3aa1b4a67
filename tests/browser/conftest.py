"""Fixtures for the real-browser tests: Chromium, a JupyterLab server, a page."""

from __future__ import annotations

import os

import pytest
from coursehome import seed_home

from .jupyter_harness import (
    browser_missing_reason,
    launch_chromium,
    save_failure_artifacts,
    start_lab,
    stop_lab,
)

# The fixture notebooks are driven by the browser test, not collected by nbval.
collect_ignore_glob = ["fixtures/*"]


@pytest.hookimpl(wrapper=True, tryfirst=True)
def pytest_runtest_makereport(item, call):
    report = yield
    setattr(item, f"rep_{report.when}", report)
    return report


@pytest.fixture(scope="session")
def browser_available():
    """Skip when Chromium or Playwright is missing; fail if TLH_REQUIRE_BROWSER=1."""
    reason = browser_missing_reason()
    if reason:
        if os.environ.get("TLH_REQUIRE_BROWSER") == "1":
            pytest.fail(f"TLH_REQUIRE_BROWSER=1 but {reason}")
        pytest.skip(reason)


@pytest.fixture(scope="session")
def chromium(browser_available):
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = launch_chromium(playwright)
        yield browser
        browser.close()


@pytest.fixture
def lab_server(browser_available, tmp_path):
    """A fresh JupyterLab on a random port and token; stopped even on failure.

    Its kernels' TLH_HOME starts with the session's stored features and
    weights (`coursehome`): the cells before a panel load them, not recompute.
    """
    seed_home(tmp_path / "lab" / "tlh_home")
    server = start_lab(tmp_path / "lab")
    yield server
    stop_lab(server)


@pytest.fixture
def lab_page(request, chromium, lab_server):
    """A fresh browser page; on failure keeps a screenshot and the logs."""
    context = chromium.new_context(viewport={"width": 1400, "height": 1000})
    context.set_default_timeout(30_000)
    page = context.new_page()
    console: list[str] = []
    page.on("console", lambda m: console.append(f"[{m.type}] {m.text}"))
    page.on("pageerror", lambda e: console.append(f"[pageerror] {e}"))
    yield page
    report = getattr(request.node, "rep_call", None)
    if report is None or report.failed:
        save_failure_artifacts(page, request.node.name, console, lab_server)
    context.close()
