"""The browser login with a real browser: headless Chromium (Debian's package) drives the
emulator's login and consent pages through the Chrome DevTools Protocol, and the loopback
listener of runner.api.oauth takes the redirect.

Skipped where Chromium is not installed. aiohttp (already here for localstripe) speaks the
DevTools websocket. The emulator's CA is not in Chromium's store, so certificate errors are
ignored for this throwaway profile only.
"""

from __future__ import annotations

import asyncio
import itertools
import json
import re
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from runner.api.oauth import start_login
from runner.sandbox.salesforce import start_emulator

pytestmark = pytest.mark.slow

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")


@pytest.fixture(scope="module")
def handle(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    h = start_emulator(tmp_path_factory.mktemp("sf-chromium"), reset=True)
    yield h
    h.stop()


@pytest.fixture
def devtools(tmp_path: Path) -> Iterator[str]:
    """A headless Chromium; the DevTools websocket URL of its browser target."""
    if CHROMIUM is None:
        pytest.skip("Chromium is not installed (apt-get install chromium)")
    proc = subprocess.Popen(
        [CHROMIUM, "--headless=new", "--no-sandbox", "--disable-gpu",
         "--ignore-certificate-errors", "--remote-debugging-port=0",
         f"--user-data-dir={tmp_path / 'profile'}", "--no-first-run", "about:blank"],
        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    try:
        assert proc.stderr is not None
        for line in proc.stderr:
            found = re.search(r"DevTools listening on (ws://\S+)", line)
            if found:
                yield found.group(1)
                break
        else:
            pytest.fail("Chromium did not start its DevTools endpoint")
    finally:
        proc.terminate()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()


class Page:
    """Just enough of the DevTools protocol: navigate, evaluate, wait for a condition."""

    def __init__(self, ws: aiohttp.ClientWebSocketResponse, session_id: str) -> None:
        self.ws, self.session_id, self.ids = ws, session_id, itertools.count(1)

    @classmethod
    async def open(cls, ws: aiohttp.ClientWebSocketResponse) -> Page:
        probe = cls(ws, "")
        target = await probe.send("Target.createTarget", url="about:blank", session=False)
        attached = await probe.send("Target.attachToTarget", targetId=target["targetId"],
                                    flatten=True, session=False)
        return cls(ws, attached["sessionId"])

    async def send(self, method: str, *, session: bool = True, **params: Any) -> dict:
        number = next(self.ids)
        message: dict[str, Any] = {"id": number, "method": method, "params": params}
        if session:
            message["sessionId"] = self.session_id
        await self.ws.send_str(json.dumps(message))
        while True:
            answer = json.loads((await self.ws.receive()).data)
            if answer.get("id") == number:
                if "error" in answer:
                    raise AssertionError(f"{method}: {answer['error']}")
                return answer["result"]

    async def evaluate(self, expression: str) -> Any:
        result = await self.send("Runtime.evaluate", expression=expression,
                                 returnByValue=True)
        return result["result"].get("value")

    async def wait_for(self, expression: str, timeout: float = 15.0) -> Any:
        for _ in range(int(timeout / 0.1)):
            try:
                value = await self.evaluate(expression)
            except AssertionError:
                value = None  # the page is navigating
            if value:
                return value
            await asyncio.sleep(0.1)
        raise AssertionError(f"timed out waiting for {expression}")


async def _log_in(devtools: str, authorize_url: str, username: str, password: str) -> str:
    async with aiohttp.ClientSession() as http, http.ws_connect(devtools,
                                                                max_msg_size=0) as ws:
        page = await Page.open(ws)
        await page.send("Page.navigate", url=authorize_url)
        await page.wait_for("document.querySelector('#login_form') !== null")
        await page.evaluate(
            f"document.querySelector('#username').value = {json.dumps(username)};"
            f"document.querySelector('#password').value = {json.dumps(password)};"
            "document.querySelector('#Login').click(); true")
        await page.wait_for("document.querySelector('#oaapprove') !== null")
        await page.evaluate("document.querySelector('#oaapprove').click(); true")
        return await page.wait_for(
            "document.location.href.startsWith('http://127.0.0.1') && "
            "document.body.innerText.includes('close this window') && document.body.innerText")


def test_headless_chromium_logs_in_and_approves(devtools: str, handle: Any) -> None:
    login = start_login(handle.login_url, handle.consumer_key, ca_file=handle.ca_file,
                        timeout=60)
    shown = asyncio.run(_log_in(devtools, login.authorize_url, handle.username,
                                handle.password))
    assert "Fieldbridge" in shown
    result = login.wait()
    assert result.refresh_token and result.user_id == handle.user_id
