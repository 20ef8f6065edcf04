"""A browser made of HTTP form posts: follows the emulator's login and consent pages.

It reads each page's form (action, hidden inputs), fills what a person would type, and
submits it as the browser would, so tests drive the whole web server flow without a real
browser. Redirects are not followed automatically: each step is asserted.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from html.parser import HTMLParser
from typing import Any
from urllib.parse import urljoin

import requests

from runner.api.oauth import LoginResult, start_login


@dataclass
class Form:
    action: str
    method: str
    fields: dict[str, str] = field(default_factory=dict)
    buttons: dict[str, str] = field(default_factory=dict)  # id -> "name=value"


class _FormParser(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.forms: list[Form] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = {k: v or "" for k, v in attrs}
        if tag == "form":
            self.forms.append(Form(a.get("action", ""), a.get("method", "get").upper()))
        elif tag == "input" and self.forms and a.get("type") == "hidden":
            self.forms[-1].fields[a["name"]] = a.get("value", "")
        elif tag == "button" and self.forms:
            self.forms[-1].buttons[a.get("id", "")] = f"{a.get('name')}={a.get('value')}"


def forms(page: str) -> list[Form]:
    parser = _FormParser()
    parser.feed(page)
    return parser.forms


class FormBrowser:
    def __init__(self, ca_file: str) -> None:
        self.http = requests.Session()
        self.http.trust_env = False
        self.http.verify = ca_file

    def open(self, url: str) -> requests.Response:
        return self.http.get(url, allow_redirects=False)

    def submit(self, page: requests.Response, values: dict[str, str],
               button: str | None = None) -> requests.Response:
        (form,) = forms(page.text)
        data = dict(form.fields)
        data.update(values)
        if button is not None:
            name, _, value = form.buttons[button].partition("=")
            data[name] = value
        return self.http.request(form.method, urljoin(page.url, form.action), data=data,
                                 allow_redirects=False)

    def log_in(self, authorize_url: str, username: str, password: str,
               button: str = "oaapprove") -> str:
        """Open the authorize URL, log in, press Allow (or ``oadeny``); the redirect URL."""
        login = self.open(authorize_url)
        assert login.status_code == 200, login.text
        consent = self.submit(login, {"username": username, "pw": password})
        assert consent.status_code == 200 and "Allow Access?" in consent.text, consent.text
        back = self.submit(consent, {}, button=button)
        assert back.status_code == 302, back.text
        return back.headers["Location"]


def approve_in_browser(handle: Any) -> LoginResult:
    """What a user does in the studio: log in with Salesforce on the emulator and approve.
    The refresh token (``.refresh_token``) is what a ``refresh_token`` connection keeps."""
    login = start_login(handle.login_url, handle.consumer_key, ca_file=handle.ca_file,
                        timeout=30)
    back = FormBrowser(handle.ca_file).log_in(login.authorize_url, handle.username,
                                              handle.password)
    callback = requests.Session()
    callback.trust_env = False
    assert callback.get(back).status_code == 200
    return login.wait()
