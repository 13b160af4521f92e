"""The approval page in a real browser: Debian's headless Chromium, driven by Playwright.

Chromium comes from apt (``.ci/run`` installs it); Playwright's own browser download
does not work here, so the test launches /usr/bin/chromium and skips, saying so, only
when that binary is absent.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from tests.workflow.approvals import ApprovalHarness, approval_harness
from tests.workflow.conftest import fresh
from trailwarden_local.drivers import DRIVERS
from trailwarden_local.samples import load_index

if TYPE_CHECKING:
    from playwright.sync_api import ConsoleMessage

__all__ = ["approval_harness"]

CHROMIUM = Path("/usr/bin/chromium")
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking"]

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(
        not CHROMIUM.exists(),
        reason=f"{CHROMIUM} is absent: install Debian's chromium (apt-get install chromium)",
    ),
]


@pytest.mark.parameters({"ProtectedIpCidrs": ""})
def test_a_human_in_chromium_approves_and_the_nat_ip_leaves_the_set(
    approval_harness: ApprovalHarness,
) -> None:
    from playwright.sync_api import sync_playwright

    harness = approval_harness
    sample = next(s for s in load_index().samples if s.scenario == "nat-ip-blocked")
    prepared = DRIVERS["waf-protected-ip"](harness.app, sample)
    execution = harness.start(fresh(prepared.event))
    link = harness.link()
    problems: list[str] = []

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=ARGS)
        try:
            page = browser.new_page()

            def console(message: ConsoleMessage) -> None:  # CSP violations land here
                if message.type == "error":
                    problems.append(message.text)

            page.on("console", console)
            response = page.goto(link)
            assert response is not None
            assert response.status == 200
            assert response.headers["cache-control"] == "no-store"
            assert page.get_by_text("Opening this page changed nothing").is_visible()
            assert "203.0.113.10/32" in page.content()
            assert harness.status(execution) == "RUNNING"
            assert prepared.read_state() == {"addresses": ["192.0.2.44/32", "203.0.113.10/32"]}

            page.get_by_role("button", name="Approve").click()
            page.get_by_text("Approved. The change is being made now").wait_for()
        finally:
            browser.close()

    result = harness.app.wait_for_execution(execution)
    assert result["status"] == "SUCCEEDED"
    assert prepared.read_state() == {"addresses": ["192.0.2.44/32"]}
    decision = harness.approvals_item()
    assert decision["status"] == {"S": "approved"}
    assert "Chrome" in decision["decidedUserAgent"]["S"]
    assert problems == []


@pytest.mark.parameters({"ProtectedIpCidrs": ""})
def test_a_form_on_another_site_cannot_decide_even_with_the_nonce(
    approval_harness: ApprovalHarness,
) -> None:
    import html
    import threading
    from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

    from playwright.sync_api import sync_playwright

    from trailwarden_local.approval_server import ApprovalClient

    harness = approval_harness
    sample = next(s for s in load_index().samples if s.scenario == "nat-ip-blocked")
    prepared = DRIVERS["waf-protected-ip"](harness.app, sample)
    execution = harness.start(fresh(prepared.event))
    link = harness.link()
    nonce = ApprovalClient().get(link).nonce  # say an unfurler's copy of the page leaked
    assert nonce is not None
    evil = (
        f'<form method="post" action="{html.escape(link)}">'
        f'<input type="hidden" name="nonce" value="{html.escape(nonce)}">'
        '<button id="go" name="decision" value="approve">Win a prize</button></form>'
    ).encode()

    class Evil(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            self.send_response(200)
            self.send_header("Content-Type", "text/html")
            self.send_header("Content-Length", str(len(evil)))
            self.end_headers()
            self.wfile.write(evil)

        def log_message(self, format: str, *args: object) -> None:
            """Quiet."""

    site = ThreadingHTTPServer(("127.0.0.1", 0), Evil)
    threading.Thread(target=site.serve_forever, daemon=True).start()
    try:
        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=ARGS)
            try:
                page = browser.new_page()
                page.goto(f"http://localhost:{site.server_address[1]}/")  # another site
                with page.expect_navigation() as navigation:
                    page.click("#go")
                refused = navigation.value
                assert refused is not None
                assert refused.status == 403
                assert harness.status(execution) == "RUNNING"
                assert harness.approvals_item()["status"] == {"S": "pending"}

                page.goto(link)  # the human, on the page itself, still decides
                page.get_by_role("button", name="Reject").click()
                page.get_by_text("Rejected. Nothing will be changed").wait_for()
            finally:
                browser.close()
    finally:
        site.shutdown()
        site.server_close()

    assert harness.app.wait_for_execution(execution)["status"] == "SUCCEEDED"
    assert harness.approvals_item()["status"] == {"S": "rejected"}
    assert prepared.read_state() == {"addresses": ["192.0.2.44/32", "203.0.113.10/32"]}
