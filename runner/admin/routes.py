"""The admin API's routes: ``/api/v1/...``, HTTP in, JSON out.

Every request needs ``Authorization: Bearer <token>`` (:mod:`runner.admin.auth`): 401
without a valid one, 403 for the read-only token acting, 429 after too many failures. What
each endpoint does is :class:`runner.admin.service.AdminService`; its blocking calls (the
state store, Salesforce) run in a worker thread. Every action (POST, PUT) is recorded in the
audit log with the token's name and hash, whether it succeeded or not.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Awaitable, Callable
from typing import Any

from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Mount, Route

from mappings.bundle.reader import MAX_BUNDLE_BYTES
from runner.admin.auth import AdminAuth, AuthError, Principal
from runner.admin.service import AdminService, Refused
from runner.errors import ConfigError
from runner.state.errors import NotFoundError, StateError

log = logging.getLogger(__name__)

PREFIX = "/api/v1"

Handler = Callable[[Request, Principal], Any]


def _error(status: int, message: str, **extra: Any) -> JSONResponse:
    headers = {"Retry-After": str(extra.pop("retry_after"))} if "retry_after" in extra \
        else None
    return JSONResponse({"error": message, **extra}, status_code=status, headers=headers)


def _int(request: Request, name: str, default: int | None) -> int | None:
    raw = request.query_params.get(name)
    if raw is None or raw == "":
        return default
    try:
        return int(raw)
    except ValueError:
        raise Refused(400, f"{name} must be a whole number, not {raw[:40]!r}") from None


async def _json_body(request: Request) -> dict[str, Any]:
    raw = await request.body()
    if len(raw) > 65_536:
        raise Refused(413, "the request body is over 64 KiB")
    if not raw.strip():
        return {}
    try:
        body = json.loads(raw)
    except (ValueError, UnicodeDecodeError):
        raise Refused(400, "the request body is not JSON") from None
    if not isinstance(body, dict):
        raise Refused(400, "the request body must be a JSON object")
    return body


class AdminRoutes:
    """The routes over one service and one authenticator."""

    def __init__(self, service: AdminService, auth: AdminAuth) -> None:
        self.service = service
        self.auth = auth

    def _guard(self, handler: Callable[[Request, Principal], Awaitable[Any]], *,
               action: str | None) -> Callable[[Request], Awaitable[Response]]:
        async def endpoint(request: Request) -> Response:
            client = request.client.host if request.client else "unknown"
            try:
                principal = self.auth.authenticate(request.headers.get("authorization"),
                                                   client)
                if action is not None:
                    self.auth.require_action(principal)
            except AuthError as exc:
                extra = {"retry_after": exc.retry_after} if exc.retry_after else {}
                headers = {"WWW-Authenticate": "Bearer"} if exc.status == 401 else {}
                response = _error(exc.status, str(exc), **extra)
                response.headers.update(headers)
                return response
            target = "/".join(str(v) for v in request.path_params.values()) or None
            try:
                answer = await handler(request, principal)
            except Refused as exc:
                await self._audit(principal, action, target, f"refused: {exc}")
                extra = {"detail": exc.detail} if exc.detail is not None else {}
                return _error(exc.status, str(exc), **extra)
            except NotFoundError as exc:
                await self._audit(principal, action, target, f"refused: {exc}")
                return _error(404, str(exc))
            except (ConfigError, StateError) as exc:
                await self._audit(principal, action, target, f"refused: {exc}")
                return _error(409, str(exc))
            except Exception as exc:
                log.error("the admin API failed on %s %s: %s", request.method,
                          request.url.path[:200], type(exc).__name__, exc_info=exc)
                await self._audit(principal, action, target, f"failed: {type(exc).__name__}")
                return _error(500, f"internal error ({type(exc).__name__}); see the runner's "
                                   "log")
            await self._audit(principal, action, target, "ok")
            return answer if isinstance(answer, Response) else JSONResponse(answer)
        return endpoint

    async def _audit(self, principal: Principal, action: str | None, target: str | None,
                     outcome: str) -> None:
        if action is None:
            return
        try:
            await run_in_threadpool(self.service.store.audit_add, token_name=principal.name,
                                    token_digest=principal.digest, action=action,
                                    target=target, outcome=outcome[:500])
        except Exception as exc:  # the action happened; the log line says it unaudited
            log.error("could not record %s on %s in the audit log: %s", action, target, exc)

    def routes(self) -> list[BaseRoute]:
        s = self.service

        def read(fn: Callable[[Request], Any]) -> Callable[[Request], Awaitable[Response]]:
            async def handler(request: Request, _p: Principal) -> Any:
                return await run_in_threadpool(fn, request)
            return self._guard(handler, action=None)

        def act(name: str, fn: Callable[[Request, Any], Any], *,
                raw: bool = False) -> Callable[[Request], Awaitable[Response]]:
            async def handler(request: Request, _p: Principal) -> Any:
                if raw:
                    length = int(request.headers.get("content-length") or 0)
                    if length > MAX_BUNDLE_BYTES:
                        raise Refused(413, f"the bundle is over {MAX_BUNDLE_BYTES} bytes")
                    body: Any = await request.body()
                else:
                    body = await _json_body(request)
                return await run_in_threadpool(fn, request, body)
            return self._guard(handler, action=name)

        def pid(request: Request) -> int:
            return int(request.path_params["id"])

        api = [
            Route("/status", read(lambda r: s.status()), methods=["GET"]),
            Route("/dead-letters", read(lambda r: s.dead_letters(
                flow=r.query_params.get("flow") or None,
                code=r.query_params.get("code") or None,
                status=None if r.query_params.get("status") == "all"
                else r.query_params.get("status", "open"),
                page=_int(r, "page", 1) or 1, per_page=_int(r, "per_page", 50) or 50)),
                methods=["GET"]),
            Route("/dead-letters/replay", act("dead-letters.replay-group", lambda r, b: (
                s.replay_cause(str(b["cause"])) if "cause" in b
                else s.replay(_ids(b)))), methods=["POST"]),
            Route("/dead-letters/{id:int}", read(lambda r: s.dead_letter(pid(r))),
                  methods=["GET"]),
            Route("/dead-letters/{id:int}/replay",
                  act("dead-letters.replay", lambda r, b: s.replay([pid(r)])),
                  methods=["POST"]),
            Route("/dead-letters/{id:int}/discard",
                  act("dead-letters.discard", lambda r, b: s.discard(pid(r))),
                  methods=["POST"]),
            Route("/reviews", read(lambda r: s.reviews(
                None if r.query_params.get("status") == "all"
                else r.query_params.get("status", "open"))), methods=["GET"]),
            Route("/reviews/{id:int}/approve", act("reviews.approve", lambda r, b: s.approve(
                pid(r), b.get("record") if isinstance(b.get("record"), str) else None)),
                methods=["POST"]),
            Route("/reviews/{id:int}/reject",
                  act("reviews.reject", lambda r, b: s.reject(
                      pid(r), create=b.get("create", True) is not False)), methods=["POST"]),
            Route("/flows/{name}/pause",
                  act("flows.pause", lambda r, b: s.pause(r.path_params["name"])),
                  methods=["POST"]),
            Route("/flows/{name}/resume",
                  act("flows.resume", lambda r, b: s.resume(r.path_params["name"])),
                  methods=["POST"]),
            Route("/bundle", act("bundle.deploy", lambda r, b: s.deploy(b), raw=True),
                  methods=["PUT"]),
            Route("/bundle", read(lambda r: Response(
                s.running_bundle(), media_type="application/octet-stream")), methods=["GET"]),
            Route("/bundle/rollback", act("bundle.rollback", lambda r, b: s.rollback()),
                  methods=["POST"]),
            Route("/events", read(lambda r: s.events(_int(r, "since", 0) or 0,
                                                     _int(r, "limit", 200) or 200)),
                  methods=["GET"]),
            Route("/audit", read(lambda r: s.audit(_int(r, "limit", 100) or 100,
                                                   _int(r, "before", None))),
                  methods=["GET"]),
        ]
        return [Mount(PREFIX, routes=api)]


def _ids(body: dict[str, Any]) -> list[int]:
    ids = body.get("ids")
    if not isinstance(ids, list) or not ids or not all(
            isinstance(i, int) and not isinstance(i, bool) for i in ids):
        raise Refused(400, "give {\"cause\": \"...\"} or {\"ids\": [1, 2, ...]}")
    return ids


def admin_app(routes: list[BaseRoute]) -> Starlette:
    """The admin API alone, for its own listener (``runner.admin_listen``)."""

    async def http_error(request: Request, exc: Exception) -> Response:
        status = exc.status_code if isinstance(exc, HTTPException) else 500
        if status == 404:
            return _error(404, f"no such endpoint: {request.url.path[:200]}")
        if status == 405:
            return _error(405, f"{request.url.path[:200]} does not accept {request.method}")
        return _error(status, str(getattr(exc, "detail", "")) or "request refused")

    app = Starlette(routes=routes, exception_handlers={HTTPException: http_error})
    app.router.redirect_slashes = False
    return app
