"""What the browser tests share: Debian's Chromium driven by Playwright, the flags it needs on a machine with no
way out, and the phone and desktop screens the pages are tried on."""
from __future__ import annotations

import os
import shutil

import pytest

CHROMIUM = os.environ.get("REPLENISH_CHROMIUM", "/usr/bin/chromium")
ARGS = ["--headless=new", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
        "--disable-background-networking", "--disable-component-update", "--disable-sync"]
PHONE = {"viewport": {"width": 390, "height": 844}, "is_mobile": True, "has_touch": True, "device_scale_factor": 2}
DESKTOP = {"viewport": {"width": 1280, "height": 900}}


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
