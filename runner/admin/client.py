"""A client of the admin API (``/api/v1``), for the command line (``--runner URL``) and the
studio's Operate workspace. Every call has a timeout; every failure is an
:class:`AdminClientError` with one sentence (the API's own ``error`` when it gave one).

The token travels only in the ``Authorization`` header; it is never part of a message.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any
from urllib.parse import quote

import keyring
import keyring.errors
import requests

from runner.errors import RunnerError
from runner.secrets import KEYRING_SERVICE

TOKEN_ENV = "FIELDBRIDGE_ADMIN_TOKEN"
# The keyring entry of a runner's token: system "runner", the runner's URL as the name.
KEYRING_SYSTEM = "runner"
KEYRING_FIELD = "admin_token"
TIMEOUT = 10.0
DEPLOY_TIMEOUT = 120.0  # verify, describe the org, drain a batch


class AdminClientError(RunnerError):
    """The admin API could not be reached or refused; ``status`` is the HTTP status (None:
    no answer)."""

    def __init__(self, message: str, status: int | None = None, detail: Any = None) -> None:
        super().__init__(message)
        self.status = status
        self.detail = detail


def keyring_name(url: str) -> str:
    """The keyring username of a runner's admin token: ``runner:<url>:admin_token``
    (service ``fieldbridge``, as the connections' secrets)."""
    return f"{KEYRING_SYSTEM}:{url.rstrip('/')}:{KEYRING_FIELD}"


def token_for(url: str, env: dict[str, str] | None = None) -> str | None:
    """The token for ``url``: ``FIELDBRIDGE_ADMIN_TOKEN``, else the OS keyring's entry for
    that runner (None when neither has one)."""
    value = (env if env is not None else os.environ).get(TOKEN_ENV)
    if value:
        return value
    try:
        return keyring.get_password(KEYRING_SERVICE, keyring_name(url))
    except Exception:  # no keyring backend: the environment is the way
        return None


def store_token(url: str, token: str | None) -> None:
    """Keep (or with None, forget) a runner's admin token in the OS keyring."""
    try:
        if token:
            keyring.set_password(KEYRING_SERVICE, keyring_name(url), token)
        else:
            keyring.delete_password(KEYRING_SERVICE, keyring_name(url))
    except keyring.errors.PasswordDeleteError:
        return
    except keyring.errors.KeyringError as exc:
        raise AdminClientError(f"the OS keyring refused the admin token: {exc}") from exc


class AdminClient:
    def __init__(self, url: str, token: str, *, timeout: float = TIMEOUT,
                 session: requests.Session | None = None) -> None:
        if not url.startswith(("http://", "https://")):
            raise AdminClientError(f"the runner URL must start with http:// or https://, "
                                   f"got {url[:100]!r}")
        self.url = url.rstrip("/")
        self._token = token
        self.timeout = timeout
        self.session = session or requests.Session()

    def __repr__(self) -> str:  # never the token
        return f"AdminClient({self.url!r})"

    def _call(self, method: str, path: str, *, params: dict[str, Any] | None = None,
              json: Any = None, data: bytes | None = None,
              timeout: float | None = None) -> dict[str, Any]:
        resp, body = self._send(method, path, params=params, json=json, data=data,
                                timeout=timeout)
        if not isinstance(body, dict):
            raise AdminClientError(f"the runner at {self.url} did not answer JSON; is this "
                                   "the admin API?", resp.status_code)
        return body

    def _send(self, method: str, path: str, *, params: dict[str, Any] | None = None,
              json: Any = None, data: bytes | None = None,
              timeout: float | None = None) -> tuple[requests.Response, Any]:
        """The response and its JSON body (None when it is not JSON); an error status is
        an AdminClientError."""
        headers = {"Authorization": f"Bearer {self._token}"}
        if data is not None:
            headers["Content-Type"] = "application/octet-stream"
        try:
            resp = self.session.request(method, f"{self.url}/api/v1{path}", params=params,
                                        json=json, data=data, headers=headers,
                                        timeout=timeout or self.timeout)
        except requests.RequestException as exc:
            raise AdminClientError(f"the runner at {self.url} did not answer: "
                                   f"{type(exc).__name__}") from exc
        try:
            body = resp.json()
        except ValueError:
            body = None
        if resp.status_code >= 400:
            message = body.get("error") if isinstance(body, dict) else None
            detail = body.get("detail") if isinstance(body, dict) else None
            raise AdminClientError(message or f"the runner answered HTTP {resp.status_code}",
                                   resp.status_code, detail)
        return resp, body

    # -- reading
    def status(self) -> dict[str, Any]:
        return self._call("GET", "/status")

    def dead_letters(self, *, flow: str | None = None, code: str | None = None,
                     status: str = "open", page: int = 1, per_page: int = 50
                     ) -> dict[str, Any]:
        params = {"status": status, "page": page, "per_page": per_page}
        params.update({k: v for k, v in (("flow", flow), ("code", code)) if v})
        return self._call("GET", "/dead-letters", params=params)

    def dead_letter(self, id_: int) -> dict[str, Any]:
        return self._call("GET", f"/dead-letters/{int(id_)}")

    def reviews(self, status: str = "open") -> dict[str, Any]:
        return self._call("GET", "/reviews", params={"status": status})

    def running_bundle(self) -> bytes:
        """The ``.fbz`` the runner runs now (AdminClientError 404: it runs a template)."""
        resp, _body = self._send("GET", "/bundle", timeout=DEPLOY_TIMEOUT)
        return resp.content

    def events(self, since: int = 0, limit: int = 200) -> dict[str, Any]:
        return self._call("GET", "/events", params={"since": since, "limit": limit})

    def audit(self, limit: int = 100) -> dict[str, Any]:
        return self._call("GET", "/audit", params={"limit": limit})

    # -- acting
    def replay(self, id_: int) -> dict[str, Any]:
        return self._call("POST", f"/dead-letters/{int(id_)}/replay")

    def replay_cause(self, cause: str) -> dict[str, Any]:
        return self._call("POST", "/dead-letters/replay", json={"cause": cause})

    def discard(self, id_: int) -> dict[str, Any]:
        return self._call("POST", f"/dead-letters/{int(id_)}/discard")

    def approve(self, id_: int, record: str) -> dict[str, Any]:
        return self._call("POST", f"/reviews/{int(id_)}/approve", json={"record": record})

    def reject(self, id_: int, *, create: bool = True) -> dict[str, Any]:
        """None of the candidates: create a new record (``create`` False: drop the item)."""
        return self._call("POST", f"/reviews/{int(id_)}/reject", json={"create": create})

    def pause(self, flow: str) -> dict[str, Any]:
        return self._call("POST", f"/flows/{quote(flow, safe='')}/pause")

    def resume(self, flow: str) -> dict[str, Any]:
        return self._call("POST", f"/flows/{quote(flow, safe='')}/resume")

    def deploy(self, bundle: Path | bytes) -> dict[str, Any]:
        data = bundle if isinstance(bundle, bytes) else Path(bundle).read_bytes()
        return self._call("PUT", "/bundle", data=data, timeout=DEPLOY_TIMEOUT)

    def rollback(self) -> dict[str, Any]:
        return self._call("POST", "/bundle/rollback", timeout=DEPLOY_TIMEOUT)
