"""Waiting on a page in headless Chromium, within the page's Content-Security-Policy."""

from __future__ import annotations

import time

from playwright.sync_api import Page


def wait_in_page(page: Page, expression: str, timeout_ms: float = 30_000) -> None:
    """Until the expression holds in the page. Playwright's wait_for_function evaluates a
    string with eval, which the wall's Content-Security-Policy forbids (as it should);
    page.evaluate goes through the DevTools protocol, which the policy does not cover."""
    deadline = time.monotonic() + timeout_ms / 1000
    while not page.evaluate(expression):
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout_ms} ms waiting for {expression}")
        time.sleep(0.05)
