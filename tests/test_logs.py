"""Redaction: one vocabulary for Zoom's secret-bearing fields, at any depth, in any text."""

from __future__ import annotations

import json
import logging
import re
import sys
from typing import Any

import pytest
import structlog
from structlog.testing import capture_logs

from tests.conftest import SHARED
from zoomq.logs import REDACTED, configure_logging, is_secret_key, redact, redact_value, scrub_text

SECRET = "s3cr3t-VALUE-123"
SPECS = sorted((SHARED / "zoom-openapi").glob("*.json"))

#: What a secret-bearing name looks like (written here, apart from zoomq.logs's own list).
LOOKS_SECRET = re.compile(
    r"pass(word|code)|pwd|token|secret|zak|jwt|host_key|stream_key|pin_code|activation_code"
    r"|signature|authorization|api_key|credential|session_key",
    re.I,
)
#: Spec names that look secret-bearing but are not, and stay readable.
NOT_SECRET = {
    "next_page_token": "a pagination cursor",
    "sync_token": "a pagination cursor",
    "activation_code_expiration": "a date",
    "authorization_id": "a phone number's authorization record id",
    "authorization_name": "its name",
    "require_password_for_pmi_meetings": "an enum: all, jbh_only, none",
    "minimum_password_length": "a setting about passwords",
    "meeting_password_requirement": "a settings object (length, have_letter...)",
    "password_requirement": "likewise",
    "recording_password_requirement": "likewise",
}


def nested(value: Any, depth: int) -> Any:
    for n in range(depth):
        value = {f"level{n}": [value]} if n % 2 else {f"level{n}": value}
    return value


def spec_names() -> dict[str, set[str]]:
    """Every property and parameter name in Zoom's OpenAPI specs, with its types."""
    names: dict[str, set[str]] = {}

    def walk(node: Any) -> None:
        if isinstance(node, dict):
            props = node.get("properties")
            if isinstance(props, dict):
                for name, schema in props.items():
                    if isinstance(schema, dict):
                        names.setdefault(name, set()).add(str(schema.get("type")))
            params = node.get("parameters")
            if isinstance(params, list):
                for param in params:
                    if isinstance(param, dict) and "name" in param:
                        kind = str((param.get("schema") or {}).get("type"))
                        names.setdefault(param["name"], set()).add(kind)
            for child in node.values():
                walk(child)
        elif isinstance(node, list):
            for child in node:
                walk(child)

    for spec in SPECS:
        walk(json.loads(spec.read_text()))
    return names


def test_the_specs_are_there() -> None:
    """The specs are read from ../shared, and they name the fields this vocabulary is for."""
    names = spec_names()
    assert len(SPECS) >= 4
    for field in ("password", "passcode", "h323_password", "encrypted_password", "token"):
        assert field in names


def test_every_secret_looking_field_of_the_specs_is_redacted_at_depth() -> None:
    """Each spec field named like a secret loses its value 12 levels deep; flags stay."""
    checked = 0
    for name, kinds in sorted(spec_names().items()):
        if not LOOKS_SECRET.search(name):
            continue
        if name in NOT_SECRET:
            assert not is_secret_key(name), name
            assert SECRET in json.dumps(redact_value(nested({name: SECRET}, 12))), name
            continue
        if kinds & {"string", "integer", "object", "array"}:
            out = json.dumps(redact_value(nested({name: SECRET, "n": {name: 918273}}, 12)))
            assert SECRET not in out, name
            assert "918273" not in out, name
            checked += 1
        if "boolean" in kinds:  # password_required: true carries no secret
            assert redact_value(nested({name: True}, 12)) == nested({name: True}, 12), name
    assert checked >= 15


@pytest.mark.parametrize(
    "field",
    [
        "password",
        "passcode",
        "recording_play_passcode",
        "encrypted_password",
        "h323_password",
        "pstn_password",
        "download_token",
        "access_token",
        "refresh_token",
        "client_secret",
        "secretToken",
        "zak",
        "jwt",
        "Authorization",
        "X-Api-Key",
        "Cookie",
        "Set-Cookie",
        "x-zm-signature",
    ],
)
def test_secret_fields_are_redacted_by_name(field: str) -> None:
    """Zoom's secret-bearing fields and credential headers are redacted wherever they sit."""
    out = redact_value({"a": [{"b": {field: SECRET, "topic": "Weekly"}}]})
    assert out == {"a": [{"b": {field: REDACTED, "topic": "Weekly"}}]}


def test_harmless_fields_stay_readable() -> None:
    """topic, event, Zoom's error code, booleans about passwords and cursors are kept."""
    value = {
        "event": "meeting.created",
        "topic": "Weekly",
        "code": 3001,
        "password_required": True,
        "pstn_password_protected": False,
        "next_page_token": "cursor",
        "type": 2,
    }
    assert redact_value(value) == value


def test_depth_has_no_cut_off_that_passes_values_through() -> None:
    """A passcode 40 levels deep is redacted; a self-containing dict ends redacted whole."""
    for depth in (7, 12, 40):
        assert SECRET not in json.dumps(redact_value(nested({"passcode": SECRET}, depth)))
        text = f"https://zoom.us/s/1?zak={SECRET}"
        assert SECRET not in json.dumps(redact_value(nested({"start_url": text}, depth)))
    loop: dict[str, Any] = {"password": SECRET}
    loop["self"] = loop
    assert SECRET not in repr(redact_value(loop))


@pytest.mark.parametrize(
    ("text", "kept"),
    [
        (f"https://us02web.zoom.us/j/85?pwd={SECRET}&uname=Ada", "uname=Ada"),
        (f"https://us02web.zoom.us/s/85?zak={SECRET}", "/s/85?zak="),
        (f"https://zoom.us/rec/download/abc?access_token={SECRET}", "/rec/download/abc"),
        (f"https://zoom.us/rec/play/abc?tk={SECRET}&x=1", "x=1"),
        (f"https://zoom.us/j/1?jwt={SECRET}", "zoom.us/j/1"),
        (f"https://example.com/oauth/callback?code={SECRET}&state=s", "state=s"),
        (f"https://h/p?download_token={SECRET}#signature={SECRET}", "https://h/p"),
        (f"Authorization: Bearer {SECRET}", "Authorization: "),
        (f"Authorization: Basic {SECRET}", "Authorization: "),
        (f"X-Api-Key: {SECRET}", "X-Api-Key: "),
        (f"Cookie: a={SECRET}; b={SECRET}\nHost: zoom.us", "Host: zoom.us"),
        (f"{{'download_token': '{SECRET}', 'topic': 'x'}}", "'topic': 'x'"),
        (f'{{"passcode": "{SECRET}", "n": 1}}', '"n": 1'),
        (f'{{"passcode": {SECRET}}}', "passcode"),
        (f"retrying with password={SECRET} now", "now"),
        (f"sent with Bearer {SECRET}", "sent with Bearer "),
        # A harmless key's value holding a repr with a secret in it (Celery's argsrepr).
        (f"""{{'argsrepr': "[{{'event': 'x', 'download_token': '{SECRET}'}}]"}}""", "'event'"),
        (f"x: password={SECRET}", "x: password="),
        (f"https://h/cb?next=https://h/p?token={SECRET}", "next=https://h/p"),
    ],
)
def test_secrets_inside_text_are_scrubbed(text: str, kept: str) -> None:
    """URL parameters, headers and key/value pairs inside any string lose their values."""
    out = scrub_text(text)
    assert SECRET not in out
    assert kept in out
    assert REDACTED in out


def test_text_without_secrets_is_unchanged() -> None:
    """Error codes, booleans in reprs and plain URLs stay as they are."""
    for text in (
        "zoom error code=3001: Meeting does not exist",
        "{'password_required': True, 'topic': 'Weekly'}",
        "https://zoom.us/j/85?uname=Ada",
        "2024-05-01T10:00:00Z meeting.started",
    ):
        assert scrub_text(text) == text


def test_the_processor_redacts_events() -> None:
    """structlog events pass through ``redact``: fields by name, text by content."""
    with capture_logs(processors=[redact]) as logs:
        structlog.get_logger("t").info(
            "zoom.recording",
            password=SECRET,
            password_required=True,
            payload=nested({"download_token": SECRET}, 10),
            join_url=f"https://zoom.us/j/1?pwd={SECRET}",
        )
    assert SECRET not in repr(logs)
    assert logs[0]["password_required"] is True
    assert logs[0]["event"] == "zoom.recording"


def test_structlog_and_stdlib_go_to_stderr_as_redacted_json(
    capsys: pytest.CaptureFixture[str],
) -> None:
    """Both kinds of log line reach stderr through one handler, redacted; stdout stays empty."""
    restore = configure_logging("json", "INFO", cache=False)
    try:
        structlog.get_logger("zoomq.test").info("probe", passcode=SECRET, topic="Weekly")
        logging.getLogger("uvicorn.error").warning("GET /j/1?pwd=%s", SECRET)
        logging.getLogger("celery.worker").info("Task received: %r", {"download_token": SECRET})
        try:
            raise ValueError(f"boom with Bearer {SECRET}")
        except ValueError:
            logging.getLogger("celery.app.trace").exception("Task failed")
        logging.getLogger("zoomq.test").debug("below the level")
    finally:
        restore()
    out = capsys.readouterr()
    assert out.out == ""
    lines = [json.loads(line) for line in out.err.splitlines()]
    assert [line["event"].split(" ")[0] for line in lines] == ["probe", "GET", "Task", "Task"]
    assert lines[0]["topic"] == "Weekly"
    assert lines[0]["level"] == "info"
    assert lines[1]["logger"] == "uvicorn.error"
    assert "boom with Bearer" in lines[3]["exception"]
    assert SECRET not in out.err


def test_configuring_twice_keeps_one_handler() -> None:
    """A second configuration replaces zoomq's handler; undoing it puts things back."""
    root = logging.getLogger()
    before = list(root.handlers)
    first = configure_logging("json", "INFO", cache=False)
    second = configure_logging("json", "DEBUG", cache=False)
    try:
        assert len(root.handlers) == len(before) + 1
        assert root.level == logging.DEBUG
        assert logging.getLogger("httpx").getEffectiveLevel() == logging.DEBUG
    finally:
        second()
        first()
    assert root.handlers == before


def test_uvicorns_own_handlers_are_taken_back(capsys: pytest.CaptureFixture[str]) -> None:
    """A uvicorn logger left with its own non-propagating handler still reaches stderr as JSON."""
    stray = logging.StreamHandler(sys.stdout)
    uvicorn_logger = logging.getLogger("uvicorn")
    saved = (uvicorn_logger.handlers[:], uvicorn_logger.propagate)
    uvicorn_logger.handlers, uvicorn_logger.propagate = [stray], False
    try:
        restore = configure_logging("json", "INFO", cache=False)
        try:
            logging.getLogger("uvicorn.error").warning("GET /j/1?pwd=%s", SECRET)
        finally:
            restore()
        assert uvicorn_logger.handlers == [stray]  # put back as it was
    finally:
        uvicorn_logger.handlers, uvicorn_logger.propagate = saved
    out = capsys.readouterr()
    assert out.out == ""
    assert json.loads(out.err)["logger"] == "uvicorn.error"
    assert SECRET not in out.err


def test_key_value_pairs_are_redacted_by_their_name() -> None:
    """rawRequest's list-form headers and query parameters, and header tuples, by name."""
    data = {
        "headers": [{"key": "X-Api-Key", "value": SECRET}, {"key": "Accept", "value": "json"}],
        "queryParams": [{"key": "access_token", "value": SECRET}, {"name": "pwd", "value": 1}],
        "raw_headers": [(b"set-cookie", SECRET.encode()), ("content-type", "json")],
    }
    out = redact_value(data)
    assert SECRET not in repr(out)
    assert out["headers"][1] == {"key": "Accept", "value": "json"}
    assert out["queryParams"][1] == {"name": "pwd", "value": REDACTED}
    assert out["raw_headers"][1] == ("content-type", "json")


@pytest.mark.parametrize(
    "text",
    [
        f"{{'tokens': ['{SECRET}', 'L2']}}",
        f'"tokens": ["{SECRET}", "L2"]',
        f"{{'passcode': b'{SECRET}'}}",
        f"[(b'set-cookie', b'cred={SECRET}'), (b'content-type', b'json')]",
        f"('x-zm-signature', 'v0={SECRET}')",
        f"(('password', '{SECRET}'),)",
        f"password='{SECRET}'",
        f'Request(password="{SECRET} more")',
        f'{{\\"password\\": \\"{SECRET}\\"}}',
        f"redis://:{SECRET}@127.0.0.1:6379/0",
        f"https://user:{SECRET}@proxy.example.com/x",
        f"{{'password': 'it\\'s {SECRET}', 'topic': 'T'}}",
    ],
)
def test_text_shapes_that_carry_a_secret_are_scrubbed(text: str) -> None:
    """Lists, byte strings, tuple pairs, quoted bare values, escaped JSON and URL userinfo."""
    assert SECRET not in scrub_text(text)
