"""The rules file: parsing, checking at start, matching and rendering."""

from __future__ import annotations

from pathlib import Path

import pytest

from zoomq.automations import RulesError, load_automations, load_rules, parse_rules
from zoomq.errors import TemplateError

GOOD = """
[[rule]]
name = "register-guest"
event = "meeting.registration_created"
action = "addMeetingRegistrant"
when = { "payload.object.type" = 2, "payload.object.topic" = { in = ["Launch", "Demo"] } }
[rule.input]
meetingId = 123456789
email = "{{ payload.object.registrant.email }}"
firstName = "{{ payload.object.registrant.first_name }}"
lastName = "Guest of {{ payload.object.topic }}"

[[rule]]
name = "any-meeting"
event = "meeting.*"
action = "getMeeting"
connection = "default"
input = { meetingId = "{{ payload.object.id }}" }
"""


def event(topic: str = "Launch", kind: int = 2) -> dict[str, object]:
    return {
        "event": "meeting.registration_created",
        "event_ts": 1,
        "payload": {
            "object": {
                "id": 42,
                "type": kind,
                "topic": topic,
                "registrant": {"email": "ada@example.com", "first_name": "Ada"},
            }
        },
    }


def test_a_good_file_parses_into_rules() -> None:
    """Every field is read; TOML inline tables and sub-tables both work."""
    first, second = parse_rules(GOOD)
    assert first.name == "register-guest"
    assert first.action == "addMeetingRegistrant"
    assert [(c.path, c.op) for c in first.when] == [
        ("payload.object.type", "eq"),
        ("payload.object.topic", "in"),
    ]
    assert second.connection == "default"
    assert second.event == "meeting.*"


def test_conditions_and_wildcards_select_events() -> None:
    """``when`` must hold entirely; ``meeting.*`` matches any meeting event."""
    autos = load_automations(None, ())  # empty
    assert len(autos) == 0
    rules = [r.as_automation() for r in parse_rules(GOOD)]
    meta: dict[str, object] = {}
    assert [a.name for a in rules if a.matches(event(), meta)] == ["register-guest", "any-meeting"]
    assert [a.name for a in rules if a.matches(event(topic="Other"), meta)] == ["any-meeting"]
    assert [a.name for a in rules if a.matches(event(kind=8), meta)] == ["any-meeting"]
    other = {**event(), "event": "user.created"}
    assert [a.name for a in rules if a.matches(other, meta)] == []


def test_nested_when_tables_flatten_to_paths_and_exists_works() -> None:
    """Dotted TOML keys nest; ``exists`` tests presence; ``true`` never equals ``1``."""
    (rule,) = parse_rules(
        """
        [[rule]]
        name = "r"
        event = "*"
        action = "getUser"
        input = { userId = "me" }
        [rule.when]
        payload.object.type = 2
        payload.object.registrant.email = { exists = true }
        payload.object.registrant.phone = { exists = false }
        """
    )
    ctx = {**event(), "meta": {}}
    assert rule.applies(ctx)
    (strict,) = parse_rules(
        '[[rule]]\nname = "s"\nevent = "*"\naction = "getUser"\n'
        'input = { userId = "me" }\nwhen = { "payload.object.type" = true }\n'
    )
    assert not strict.applies({"payload": {"object": {"type": 1}}})


def test_render_input_fills_templates_keeping_types() -> None:
    """A lone template keeps the event's type; mixed text interpolates."""
    rule = parse_rules(GOOD)[0]
    assert rule.render_input(event(), {}) == {
        "meetingId": 123456789,
        "email": "ada@example.com",
        "firstName": "Ada",
        "lastName": "Guest of Launch",
    }


def test_a_missing_event_field_names_the_rule_and_field() -> None:
    """Rendering against an event without the path says which rule and input field."""
    rule = parse_rules(GOOD)[0]
    bad = event()
    del bad["payload"]["object"]["registrant"]  # type: ignore[index]
    with pytest.raises(TemplateError, match=r"rule 'register-guest': input\.email: .*missing"):
        rule.render_input(bad, {})


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (
            '[[rule]]\nname = "x"\nevent = "a.b"\naction = "noSuchAction"\n',
            r"rule 'x' \(#1\): action: 'noSuchAction' is not an action of the catalog",
        ),
        (
            '[[rule]]\nname = "x"\nevent = "a.b"\naction = "getUser"\n'
            'input = { userId = "{{ payload.object.id" }\n',
            r"rule 'x' \(#1\): input\.userId: unclosed",
        ),
        (
            '[[rule]]\nname = "x"\nevent = "a.b"\naction = "addMeetingRegistrant"\n'
            'input = { meetingId = 1, firstName = "Ada" }\n',
            r"rule 'x' \(#1\): input\.email: Field required",
        ),
        (
            '[[rule]]\nname = "x"\nevent = "a.b"\naction = "addMeetingRegistrant"\n'
            'input = { meetingId = 1, email = "{{ payload.e }}", firstName = "A", emial = "x" }\n',
            r"rule 'x' \(#1\): input\.emial: addMeetingRegistrant has no such field",
        ),
        (
            '[[rule]]\nname = "x"\nevent = "a.b"\naction = "getUser"\nactoin = 1\n',
            r"rule 'x' \(#1\): actoin: unknown key",
        ),
        (
            '[[rule]]\nevent = "a.b"\naction = "getUser"\n',
            r"rule #1: name: required",
        ),
        (
            '[[rule]]\nname = "x"\nevent = "a.*.b"\naction = "getUser"\n',
            r"rule 'x' \(#1\): event:",
        ),
        (
            '[[rule]]\nname = "x"\nevent = "a"\naction = "getUser"\ninput = {userId = "me"}\n'
            '[[rule]]\nname = "x"\nevent = "b"\naction = "getUser"\ninput = {userId = "me"}\n',
            r"rule #2: name 'x' is used twice",
        ),
        (
            '[[rule]]\nname = "x"\nevent = "a"\naction = "getUser"\n'
            'when = { "p" = { in = 3 } }\ninput = {userId = "me"}\n',
            r"rule 'x' \(#1\): when: p: 'in' takes a list",
        ),
        ('[rules]\nname = "x"\n', r"unknown top-level key"),
        ("[[rule]\n", r"not valid TOML"),
    ],
)
def test_problems_are_reported_naming_rule_and_field(text: str, message: str) -> None:
    """Each kind of mistake is a RulesError whose message names where it is."""
    with pytest.raises(RulesError, match=message):
        parse_rules(text, source="rules.toml")


def test_unknown_connections_are_refused_when_known_ones_are_given() -> None:
    """A rule's connection must be one of the configured connections."""
    with pytest.raises(RulesError, match=r"connection: unknown connection 'default'"):
        parse_rules(GOOD, connections={"other"})
    assert len(parse_rules(GOOD, connections={"default"})) == 2


def test_toml_dates_become_iso_strings(tmp_path: Path) -> None:
    """A TOML datetime in an input arrives as the ISO text JSON would carry."""
    path = tmp_path / "rules.toml"
    path.write_text(
        '[[rule]]\nname = "m"\nevent = "user.created"\naction = "createMeeting"\n'
        '[rule.input]\nuserId = "{{ payload.object.id }}"\ntopic = "Welcome"\n'
        "startTime = 2030-01-02T03:04:05Z\n"
    )
    (rule,) = load_rules(path)
    assert rule.input["startTime"] == "2030-01-02T03:04:05+00:00"


def test_an_unreadable_file_is_a_clear_error(tmp_path: Path) -> None:
    """A missing rules file is named in the error."""
    with pytest.raises(RulesError, match=r"rules file .*missing\.toml: cannot read"):
        load_rules(tmp_path / "missing.toml")


RAW = """
[[rule]]
name = "raw-register"
event = "meeting.created"
action = "rawRequest"
[rule.input]
method = "POST"
url = "{url}"
{extra}
"""


def test_raw_request_takes_a_body_table_rendered_and_validated() -> None:
    """rawRequest's ``body`` (its ``data`` field's other name) is accepted and templated."""
    (rule,) = parse_rules(
        RAW.format(
            url="/meetings/{{ payload.object.id }}/registrants",
            extra='[rule.input.body]\nemail = "{{ payload.object.registrant.email }}"\n'
            'first_name = "Ada"',
        )
    )
    rendered = rule.render_input(event(), {})
    assert rendered["body"] == {"email": "ada@example.com", "first_name": "Ada"}
    assert rendered["url"] == "/meetings/42/registrants"
    (static,) = parse_rules(RAW.format(url="/users", extra='body = { action = "create" }'))
    assert static.input["body"] == {"action": "create"}


def test_raw_request_body_is_checked_and_unknown_fields_still_refused() -> None:
    """A static body the model refuses, and a misspelt field, are errors naming the field."""
    with pytest.raises(RulesError, match=r"rule 'raw-register' \(#1\): input\.body: .*not valid"):
        parse_rules(RAW.format(url="/users", extra='body = "{not json"'))
    with pytest.raises(RulesError, match=r"input\.bodie: rawRequest has no such field"):
        parse_rules(RAW.format(url="/users", extra="bodie = 1"))


def test_the_reference_spelling_of_a_field_is_accepted() -> None:
    """Every name the input model accepts (here ``ocurrenceIds``) is accepted by the checker."""
    (rule,) = parse_rules(
        '[[rule]]\nname = "x"\nevent = "a.b"\naction = "addMeetingRegistrant"\n'
        'input = { meetingId = 1, email = "a@example.com", firstName = "A", '
        'ocurrenceIds = "1648194360000" }\n'
    )
    assert rule.input["ocurrenceIds"] == "1648194360000"


_GET = 'event = "a"\naction = "getUser"\n'


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("rule = [1]\n", r"rules file rules\.toml: rule #1: must be a table"),
        ('[rule]\nname = "x"\n', r"'rule' must be an array of tables"),
        (f'[[rule]]\nname = "a b"\n{_GET}', r"rule 'a b' \(#1\): name: required"),
        (f"[[rule]]\nname = 5\n{_GET}", r"rule #1: name: required"),
        ('[[rule]]\nname = "x"\nevent = 3\naction = "getUser"\n', r"rule 'x' \(#1\): event:"),
        ('[[rule]]\nname = "x"\nevent = ""\naction = "getUser"\n', r"rule 'x' \(#1\): event:"),
        ('[[rule]]\nname = "x"\nevent = "a"\naction = 3\n', r"rule 'x' \(#1\): action:"),
        ('[[rule]]\nname = "x"\nevent = "a"\n', r"rule 'x' \(#1\): action:"),
        (
            f'[[rule]]\nname = "x"\n{_GET}connection = 1\ninput = {{userId = "me"}}\n',
            r"rule 'x' \(#1\): connection: must be a connection name",
        ),
        (
            f'[[rule]]\nname = "x"\n{_GET}description = 1\ninput = {{userId = "me"}}\n',
            r"rule 'x' \(#1\): description: must be a string",
        ),
        (
            f'[[rule]]\nname = "x"\n{_GET}when = 1\ninput = {{userId = "me"}}\n',
            r"rule 'x' \(#1\): when: must be a table",
        ),
        (f'[[rule]]\nname = "x"\n{_GET}input = 1\n', r"rule 'x' \(#1\): input: must be a table"),
        (
            f'[[rule]]\nname = "x"\n{_GET}when = {{ "a b" = 1 }}\ninput = {{userId = "me"}}\n',
            r"rule 'x' \(#1\): when: 'a b' is not a dotted path",
        ),
        (
            f'[[rule]]\nname = "x"\n{_GET}when = {{ p = {{}} }}\ninput = {{userId = "me"}}\n',
            r"rule 'x' \(#1\): when: p: empty condition",
        ),
        (
            f'[[rule]]\nname = "x"\n{_GET}when = {{ p = {{ exists = 1 }} }}\n'
            'input = {userId = "me"}\n',
            r"rule 'x' \(#1\): when: p: 'exists' takes true or false",
        ),
        (
            f'[[rule]]\nname = "x"\n{_GET}zz = 1\nname2 = 2\n',
            r"rule 'x' \(#1\): name2: unknown key \(known: action, connection, description, "
            r"event, input, name, when\)",
        ),
        (
            f'[[rule]]\nname = "x"\n{_GET}input = {{ userId = "{{{{ a }}}}" }}\n'
            f'[[rule]]\nname = "y"\n{_GET}input = {{ userId = "me", extra = 1 }}\n',
            r"rule 'y' \(#2\): input\.extra: getUser has no such field",
        ),
    ],
)
def test_every_key_of_a_rule_is_checked_naming_rule_and_field(text: str, message: str) -> None:
    """Each key's type and form is checked; the message names the rule (or its index) and key."""
    with pytest.raises(RulesError, match=message):
        parse_rules(text, source="rules.toml")
