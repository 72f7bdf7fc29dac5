"""The ``/v1`` routes in-process (httpx's ASGI transport, lifespan on) over a real Redis:
every refusal precise and named, a tenant blind to another's jobs, nothing stored unless
every item is valid."""

from __future__ import annotations

import base64
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import redis

from receiver import create_app
from tests.receiver.conftest import AppClient, ServerThread, make_settings
from zoomq.errors import InvalidInput
from zoomq.jobs.client import Client
from zoomq.settings import JobsSettings

KEY_A = "tenant-a-key-" + "a" * 32
KEY_B = "tenant-b-key-" + "b" * 32
A = {"Authorization": f"Bearer {KEY_A}"}
B = {"Authorization": f"Bearer {KEY_B}"}
NDJSON = {"content-type": "application/x-ndjson"}
SECRET = "whsec_" + base64.b64encode(b"0123456789abcdef0123456789abcdef").decode()
MAX_ITEMS = 10_000


def jobs_settings(**over: Any) -> JobsSettings:
    values: dict[str, Any] = {
        "api_keys": [
            {"name": "tenant-a", "key": KEY_A},
            {"name": "tenant-b", "key": KEY_B, "connections": ["team"]},
        ],
        "max_items": MAX_ITEMS,
        "callback_hosts": ["http://127.0.0.1:9999"],
        "callback_secret": SECRET,
        **over,
    }
    return JobsSettings.model_validate(values)


@pytest.fixture
def api(redis_url: str, tmp_path: Path) -> Iterator[AppClient]:
    settings = make_settings(redis_url, tmp_path, jobs=jobs_settings())
    with AppClient(create_app(settings)) as running:
        yield running


def users(n: int) -> list[dict[str, Any]]:
    return [{"userId": f"user{i}@example.com"} for i in range(n)]


def lines(items: list[dict[str, Any]]) -> bytes:
    return b"".join(json.dumps(i).encode() + b"\n" for i in items)


def submit(api: AppClient, body: dict[str, Any], headers: dict[str, str] = A) -> Any:
    return api.post("/v1/jobs", json=body, headers=headers)


def test_accepted_job_reads_back(api: AppClient) -> None:
    """202 with the job's id, size and status URL; its status counts every item queued."""
    answer = submit(api, {"action": "getUser", "items": users(3)})
    assert answer.status_code == 202, answer.text
    body = answer.json()
    assert body["items"] == 3
    assert body["status_url"] == f"/v1/jobs/{body['job_id']}" == answer.headers["location"]
    job = api.get(body["status_url"], headers=A).json()
    assert job["status"] == "queued"
    assert job["counts"]["queued"] == 3
    assert job["tenant"] == "tenant-a"
    results = api.get(body["status_url"] + "/results", headers=A)
    assert results.headers["content-type"].startswith("application/x-ndjson")
    rows = [json.loads(line) for line in results.text.splitlines()]
    assert [(r["index"], r["state"], r["input"]) for r in rows] == [
        (i, "queued", u) for i, u in enumerate(users(3))
    ]


def test_ndjson_upload_is_the_same_job_as_json(api: AppClient) -> None:
    """One idempotency key, the same items as JSON then as NDJSON: one job, answered alike."""
    items = users(5)
    first = submit(api, {"action": "getUser", "items": items, "idempotency_key": "k1"})
    again = api.post(
        "/v1/jobs?action=getUser&idempotency_key=k1",
        content=lines(items),
        headers={**A, **NDJSON},
    )
    assert first.status_code == again.status_code == 202
    assert again.json() == first.json()
    assert again.headers["idempotent-replayed"] == "true"
    other = submit(api, {"action": "getUser", "items": users(4), "idempotency_key": "k1"})
    assert other.status_code == 409
    assert other.json()["error"] == "idempotency_conflict"
    # Another tenant's key of the same name is another job.
    mine = submit(
        api, {"action": "getUser", "connection": "team", "items": items, "idempotency_key": "k1"}, B
    )
    assert mine.status_code == 202
    assert mine.json()["job_id"] != first.json()["job_id"]


def test_invalid_items_refused_up_front_by_index(api: AppClient, redis_client: redis.Redis) -> None:
    """422 names each bad item's index, field and reason; nothing is stored or queued."""
    items: list[Any] = [
        {"meetingId": 85746065432, "email": f"p{i}@example.com", "firstName": "P"}
        for i in range(20)
    ]
    items[3]["email"] = "not-an-email"
    items[11] = {"meetingId": 85746065432, "firstName": "P"}
    items[17] = {**items[17], "colour": "blue"}
    answer = submit(api, {"action": "addMeetingRegistrant", "items": items})
    assert answer.status_code == 422
    body = answer.json()
    assert body["error"] == "invalid_items"
    assert body["count"] == 3
    assert [(e["index"], e["field"]) for e in body["errors"]] == [
        (3, "email"),
        (11, "email"),
        (17, "colour"),
    ]
    assert all(e["reason"] for e in body["errors"])
    assert api.get("/v1/jobs", headers=A).json()["jobs"] == []
    assert redis_client.keys("*job*") == []


def test_the_list_of_errors_is_bounded_the_count_is_not(redis_url: str, tmp_path: Path) -> None:
    settings = make_settings(redis_url, tmp_path, jobs=jobs_settings(max_errors=5))
    with AppClient(create_app(settings)) as api:
        answer = submit(api, {"action": "getUser", "items": [{"nope": i} for i in range(30)]})
    body = answer.json()
    assert answer.status_code == 422
    assert len(body["errors"]) == 5
    assert body["count"] >= 30


def test_ndjson_bad_line_is_named(api: AppClient) -> None:
    """A line that is not JSON, or not an object: 400 naming the line (blank lines count)."""
    for content, line in [
        (b'{"userId": "a"}\n\n{"userId": \n', 3),
        (b'{"userId": "a"}\n[1, 2]\n', 2),
        (b'{"userId": "a"}\n"text"', 2),
    ]:
        answer = api.post("/v1/jobs?action=getUser", content=content, headers={**A, **NDJSON})
        assert answer.status_code == 400, answer.text
        assert answer.json()["error"] == "bad_ndjson"
        assert f"line {line}:" in answer.json()["message"]


def test_over_max_items_is_413_before_anything_is_stored(
    api: AppClient, redis_client: redis.Redis
) -> None:
    """10,001 items against a 10,000 limit: 413, as NDJSON and as JSON."""
    items = users(MAX_ITEMS + 1)
    answer = api.post("/v1/jobs?action=getUser", content=lines(items), headers={**A, **NDJSON})
    assert answer.status_code == 413
    assert answer.json()["error"] == "too_many_items"
    answer = submit(api, {"action": "getUser", "items": items})
    assert answer.status_code == 413
    assert "ZOOMQ_JOB_MAX_ITEMS" in answer.json()["message"]
    assert redis_client.keys("*job*") == []
    exactly = api.post(
        "/v1/jobs?action=getUser", content=lines(items[:MAX_ITEMS]), headers={**A, **NDJSON}
    )
    assert exactly.status_code == 202
    assert exactly.json()["items"] == MAX_ITEMS


def test_too_large_bodies_and_lines(api: AppClient) -> None:
    """A JSON body over 16 MiB, an NDJSON line over 64 KiB: 413, naming the line."""
    huge = b'{"action": "getUser", "items": [' + b" " * (16 << 20) + b"]}"
    answer = api.post("/v1/jobs", content=huge, headers={**A, "content-type": "application/json"})
    assert answer.status_code == 413
    long_line = json.dumps({"userId": "x" * (65 << 10)}).encode()
    answer = api.post(
        "/v1/jobs?action=getUser",
        content=b'{"userId": "a"}\n' + long_line + b"\n",
        headers={**A, **NDJSON},
    )
    assert answer.status_code == 413
    assert answer.json() == {
        "error": "line_too_large",
        "message": "line 2: over 65536 bytes",
    }


@pytest.mark.parametrize(
    ("content", "headers", "status", "error"),
    [
        (b"action=getUser", {"content-type": "application/x-www-form-urlencoded"}, 415, None),
        (b"{}", {"content-type": "text/plain"}, 415, None),
        (b"{}", {}, 415, None),
        (b'{"action": ', {"content-type": "application/json"}, 400, "bad_json"),
        (b"[1]", {"content-type": "application/json"}, 400, "bad_json"),
    ],
)
def test_wrong_content_type_or_not_json(
    api: AppClient, content: bytes, headers: dict[str, str], status: int, error: str | None
) -> None:
    answer = api.post("/v1/jobs", content=content, headers={**A, **headers})
    assert answer.status_code == status
    assert answer.json()["error"] == (error or "unsupported_media_type")


@pytest.mark.parametrize(
    ("body", "field", "says"),
    [
        ({"action": "getUserz", "items": [{}]}, "action", "getUser"),
        ({"action": "getUser", "connection": "nope", "items": [{}]}, "connection", "nope"),
        ({"action": "getUser", "priority": "urgent", "items": [{}]}, "priority", "low"),
        ({"action": "getUser", "items": {"a": 1}}, "items", "list"),
        ({"action": "getUser", "items": [{}], "extra": 1}, "extra", "not permitted"),
        (
            {"action": "getUser", "items": [{}], "callback_url": "http://10.0.0.1/cb"},
            "callback_url",
            "not an allowed",
        ),
        (
            {"action": "getUser", "items": [{}], "callback_url": "file:///etc/passwd"},
            "callback_url",
            "http",
        ),
    ],
)
def test_request_fields_are_named(
    api: AppClient, body: dict[str, Any], field: str, says: str
) -> None:
    """422 invalid_request with the field and a reason that helps (the closest action...)."""
    answer = submit(api, body)
    assert answer.status_code == 422, answer.text
    errors = answer.json()["errors"]
    assert answer.json()["error"] == "invalid_request"
    assert any(e["field"] == field and says in e["reason"] for e in errors), errors


def test_ndjson_query_parameters_are_checked(api: AppClient) -> None:
    for query, field in [
        ("action=getUser&colour=red", "colour"),
        ("action=getUser&action=getMeeting", "action"),
        ("connection=default", "action"),
        ("action=getUser&priority=soon", "priority"),
    ]:
        answer = api.post(f"/v1/jobs?{query}", content=b'{"userId":"a"}\n', headers={**A, **NDJSON})
        assert answer.status_code == 422, (query, answer.text)
        assert field in [e["field"] for e in answer.json()["errors"]]
    answer = api.post("/v1/jobs?action=getUser", json={"action": "getUser", "items": []}, headers=A)
    assert answer.status_code == 422
    assert answer.json()["errors"][0]["field"] == "action"


def test_no_items_is_422(api: AppClient) -> None:
    answer = api.post("/v1/jobs?action=getUser", content=b"\n\n", headers={**A, **NDJSON})
    assert answer.status_code == 422
    assert answer.json()["errors"][0]["field"] == "items"


def test_a_key_limited_to_connections(api: AppClient) -> None:
    """tenant-b may use "team" only: the default connection and "bare" are 403."""
    for connection in (None, "default", "bare"):
        body: dict[str, Any] = {"action": "getUser", "items": users(1)}
        if connection:
            body["connection"] = connection
        answer = submit(api, body, B)
        assert answer.status_code == 403, answer.text
        assert answer.json()["error"] == "forbidden"
    assert (
        submit(api, {"action": "getUser", "connection": "team", "items": users(1)}, B).status_code
        == 202
    )


def test_an_unknown_connection_names_only_those_the_key_may_use(api: AppClient) -> None:
    """The 422 for a connection that does not exist lists the key's own connections, so a
    limited tenant cannot learn the names of the others'."""
    answer = submit(api, {"action": "getUser", "connection": "nope", "items": users(1)}, B)
    assert answer.status_code == 422
    reason = answer.json()["errors"][0]["reason"]
    assert "(known: team)" in reason
    assert "bare" not in answer.text
    assert "default" not in answer.text


def test_a_tenant_never_sees_another_tenants_job(api: AppClient) -> None:
    """Every route of tenant-a's job answers tenant-b 404, exactly as for no job at all."""
    job_id = submit(api, {"action": "getUser", "items": users(2)}).json()["job_id"]
    for method, path in [
        ("GET", ""),
        ("GET", "/items"),
        ("GET", "/results"),
        ("POST", "/cancel"),
        ("POST", "/retry-failed"),
    ]:
        theirs = api.request(method, f"/v1/jobs/{job_id}{path}", headers=B)
        nobody = api.request(method, f"/v1/jobs/{'0' * 32}{path}", headers=B)
        assert theirs.status_code == nobody.status_code == 404
        assert theirs.json()["error"] == nobody.json()["error"] == "not_found"
    assert api.get("/v1/jobs", headers=B).json()["jobs"] == []
    assert [j["job_id"] for j in api.get("/v1/jobs", headers=A).json()["jobs"]] == [job_id]
    assert api.get(f"/v1/jobs/{job_id}", headers=A).json()["status"] == "queued"  # not cancelled


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("POST", "/v1/jobs"),
        ("GET", "/v1/jobs"),
        ("GET", "/v1/jobs/x"),
        ("GET", "/v1/jobs/x/items"),
        ("GET", "/v1/jobs/x/results"),
        ("POST", "/v1/jobs/x/cancel"),
        ("POST", "/v1/jobs/x/retry-failed"),
    ],
)
def test_every_route_wants_a_key(api: AppClient, method: str, path: str) -> None:
    """No key or a wrong one: 401 with a Bearer challenge, before anything else is looked at."""
    for headers in ({}, {"Authorization": "Bearer " + "z" * 45}, {"Authorization": KEY_A}):
        answer = api.request(method, path, headers=headers, content=b"junk")
        assert answer.status_code == 401
        assert answer.headers["www-authenticate"].startswith("Bearer")
        assert KEY_A not in answer.text


def test_without_keys_the_api_is_closed(redis_url: str, tmp_path: Path) -> None:
    settings = make_settings(redis_url, tmp_path)
    with AppClient(create_app(settings)) as api:
        answer = api.get("/v1/jobs", headers=A)
        assert answer.status_code == 503
        assert answer.json()["error"] == "jobs_disabled"


def test_items_paging_and_filters(api: AppClient) -> None:
    job_id = submit(api, {"action": "getUser", "items": users(7)}).json()["job_id"]
    page = api.get(f"/v1/jobs/{job_id}/items?limit=3", headers=A).json()
    assert [i["index"] for i in page["items"]] == [0, 1, 2]
    page = api.get(f"/v1/jobs/{job_id}/items?limit=3&cursor={page['next_cursor']}", headers=A)
    assert [i["index"] for i in page.json()["items"]] == [3, 4, 5]
    failed = api.get(f"/v1/jobs/{job_id}/items?state=failed", headers=A).json()
    assert failed == {"items": [], "next_cursor": None}
    for query, field in [
        ("state=broken", "state"),
        ("limit=0", "limit"),
        ("limit=1001", "limit"),
        ("cursor=-1", "cursor"),
        ("cursor=abc", "cursor"),
        ("page=2", "page"),
    ]:
        answer = api.get(f"/v1/jobs/{job_id}/items?{query}", headers=A)
        assert answer.status_code == 422, query
        assert answer.json()["errors"][0]["field"] == field


def test_cancel_and_retry(api: AppClient) -> None:
    job_id = submit(api, {"action": "getUser", "items": users(4)}).json()["job_id"]
    cancelled = api.post(f"/v1/jobs/{job_id}/cancel", headers=A)
    assert cancelled.status_code == 200
    assert cancelled.json()["counts"]["cancelled"] == 4
    assert api.post(f"/v1/jobs/{job_id}/retry-failed", headers=A).status_code == 200


def test_openapi_document_lists_every_route(api: AppClient) -> None:
    """The document is public, OpenAPI 3.1, and each operation documents 401 and its bodies."""
    doc = api.get("/v1/openapi.json").json()
    assert doc["openapi"].startswith("3.1")
    assert doc["components"]["securitySchemes"]["bearer"]["scheme"] == "bearer"
    operations = {
        (method.upper(), path)
        for path, entry in doc["paths"].items()
        for method in entry
        if path != "/v1/openapi.json"
    }
    assert operations == {
        ("POST", "/v1/jobs"),
        ("GET", "/v1/jobs"),
        ("GET", "/v1/jobs/{job_id}"),
        ("GET", "/v1/jobs/{job_id}/items"),
        ("GET", "/v1/jobs/{job_id}/results"),
        ("POST", "/v1/jobs/{job_id}/cancel"),
        ("POST", "/v1/jobs/{job_id}/retry-failed"),
    }
    for method, path in operations:
        responses = doc["paths"][path][method.lower()]["responses"]
        assert "401" in responses
        assert "WWW-Authenticate" in responses["401"]["headers"]
    schemas = doc["components"]["schemas"]
    for name in ("JobRequest", "JobBody", "ItemResult", "ItemErrorReport", "ErrorBody"):
        assert name in schemas


def test_the_client_streaming_too_many_items_gets_the_413(redis_url: str, tmp_path: Path) -> None:
    """Over real HTTP (uvicorn): an NDJSON stream past the limit is answered 413 while the
    client is still sending, and the client raises InvalidInput, not a transport error."""
    settings = make_settings(redis_url, tmp_path, jobs=jobs_settings())
    with ServerThread(create_app(settings)) as server, Client(server.url, KEY_A) as jobs:
        with pytest.raises(InvalidInput, match="too_many_items"):
            jobs.submit("getUser", ({"userId": f"u{i}"} for i in range(MAX_ITEMS * 3)))
        assert jobs.list_jobs().jobs == []


def test_unknown_paths_and_methods_under_v1_answer_json(api: AppClient) -> None:
    """404 and 405 under /v1 are JSON {error, message} like every other refusal."""
    missing = api.get("/v1/nope", headers=A)
    assert missing.status_code == 404
    assert missing.json()["error"] == "not_found"
    assert "/v1/nope" in missing.json()["message"]
    wrong = api.request("DELETE", "/v1/jobs", headers=A)
    assert wrong.status_code == 405
    assert wrong.json()["error"] == "method_not_allowed"
    assert set(wrong.headers["allow"].replace(" ", "").split(",")) == {"GET", "HEAD", "POST"}
    assert api.get("/nowhere").headers["content-type"].startswith("text/plain")


def test_no_items_and_non_object_items_are_named_precisely(api: AppClient) -> None:
    """Empty items: a request error on ``items``; a non-object item: its own index."""
    empty = submit(api, {"action": "getUser", "items": []})
    assert empty.status_code == 422
    assert empty.json()["errors"] == [{"field": "items", "reason": "must not be empty"}]
    mixed = submit(api, {"action": "getUser", "items": [{"userId": "a"}, 5, {"nope": 1}]})
    assert mixed.status_code == 422
    body = mixed.json()
    assert body["error"] == "invalid_items"
    assert (body["count"], body["truncated"]) == (2, False)
    assert body["message"]
    assert [(e["index"], e["field"]) for e in body["errors"]][:1] == [(1, "item")]
    assert {e["index"] for e in body["errors"]} == {1, 2}


def _spool_app(redis_url: str, tmp_path: Path, **options: Any) -> Any:
    from starlette.applications import Starlette
    from starlette.exceptions import HTTPException

    from receiver.jobs import http_error, jobs_routes
    from receiver.runtime import ReceiverRuntime
    from zoomq.clock import SystemClock

    settings = make_settings(redis_url, tmp_path, jobs=jobs_settings())
    runtime = ReceiverRuntime(settings, settings.receiver, SystemClock())
    return Starlette(
        routes=jobs_routes(runtime, **options),
        lifespan=runtime.lifespan,
        exception_handlers={HTTPException: http_error},
    )


def test_a_spool_that_cannot_be_written_answers_507(
    redis_url: str, tmp_path: Path, redis_client: redis.Redis
) -> None:
    """Past SPOOL_MEMORY the upload goes to disk; a spool dir that fails is a JSON 507."""
    gone = tmp_path / "no-such-dir"
    big = lines([{"userId": f"user{i}@example.com" + "x" * 200} for i in range(6000)])
    assert len(big) > 1 << 20
    with AppClient(_spool_app(redis_url, tmp_path, spool_dir=gone)) as running:
        answer = running.post("/v1/jobs?action=getUser", content=big, headers={**A, **NDJSON})
    assert answer.status_code == 507, answer.text
    assert answer.json()["error"] == "insufficient_storage"
    assert "nothing was stored" in answer.json()["message"]
    assert not [k for k in redis_client.keys("*") if b"job" in k]


def test_an_upload_over_the_byte_cap_is_413(redis_url: str, tmp_path: Path) -> None:
    with AppClient(_spool_app(redis_url, tmp_path, max_upload_bytes=1000)) as running:
        answer = running.post(
            "/v1/jobs?action=getUser", content=lines(users(100)), headers={**A, **NDJSON}
        )
    assert answer.status_code == 413
    assert "over 1000 bytes" in answer.json()["message"]


def test_a_key_limited_to_an_unconfigured_connection_stops_the_start(
    redis_url: str, tmp_path: Path
) -> None:
    """Refused when the app is made, naming the key and the connection, not at a request."""
    from zoomq.errors import ConfigurationError

    keys = [{"name": "ops", "key": KEY_A, "connections": ["emea-typo"]}]
    settings = make_settings(redis_url, tmp_path, jobs=jobs_settings(api_keys=keys))
    with pytest.raises(
        ConfigurationError, match=r"key 'ops' is limited to connection\(s\) emea-typo"
    ):
        create_app(settings)


def test_a_trailing_slash_is_not_redirected(api: AppClient) -> None:
    """`/v1/jobs/` is a JSON 404, not a 307 whose Location comes from the Host header."""
    answer = api.get("/v1/jobs/", headers={**A, "Host": "evil.example"})
    assert answer.status_code == 404
    assert "location" not in answer.headers
    assert answer.json()["error"] == "not_found"
