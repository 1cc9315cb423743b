"""What the browser tests share: Debian's Chromium driven by Playwright, the flags it needs on a machine with no
way out, the phone and desktop screens the pages are tried on, and what a test does with a page (screenshots,
its errors, signing in). The fixtures are in conftest.py."""
from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

CHROMIUM = os.environ.get("REPLENISH_CHROMIUM", "/usr/bin/chromium")
ARGS = ["--headless=new", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
        "--disable-background-networking", "--disable-component-update", "--disable-sync"]
PHONE = {"viewport": {"width": 390, "height": 844}, "is_mobile": True, "has_touch": True, "device_scale_factor": 2}
DESKTOP = {"viewport": {"width": 1280, "height": 900}}
ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts"


def _missing_browser(reason: str):
    if os.environ.get("CI", "").lower() == "true":
        pytest.fail(f"browser tests cannot run under CI: {reason}")
    pytest.skip(reason)


def launched():
    """A headless Chromium for as long as the generator runs (skips, or fails under CI=true, without one)."""
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        _missing_browser("Playwright for Python is not installed (pip install -r requirements-test.txt)")
    if not (os.path.exists(CHROMIUM) or shutil.which(CHROMIUM)):
        _missing_browser(f"Chromium not found at {CHROMIUM} (apt-get install chromium, or scripts/install_browser.py)")
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=ARGS, headless=True)
        yield browser
        browser.close()


def shot(page, name: str, folder: str = "dashboard") -> None:
    """A full-page screenshot to test-artifacts/<folder>/<name>.png."""
    (ARTIFACTS / folder).mkdir(parents=True, exist_ok=True)
    page.evaluate("window.scrollTo(0, 0)")  # a sticky header scrolled to an anchor would land mid-picture
    page.screenshot(path=str(ARTIFACTS / folder / f"{name}.png"), full_page=True)


def page_errors(page, failed_loads_expected: bool = False) -> list[str]:
    """The page's script errors and console errors, as they happen (without "Failed to load resource" lines when
    the test expects failed loads: a refused sign-in, a 400 form, an image host that does not exist)."""
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))

    def console(msg) -> None:
        if msg.type == "error" and not (failed_loads_expected and msg.text.startswith("Failed to load resource")):
            errors.append(msg.text)
    page.on("console", console)
    return errors


def sign_in(page, server: str, token: str) -> None:
    """Signs in on the dashboard with the household token, as a person does: the page asks, the orders follow."""
    page.goto(f"{server}/dashboard/")
    assert "/dashboard/signin" in page.url
    page.fill("#token", token)
    page.click("button:has-text('Sign in')")
    page.wait_for_url(f"{server}/dashboard/")
