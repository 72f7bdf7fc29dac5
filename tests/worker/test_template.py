"""The rules file's template engine: dotted-path lookups only."""

from __future__ import annotations

import pytest

from zoomq.automations.template import (
    TemplateError,
    compile_template,
    compile_value,
    lookup,
    render_value,
)
from zoomq.errors import InvalidInput

EVENT = {
    "event": "meeting.registration_created",
    "event_ts": 1700000000000,
    "payload": {
        "account_id": "acc",
        "object": {
            "id": 85746065432,
            "topic": "Launch",
            "settings": {"approval_type": 0},
            "registrant": {"email": "ada@example.com", "first_name": "Ada", "vip": True},
            "participants": [{"email": "a@x.io"}, {"email": "b@x.io"}],
            "nothing": None,
        },
    },
}


def test_whole_string_keeps_the_json_type() -> None:
    """A lone ``{{ x }}`` yields the value itself: int, bool, dict, list, None."""
    assert compile_template("{{ payload.object.id }}").render(EVENT) == 85746065432
    assert compile_template("{{payload.object.registrant.vip}}").render(EVENT) is True
    assert compile_template("{{ payload.object.settings }}").render(EVENT) == {"approval_type": 0}
    assert compile_template("{{ payload.object.participants }}").render(EVENT)[1] == {
        "email": "b@x.io"
    }
    assert compile_template("{{ payload.object.nothing }}").render(EVENT) is None


def test_mixed_strings_interpolate_text() -> None:
    """Text around templates makes the result a string."""
    template = compile_template("Hi {{ payload.object.registrant.first_name }} ({{ event_ts }})")
    assert template.render(EVENT) == "Hi Ada (1700000000000)"
    assert compile_template("vip={{ payload.object.registrant.vip }}").render(EVENT) == "vip=true"
    assert compile_template("[{{ payload.object.nothing }}]").render(EVENT) == "[]"
    assert compile_template("s={{ payload.object.settings }}").render(EVENT) == (
        's={"approval_type":0}'
    )


def test_list_items_by_index() -> None:
    """A numeric step indexes a list."""
    assert lookup(EVENT, "payload.object.participants.1.email") == "b@x.io"


def test_static_strings_are_static() -> None:
    """A string without ``{{`` is literal text and needs no event."""
    template = compile_template("plain } text {")
    assert template.is_static
    assert template.render({}) == "plain } text {"


def test_a_missing_path_is_an_error_naming_it() -> None:
    """The message names the whole path and the step that was not found."""
    with pytest.raises(TemplateError, match=r"payload\.object\.registrant\.phone is missing"):
        compile_template("{{ payload.object.registrant.phone }}").render(EVENT)
    with pytest.raises(TemplateError, match=r"no '7' in payload\.object\.participants"):
        lookup(EVENT, "payload.object.participants.7")


def test_template_errors_are_invalid_input() -> None:
    """A template that cannot be filled is bad input: never retried."""
    assert issubclass(TemplateError, InvalidInput)


@pytest.mark.parametrize(
    "source",
    [
        "{{ payload.object.id",
        "{{ }}",
        "{{ payload.object.id + 1 }}",
        "{{ __import__('os').system('id') }}",
        "{{ payload['object'] }}",
        "{{ payload..object }}",
        "{{ payload.object.id | upper }}",
    ],
)
def test_anything_but_a_dotted_path_is_refused(source: str) -> None:
    """No expressions, calls, subscripts or filters: only dotted paths compile."""
    with pytest.raises(TemplateError):
        compile_template(source)


def test_compile_value_walks_tables_and_lists_and_names_the_field() -> None:
    """Nested inputs are compiled and rendered field by field."""
    compiled = compile_value(
        {
            "meetingId": "{{ payload.object.id }}",
            "emails": ["{{ payload.object.participants.0.email }}", "fixed@x.io"],
            "nested": {"count": 3},
        }
    )
    assert render_value(compiled, EVENT) == {
        "meetingId": 85746065432,
        "emails": ["a@x.io", "fixed@x.io"],
        "nested": {"count": 3},
    }
    with pytest.raises(TemplateError, match=r"input\.emails\.1"):
        compile_value({"emails": ["ok", "{{ broken"]})
    with pytest.raises(TemplateError, match=r"input\.who: .*registrant\.nope is missing"):
        render_value(compile_value({"who": "{{ payload.object.registrant.nope }}"}), EVENT)
