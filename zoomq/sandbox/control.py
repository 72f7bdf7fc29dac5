"""``/_sandbox/*``: drive the sandbox over HTTP (no auth, no faults, no rate limits).

::

    GET    /_sandbox/state              counts: requests, token requests, resources, faults
    POST   /_sandbox/reset              back to the seeded account; {"keep_tokens": true}
                                        keeps issued access tokens valid
    POST   /_sandbox/faults             inject a fault (fields: see ``faults``) -> 201
    GET    /_sandbox/faults             the active faults
    DELETE /_sandbox/faults             remove every fault -> 204
    DELETE /_sandbox/faults/{id}        remove one fault -> 204 (404 if unknown)
    POST   /_sandbox/download_tokens    {"ttl": seconds?} -> 201 {"download_token": ...}
    POST   /_sandbox/recordings         {"meeting_id": ..., "file_sizes": [...]} -> 201
                                        the new recording (any sizes: bytes are computed)
    POST   /_sandbox/users/{userId}/recordings  {"count": N, "file_sizes": [...]} -> 201
                                        N new meetings of the user, recorded and
                                        completed now (recording.completed each)
    GET    /_sandbox/accounts           {"accounts": [...]}: each account's credentials,
                                        plan, requests (by status: 429s), rate_limited
                                        (per kind of limit), resource counts, seeded ids
    GET    /_sandbox/accounts/{account}  one of them, by number (1..N) or account id
    GET    /_sandbox/accounts/{account}/meetings/{id}/registrants   a meeting's
    GET    /_sandbox/accounts/{account}/webinars/{id}/registrants   or webinar's registrants:
                                        {"id", "total", "by_status", "registrants":
                                        [{"id", "email", "status"}]}; ?list=false: counts only

The recording endpoints act on account 1 unless ``?account=`` names another.
    POST   /_sandbox/download_faults    {"file_id": "..." or "*", "cut_after": N, "count": 1}
                                        cuts the CDN body after N bytes; {"file_id": ...,
                                        "redirect_to": URL} sends the download there -> 201
    DELETE /_sandbox/download_faults    remove both kinds -> 204

``GET /_sandbox/state`` also shows ``range_log`` (per file id, the offset each CDN
response started at) and ``download_log`` (each download request's query and auth).
"""

from __future__ import annotations

import json
from collections import Counter
from typing import TYPE_CHECKING, Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from zoomq.sandbox.responses import ZoomHTTPError, json_response, no_content

if TYPE_CHECKING:
    from zoomq.sandbox.accounts import Account
    from zoomq.sandbox.state import SandboxState

__all__ = ["control_routes"]

_FAULT_FIELDS = (
    "method",
    "path_pattern",
    "status",
    "count",
    "fraction",
    "retry_after",
    "body",
    "hang_seconds",
)


#: Recordings one control request may complete.
_MAX_COMPLETED = 1000


def _bad(message: str) -> Response:
    return json_response({"code": 300, "message": message}, 400)


async def _json(request: Request) -> dict[str, Any]:
    raw = await request.body()
    if not raw.strip():
        return {}
    data = json.loads(raw)
    if not isinstance(data, dict):
        raise TypeError("expected a JSON object")
    return data


def _fault_fields(data: dict[str, Any]) -> dict[str, Any]:
    """The keyword arguments of ``FaultInjector.inject`` from a JSON body."""
    unknown = set(data) - set(_FAULT_FIELDS) - {"path"}
    if unknown:
        raise ValueError(f"unknown fields: {', '.join(sorted(unknown))}")
    pattern = data.get("path_pattern") or data.get("path")
    if not isinstance(pattern, str):
        raise TypeError("path_pattern is required")
    fields = {name: data.get(name) for name in _FAULT_FIELDS}
    fields.update(path_pattern=pattern, status=data.get("status", 500))
    return fields


def _download_fault(state: SandboxState, data: dict[str, Any]) -> None:
    """Apply a ``POST /_sandbox/download_faults`` body."""
    file_id = data.get("file_id")
    if not isinstance(file_id, str) or not file_id:
        raise TypeError("file_id is required")
    if data.get("redirect_to") is not None:
        state.download_faults.redirect(file_id, str(data["redirect_to"]))
        return
    if data.get("cut_after") is None:
        raise TypeError("cut_after or redirect_to is required")
    count = data.get("count", 1)
    state.download_faults.cut(
        file_id, after=int(data["cut_after"]), count=None if count is None else int(count)
    )


def _not_found(message: str) -> Response:
    return json_response({"code": 404, "message": message}, 404)


def _registrants(
    account: Account, event_id: str, *, webinar: bool, listed: bool
) -> dict[str, Any] | None:
    """A meeting's or webinar's registrants for the control API; None if there is none."""
    store = account.store
    key = int(event_id) if event_id.isdigit() else -1
    events = store.webinars if webinar else store.meetings
    if key not in events:
        return None
    registrants = list(store.registrants_of(key, webinar=webinar).values())
    body: dict[str, Any] = {
        "id": key,
        "total": len(registrants),
        "by_status": dict(Counter(r["status"] for r in registrants)),
    }
    if listed:
        body["registrants"] = [
            {"id": r["id"], "email": r["email"], "status": r["status"]} for r in registrants
        ]
    return body


class _UnknownAccount(Exception):
    """A control request named an account the sandbox does not have (404)."""


def _account_of(state: SandboxState, request: Request) -> Account:
    """The account named by the path or ``?account=`` (account 1 by default)."""
    key = request.path_params.get("account") or request.query_params.get("account") or "1"
    try:
        return state.account(key)
    except KeyError:
        raise _UnknownAccount(f"No such account: {key}") from None


def _account_routes(state: SandboxState) -> list[Route]:
    def account_of(request: Request) -> Account:
        return _account_of(state, request)

    async def list_accounts(request: Request) -> Response:
        with state.lock:
            return json_response({"accounts": [a.summary() for a in state.accounts]})

    async def get_account(request: Request) -> Response:
        try:
            account = account_of(request)
        except _UnknownAccount as exc:
            return _not_found(str(exc))
        with state.lock:
            return json_response(account.summary())

    def registrants_route(webinar: bool) -> Any:
        async def registrants(request: Request) -> Response:
            try:
                account = account_of(request)
            except _UnknownAccount as exc:
                return _not_found(str(exc))
            listed = request.query_params.get("list", "true").lower() not in ("false", "0")
            with state.lock:
                body = _registrants(
                    account, request.path_params["event_id"], webinar=webinar, listed=listed
                )
            if body is None:
                kind = "Webinar" if webinar else "Meeting"
                return _not_found(f"{kind} does not exist: {request.path_params['event_id']}.")
            return json_response(body)

        return registrants

    return [
        Route("/_sandbox/accounts", list_accounts, methods=["GET"]),
        Route("/_sandbox/accounts/{account}", get_account, methods=["GET"]),
        Route(
            "/_sandbox/accounts/{account}/meetings/{event_id}/registrants",
            registrants_route(webinar=False),
            methods=["GET"],
        ),
        Route(
            "/_sandbox/accounts/{account}/webinars/{event_id}/registrants",
            registrants_route(webinar=True),
            methods=["GET"],
        ),
    ]


def control_routes(state: SandboxState) -> list[Route]:
    def account_of(request: Request) -> Account:
        return _account_of(state, request)

    async def get_state(request: Request) -> Response:
        return json_response(state.summary())

    async def reset(request: Request) -> Response:
        try:
            data = await _json(request)
        except (ValueError, TypeError) as exc:
            return _bad(str(exc))
        state.reset(keep_tokens=bool(data.get("keep_tokens", False)))
        return no_content()

    async def add_fault(request: Request) -> Response:
        try:
            fault = state.faults.inject(**_fault_fields(await _json(request)))
        except (ValueError, TypeError) as exc:
            return _bad(str(exc))
        return json_response(fault.to_dict(), 201)

    async def list_faults(request: Request) -> Response:
        return json_response({"faults": [f.to_dict() for f in state.faults.list()]})

    async def clear_faults(request: Request) -> Response:
        state.faults.clear()
        return no_content()

    async def remove_fault(request: Request) -> Response:
        if state.faults.remove(request.path_params["fault_id"]):
            return no_content()
        return json_response({"code": 404, "message": "No such fault."}, 404)

    async def download_token(request: Request) -> Response:
        try:
            data = await _json(request)
            ttl = data.get("ttl")
            token = state.issue_download_token(float(ttl) if ttl is not None else None)
        except (ValueError, TypeError) as exc:
            return _bad(str(exc))
        return json_response({"download_token": token}, 201)

    async def add_recording(request: Request) -> Response:
        try:
            data = await _json(request)
            sizes = data.get("file_sizes") or [8 * 1024 * 1024, 1024 * 1024]
            account = account_of(request)
            recording = state.add_recording(
                int(data["meeting_id"]), [int(s) for s in sizes], account=account.number
            )
        except _UnknownAccount as exc:
            return _not_found(str(exc))
        except KeyError as exc:
            return _bad(f"unknown or missing meeting: {exc}")
        except (ValueError, TypeError) as exc:
            return _bad(str(exc))
        return json_response(recording, 201)

    async def complete_recordings(request: Request) -> Response:
        try:
            data = await _json(request)
            sizes = data.get("file_sizes") or [8 * 1024 * 1024, 1024 * 1024]
            count = int(data.get("count", 1))
            if not 1 <= count <= _MAX_COMPLETED:
                return _bad(f"count must be 1..{_MAX_COMPLETED}")
            account = account_of(request)
            done = state.complete_recordings(
                request.path_params["user_id"],
                count,
                [int(s) for s in sizes],
                account=account.number,
            )
        except _UnknownAccount as exc:
            return _not_found(str(exc))
        except ZoomHTTPError as exc:
            return json_response({"code": exc.code, "message": str(exc)}, exc.status)
        except (ValueError, TypeError) as exc:
            return _bad(str(exc))
        return json_response({"recordings": done}, 201)

    async def add_download_fault(request: Request) -> Response:
        try:
            _download_fault(state, await _json(request))
        except (ValueError, TypeError) as exc:
            return _bad(str(exc))
        return json_response(state.download_faults.to_dict(), 201)

    async def clear_download_faults(request: Request) -> Response:
        state.download_faults.clear()
        return no_content()

    return [
        Route("/_sandbox/download_faults", add_download_fault, methods=["POST"]),
        Route("/_sandbox/download_faults", clear_download_faults, methods=["DELETE"]),
        Route("/_sandbox/state", get_state, methods=["GET"]),
        Route("/_sandbox/reset", reset, methods=["POST"]),
        Route("/_sandbox/faults", add_fault, methods=["POST"]),
        Route("/_sandbox/faults", list_faults, methods=["GET"]),
        Route("/_sandbox/faults", clear_faults, methods=["DELETE"]),
        Route("/_sandbox/faults/{fault_id}", remove_fault, methods=["DELETE"]),
        Route("/_sandbox/download_tokens", download_token, methods=["POST"]),
        Route("/_sandbox/recordings", add_recording, methods=["POST"]),
        Route("/_sandbox/users/{user_id}/recordings", complete_recordings, methods=["POST"]),
        *_account_routes(state),
    ]
