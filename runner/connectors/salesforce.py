"""The runner's Salesforce client: our own OAuth exchange, then ``simple_salesforce``.

We perform the token exchange ourselves because simple-salesforce's login helpers build the
token URL from a ``*.salesforce.com`` domain, and the runner must also talk to My Domain
login URLs and to the local org emulator. Then a ``simple_salesforce.Salesforce`` is bound to
the session on a ``requests.Session`` that:

- verifies TLS with the configured CA file (the emulator's) or the system store, never not
  at all;
- puts a timeout on every request;
- records ``Sforce-Limit-Info`` from every response (the daily API budget for metrics and
  alerts).

Every failure leaves as :class:`ConnectorError` with its :class:`Failure`, raised ``from`` the
original exception. An expired session (``401 INVALID_SESSION_ID``) logs in again once and
repeats the call; for a ``refresh_token`` connection (what "Log in with Salesforce" in the
studio approved) logging in again is the refresh-token grant.
"""

from __future__ import annotations

import csv
import io
import logging
import re
import threading
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal, TypeVar
from urllib.parse import urlsplit

import jwt
import requests
from simple_salesforce import Salesforce, format_soql
from simple_salesforce.exceptions import (
    SalesforceError,
    SalesforceExpiredSession,
    SalesforceOperationError,
)

from runner.classify import Failure, classify_http, classify_record, classify_record_errors
from runner.connectors.errors import ConnectorError, RecordOutcome
from runner.errors import ConfigError

log = logging.getLogger(__name__)

JWT_GRANT = "urn:ietf:params:oauth:grant-type:jwt-bearer"
JWT_LIFETIME_SECONDS = 180  # Salesforce accepts at most 3 minutes ahead
COLLECTION_SIZE = 200  # sObject Collections' per-call limit
QUERY_IN_CHUNK = 200  # values per "IN (...)" clause, far below SOQL's 100,000 characters
_NAME = re.compile(r"^[A-Za-z][A-Za-z0-9_]*$")
_LIMIT_INFO = re.compile(r"api-usage=(\d+)/(\d+)")
_LOOPBACK = frozenset({"127.0.0.1", "localhost", "::1"})

T = TypeVar("T")


@dataclass
class SalesforceSettings:
    """How to reach and log in to one org. Secrets are never shown in ``repr``."""

    login_url: str = "https://login.salesforce.com"
    instance_url: str | None = None  # taken from the token response unless auth="session"
    auth: Literal["jwt", "password", "session", "refresh_token"] = "jwt"
    username: str | None = None
    consumer_key: str | None = None
    private_key_file: str | None = None
    private_key: str | None = field(default=None, repr=False)  # PEM text instead of a file
    password: str | None = field(default=None, repr=False)
    security_token: str | None = field(default=None, repr=False)
    client_secret: str | None = field(default=None, repr=False)
    access_token: str | None = field(default=None, repr=False)
    refresh_token: str | None = field(default=None, repr=False)
    ca_file: str | None = None
    api_version: str = "62.0"
    timeout: float = 30.0
    audience: str | None = None  # the JWT "aud"; default: the login URL
    name: str = "default"
    pubsub_endpoint: str = "api.pubsub.salesforce.com:7443"  # HOST:PORT of the Pub/Sub API

    def secret_values(self) -> list[str]:
        """Every secret this connection holds, for the log redactor."""
        return [v for v in (self.private_key, self.password, self.security_token,
                            self.client_secret, self.access_token, self.refresh_token) if v]


class _Session(requests.Session):
    """A requests session with a default timeout and a pinned TLS verification.

    ``verify`` is passed per request: a session-level ``verify`` is overridden by
    ``REQUESTS_CA_BUNDLE`` when ``trust_env`` is on, and we keep ``trust_env`` for proxies.
    """

    def __init__(self, timeout: float, verify: str | bool) -> None:
        super().__init__()
        self.default_timeout = timeout
        self.pinned_verify = verify

    def request(self, method, url, *args, **kwargs):  # type: ignore[override]  # noqa: ANN001, ANN201
        kwargs.setdefault("timeout", self.default_timeout)
        if kwargs.get("verify") is None:
            kwargs["verify"] = self.pinned_verify
        if urlsplit(str(url)).hostname in _LOOPBACK:
            # A proxy from the environment must not carry loopback traffic (the emulator).
            kwargs.setdefault("proxies", {"http": None, "https": None})
        return super().request(method, url, *args, **kwargs)


def _error_details(content: Any) -> tuple[str | None, str]:
    """``(errorCode, message)`` from a Salesforce error body (a list, a dict or text)."""
    if isinstance(content, list) and content and isinstance(content[0], dict):
        first = content[0]
        return first.get("errorCode") or first.get("statusCode"), str(first.get("message", ""))
    if isinstance(content, dict):
        if "error" in content:  # OAuth
            return content.get("error"), str(content.get("error_description", ""))
        return content.get("errorCode"), str(content.get("message", ""))
    if isinstance(content, bytes):
        content = content.decode("utf-8", "replace")
    return None, str(content or "")[:300]


def _check_name(kind: str, value: str) -> str:
    if not _NAME.match(value or ""):
        raise ConnectorError(f"invalid Salesforce {kind} name {value!r}",
                             failure=Failure.FATAL)
    return value


def _csv_value(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def _bulk_error(text: str) -> dict:
    """Bulk 2.0's ``sf__Error``: ``CODE:message:Field1,Field2 --``."""
    code, _, rest = text.partition(":")
    fields: list[str] = []
    if rest.endswith("--"):
        message, _, names = rest[:-2].rstrip().rpartition(":")
        if message:
            rest = message
            fields = [n.strip() for n in names.split(",") if n.strip()]
    return {"statusCode": code.strip(), "message": rest.strip(), "fields": fields}


class SalesforceConnector:
    """One org. ``connect()`` first; then the data methods below."""

    def __init__(self, settings: SalesforceSettings) -> None:
        self.settings = settings
        verify: str | bool = True
        if settings.ca_file:
            if not Path(settings.ca_file).is_file():
                raise ConfigError(f"Salesforce connection {settings.name!r}: CA file "
                                  f"{settings.ca_file} does not exist")
            verify = str(settings.ca_file)
        self.session = _Session(settings.timeout, verify)
        self.session.hooks["response"].append(self._on_response)
        self._sf: Salesforce | None = None
        self._lock = threading.Lock()
        self._usage: tuple[int, int] | None = None
        self.user_id: str | None = None
        self.org_id: str | None = None  # the Pub/Sub API's tenant id
        self.instance_url: str | None = settings.instance_url
        self.api_calls = 0  # requests that reached the data API (for metrics and the bench)

    # -- session -----------------------------------------------------------------------
    @property
    def sf(self) -> Salesforce:
        if self._sf is None:
            raise ConnectorError("the Salesforce connector is not connected; call connect()",
                                 failure=Failure.FATAL)
        return self._sf

    def connect(self) -> None:
        """Log in (JWT bearer, password, or a given session) and bind simple_salesforce."""
        s = self.settings
        if s.auth == "session":
            if not (s.access_token and s.instance_url):
                raise ConfigError(f"Salesforce connection {s.name!r}: auth 'session' needs "
                                  "access_token and instance_url")
            token, instance_url, identity = s.access_token, s.instance_url, None
        else:
            body = self._token_request()
            token, instance_url = body["access_token"], body["instance_url"]
            identity = body.get("id")
        with self._lock:
            self._bind(token, instance_url)
        if identity:
            # https://login.../id/<org id>/<user id>
            parts = str(identity).rstrip("/").rsplit("/", 2)
            self.user_id = parts[-1]
            self.org_id = parts[-2] if len(parts) == 3 else None
        elif s.username and self.user_id is None:
            rows = self.query_all(format_soql("SELECT Id FROM User WHERE Username = {}",
                                              s.username))
            self.user_id = rows[0]["Id"] if rows else None
        log.info("connected to Salesforce %s as %s", instance_url, s.username or f"({s.auth})")

    def pubsub_session(self, refresh: bool) -> tuple[str, str, str]:
        """``(access token, instance URL, org id)`` for the Pub/Sub API's metadata; with
        ``refresh`` (the API said the session is no longer valid) after logging in again."""
        if refresh and self.settings.auth != "session":
            self._reauthenticate(self.sf)
        if self.org_id is None:
            rows = self.query_all("SELECT Id FROM Organization LIMIT 1")
            if not rows:
                raise ConnectorError("the org did not say its Organization Id, which the "
                                     "Pub/Sub API needs", failure=Failure.FATAL)
            self.org_id = str(rows[0]["Id"])
        with self._lock:
            sf = self.sf
            return str(sf.session_id), str(self.instance_url), self.org_id

    def _bind(self, token: str, instance_url: str) -> None:
        self.instance_url = instance_url
        self._sf = Salesforce(instance_url=instance_url, session_id=token,
                              session=self.session, version=self.settings.api_version)

    def _token_request(self) -> dict:
        s = self.settings
        url = s.login_url.rstrip("/") + "/services/oauth2/token"
        form = self._grant_form()
        try:
            resp = self.session.post(url, data=form,
                                     headers={"Accept": "application/json"})
        except requests.RequestException as exc:
            raise self._no_answer(f"login at {s.login_url}", exc, "cannot connect") from exc
        try:
            body = resp.json()
        except ValueError:
            body = resp.text
        if resp.status_code != 200 or not isinstance(body, dict) or "access_token" not in body:
            code, message = _error_details(body)
            failure = Failure.FATAL if resp.status_code in (400, 401, 403) \
                else classify_http(resp.status_code, code)
            raise ConnectorError(
                f"Salesforce login at {s.login_url} as {s.username or 'the approved user'} "
                f"({s.auth}) failed: "
                f"HTTP {resp.status_code} {code or ''}: {message}".replace(" :", ":"),
                failure=failure, status=resp.status_code, error_code=code,
            )
        return body

    def _grant_form(self) -> dict[str, str]:
        s = self.settings
        if s.auth == "refresh_token":
            # https://help.salesforce.com/s/articleView?id=xcloud.remoteaccess_oauth_refresh_token_flow.htm
            missing = [n for n, v in (("consumer_key", s.consumer_key),
                                      ("refresh_token", s.refresh_token)) if not v]
            if missing:
                raise ConfigError(f"Salesforce connection {s.name!r}: refresh-token login "
                                  f"needs {', '.join(missing)}")
            form = {"grant_type": "refresh_token", "client_id": str(s.consumer_key),
                    "refresh_token": str(s.refresh_token)}
            if s.client_secret:
                form["client_secret"] = s.client_secret
            return form
        missing = [n for n, v in (("username", s.username), ("consumer_key", s.consumer_key))
                   if not v]
        if s.auth == "jwt":
            if not (s.private_key or s.private_key_file):
                missing.append("private_key_file")
            if missing:
                raise ConfigError(f"Salesforce connection {s.name!r}: JWT login needs "
                                  f"{', '.join(missing)}")
            key = s.private_key
            if not key:
                try:
                    key = Path(str(s.private_key_file)).read_text(encoding="utf-8")
                except OSError as exc:
                    raise ConfigError(f"Salesforce connection {s.name!r}: cannot read the "
                                      f"private key file {s.private_key_file}") from exc
            claims = {"iss": s.consumer_key, "sub": s.username,
                      "aud": (s.audience or s.login_url).rstrip("/"),
                      "exp": int(time.time()) + JWT_LIFETIME_SECONDS}
            try:
                assertion = jwt.encode(claims, key, algorithm="RS256")
            except (ValueError, TypeError, jwt.PyJWTError) as exc:
                raise ConfigError(f"Salesforce connection {s.name!r}: the private key is not "
                                  "a usable RSA key in PEM form") from exc
            return {"grant_type": JWT_GRANT, "assertion": assertion}
        if s.auth == "password":
            if not s.password:
                missing.append("password")
            if missing:
                raise ConfigError(f"Salesforce connection {s.name!r}: password login needs "
                                  f"{', '.join(missing)}")
            form = {"grant_type": "password", "client_id": str(s.consumer_key),
                    "username": str(s.username),
                    "password": str(s.password) + (s.security_token or "")}
            if s.client_secret:
                form["client_secret"] = s.client_secret
            return form
        raise ConfigError(f"Salesforce connection {s.name!r}: unknown auth {s.auth!r} "
                          "(jwt, password, refresh_token or session)")

    def _reauthenticate(self, stale: Salesforce) -> None:
        with self._lock:
            if self._sf is not stale:
                return  # another thread already logged in again
        body = self._token_request()
        with self._lock:
            self._bind(body["access_token"], body["instance_url"])
        log.info("Salesforce session expired; logged in again")

    def _on_response(self, resp: requests.Response, *args: Any, **kwargs: Any) -> None:
        if "/services/data/" in resp.url:
            self.api_calls += 1
        info = resp.headers.get("Sforce-Limit-Info")
        if info:
            match = _LIMIT_INFO.search(info)
            if match:
                self._usage = (int(match.group(1)), int(match.group(2)))

    # -- the one way every call goes ------------------------------------------------------
    def _call(self, what: str, fn: Callable[[], T]) -> T:
        s = self.settings
        for attempt in (1, 2):
            sf = self.sf
            try:
                return fn()
            except SalesforceExpiredSession as exc:
                code, message = _error_details(exc.content)
                if attempt == 1 and s.auth != "session" and code == "INVALID_SESSION_ID":
                    self._reauthenticate(sf)
                    continue
                raise ConnectorError(
                    f"Salesforce {what}: the session is not valid ({code}: {message})",
                    failure=Failure.FATAL, status=exc.status, error_code=code,
                ) from exc
            except SalesforceError as exc:
                code, message = _error_details(exc.content)
                raise ConnectorError(
                    f"Salesforce {what} failed: HTTP {exc.status} {code}: {message}",
                    failure=classify_http(exc.status, code), status=exc.status,
                    error_code=code,
                ) from exc
            except SalesforceOperationError as exc:
                raise ConnectorError(f"Salesforce {what} failed: {exc}",
                                     failure=Failure.FATAL) from exc
            except requests.RequestException as exc:
                raise self._no_answer(what, exc, f"connection failed ({exc})") from exc
        raise AssertionError("unreachable")  # pragma: no cover

    def _no_answer(
        self, what: str, exc: requests.RequestException, unreachable: str
    ) -> ConnectorError:
        """A request that got no HTTP answer. An untrusted certificate is fatal (retrying
        cannot fix it); a timeout or a failed connection is retriable."""
        s = self.settings
        if isinstance(exc, requests.exceptions.SSLError):
            return ConnectorError(
                f"Salesforce {what}: the server's TLS certificate was not trusted "
                f"(CA file: {s.ca_file or 'system store'})", failure=Failure.FATAL,
            )
        if isinstance(exc, requests.Timeout):
            return ConnectorError(f"Salesforce {what} timed out after {s.timeout:g} s",
                                  failure=Failure.RETRIABLE)
        return ConnectorError(f"Salesforce {what}: {unreachable}", failure=Failure.RETRIABLE)

    # -- reads ---------------------------------------------------------------------------
    def describe(self, obj: str) -> dict:
        _check_name("object", obj)
        return self._call(f"describe {obj}",
                          lambda: self.sf.restful(f"sobjects/{obj}/describe") or {})

    def query_all(self, soql: str, *, include_deleted: bool = False) -> list[dict]:
        """Every row of ``soql``; ``include_deleted`` asks ``queryAll``, which also returns
        the records in the recycle bin (``IsDeleted = true``)."""
        if include_deleted:
            return self._call("queryAll", lambda: list(
                self.sf.query_all(soql, include_deleted=True)["records"]))
        return self._call("query", lambda: list(self.sf.query_all(soql)["records"]))

    def find_ids(self, obj: str, field: str, values: Iterable[Any]) -> dict[Any, list[str]]:
        """Record Ids by the value of ``field``; every asked value is a key ([] if none).

        Text is compared case-insensitively, as SOQL does (an email in other case matches).
        """
        _check_name("object", obj)
        _check_name("field", field)
        wanted = list(dict.fromkeys(v for v in values if v is not None))
        out: dict[Any, list[str]] = {v: [] for v in wanted}
        folded = {v.casefold(): v for v in wanted if isinstance(v, str)}
        for start in range(0, len(wanted), QUERY_IN_CHUNK):
            chunk = wanted[start:start + QUERY_IN_CHUNK]
            soql = format_soql(f"SELECT Id, {field} FROM {obj} WHERE {field} IN {{}}", chunk)
            for row in self.query_all(soql):
                value = row.get(field)
                key = value if value in out else (
                    folded.get(value.casefold()) if isinstance(value, str) else None)
                if key is not None:
                    out[key].append(row["Id"])
        return out

    def limits(self) -> dict:
        return self._call("limits", lambda: self.sf.restful("limits") or {})

    def api_usage(self) -> tuple[int, int] | None:
        """``(used, max)`` daily API requests, from the last ``Sforce-Limit-Info`` seen."""
        return self._usage

    # -- writes --------------------------------------------------------------------------
    def update(self, obj: str, id: str, fields: dict) -> None:  # noqa: A002 - Salesforce's name
        _check_name("object", obj)
        self._call(f"update {obj} {id}",
                   lambda: self.sf.restful(f"sobjects/{obj}/{id}", method="PATCH",
                                           json=fields))

    def upsert_many(self, obj: str, ext_field: str,
                    records: Sequence[dict]) -> list[RecordOutcome]:
        """Upsert by external id through sObject Collections, 200 per call, allOrNone off."""
        _check_name("object", obj)
        _check_name("external id field", ext_field)
        return self._collections(f"upsert {obj} by {ext_field}", "PATCH",
                                 f"composite/sobjects/{obj}/{ext_field}", obj, records)

    def insert_many(self, obj: str, records: Sequence[dict]) -> list[RecordOutcome]:
        _check_name("object", obj)
        return self._collections(f"insert {obj}", "POST", "composite/sobjects", obj, records)

    def update_many(self, obj: str, records: Sequence[dict]) -> list[RecordOutcome]:
        """Update by ``Id`` (each record carries its Id) through sObject Collections."""
        _check_name("object", obj)
        return self._collections(f"update {obj}", "PATCH", "composite/sobjects", obj, records)

    @property
    def data_path(self) -> str:
        """The data API's path (``/services/data/v62.0``), as composite subrequests name it."""
        return f"/services/data/v{self.settings.api_version}"

    def composite_graph(self, graphs: Sequence[dict]) -> list[dict]:
        """One ``POST /composite/graph`` call: each graph all or none on its own. Salesforce's
        ``graphs`` answers (``graphId``, ``graphResponse``, ``isSuccessful``), in order."""
        answer = self._call(f"composite graph of {len(graphs)} graphs",
                            lambda: self.sf.restful("composite/graph", method="POST",
                                                    json={"graphs": list(graphs)}))
        found = answer.get("graphs") if isinstance(answer, dict) else None
        if not isinstance(found, list) or len(found) != len(graphs):
            raise ConnectorError(f"Salesforce composite graph: expected {len(graphs)} graph "
                                 "answers", failure=Failure.FATAL)
        return found

    def delete_many(self, obj: str, ids: Sequence[str]) -> list[RecordOutcome]:
        """Delete records by Id through sObject Collections (200 a call, allOrNone off)."""
        _check_name("object", obj)

        def send(chunk: Sequence[str]) -> Any:
            return self.sf.restful("composite/sobjects", method="DELETE",
                                   params={"ids": ",".join(chunk), "allOrNone": "false"})

        return self._in_chunks(f"delete {obj}", [str(i) for i in ids], send)

    def _collections(self, what: str, method: str, path: str, obj: str,
                     records: Sequence[dict]) -> list[RecordOutcome]:
        def send(chunk: Sequence[dict]) -> Any:
            body = {"allOrNone": False,
                    "records": [{"attributes": {"type": obj}, **r} for r in chunk]}
            return self.sf.restful(path, method=method, json=body)

        return self._in_chunks(what, records, send)

    def _in_chunks(self, what: str, items: Sequence[T],
                   send: Callable[[Sequence[T]], Any]) -> list[RecordOutcome]:
        """One sObject Collections call per ``COLLECTION_SIZE`` items; an outcome per item."""
        outcomes: list[RecordOutcome] = []
        for start in range(0, len(items), COLLECTION_SIZE):
            chunk = items[start:start + COLLECTION_SIZE]

            def call(chunk: Sequence[T] = chunk) -> Any:
                # self.sf read at call time: after a re-login the retry uses the new session.
                return send(chunk)

            results = self._call(what, call)
            if not isinstance(results, list) or len(results) != len(chunk):
                raise ConnectorError(
                    f"Salesforce {what}: expected {len(chunk)} results, got "
                    f"{len(results) if isinstance(results, list) else type(results).__name__}",
                    failure=Failure.FATAL)
            for offset, result in enumerate(results):
                success = bool(result.get("success"))
                errors = list(result.get("errors") or [])
                outcomes.append(RecordOutcome(
                    index=start + offset, success=success, id=result.get("id"),
                    created=result.get("created"), errors=errors,
                    failure=None if success else classify_record_errors(errors),
                ))
        return outcomes

    def bulk_upsert(self, obj: str, ext_field: str, records: Sequence[dict], *,
                    poll_seconds: float = 0.5) -> list[RecordOutcome]:
        """Upsert through Bulk API 2.0 (for backfills); results matched back by external id."""
        _check_name("object", obj)
        _check_name("external id field", ext_field)
        if not records:
            return []
        columns = list(dict.fromkeys(k for r in records for k in r if k != "attributes"))
        if ext_field not in columns:
            raise ConnectorError(f"Salesforce bulk upsert {obj}: the records carry no "
                                 f"{ext_field}", failure=Failure.FATAL)
        rows = [{c: _csv_value(r.get(c)) for c in columns} for r in records]
        by_key: dict[str, list[int]] = {}
        for index, row in enumerate(rows):
            by_key.setdefault(row[ext_field], []).append(index)

        def run() -> list[tuple[dict, str]]:
            handler = getattr(self.sf.bulk2, obj)
            jobs = handler.upsert(records=rows, external_id_field=ext_field,
                                  wait=poll_seconds)  # type: ignore[arg-type]
            found = []
            for job in jobs:
                for kind in ("successful", "failed", "unprocessed"):
                    text = getattr(handler, f"get_{kind}_records")(job["job_id"])
                    found += [(row, kind) for row in csv.DictReader(io.StringIO(text))]
            return found

        outcomes: dict[int, RecordOutcome] = {}
        for row, kind in self._call(f"bulk upsert {obj}", run):
            indexes = by_key.get(row.get(ext_field, ""), [])
            free = [i for i in indexes if i not in outcomes]
            if not free:
                continue
            index = free[0]
            if kind == "successful":
                outcomes[index] = RecordOutcome(
                    index, True, row.get("sf__Id") or None,
                    (row.get("sf__Created") or "").lower() == "true")
            elif kind == "failed":
                error = _bulk_error(row.get("sf__Error") or "")
                outcomes[index] = RecordOutcome(index, False, row.get("sf__Id") or None, None,
                                                [error], classify_record(error["statusCode"]))
            else:
                outcomes[index] = RecordOutcome(
                    index, False, None, None,
                    [{"statusCode": "UNPROCESSED", "message": "not processed by the job",
                      "fields": []}], Failure.RETRIABLE)
        for index in range(len(rows)):
            outcomes.setdefault(index, RecordOutcome(
                index, False, None, None,
                [{"statusCode": "NO_RESULT", "message": "the job reported no result",
                  "fields": []}], Failure.RETRIABLE))
        return [outcomes[i] for i in range(len(rows))]
