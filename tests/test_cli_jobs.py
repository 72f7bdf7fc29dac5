"""``zoomq jobs``' items files and progress bar, without a receiver (it is in tests/e2e)."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import pytest
from click.testing import CliRunner
from rich.console import Console

from zoomq.cli import cli
from zoomq.cli.jobs import _BadItems, _Bar, jobs_group, read_items
from zoomq.jobs.api import JobBody
from zoomq.jobs.models import ItemState, JobStatus

cli.add_command(jobs_group)


def test_csv_columns_nest_and_json_cells_parse(tmp_path: Path) -> None:
    """Dotted names nest, empty cells are left out, {...} and [...] cells are JSON."""
    rows = tmp_path / "m.csv"
    rows.write_text(
        "userId,settings.host_video,settings.audio,tracking_fields,agenda\n"
        'me,true,voip,"[{""field"": ""a"", ""value"": ""b""}]",\n'
    )
    assert list(read_items(rows)) == [
        {
            "userId": "me",
            "settings": {"host_video": "true", "audio": "voip"},
            "tracking_fields": [{"field": "a", "value": "b"}],
        }
    ]


@pytest.mark.parametrize(
    ("name", "text", "says"),
    [
        ("a.csv", "x,y\n1,2,3\n", "a.csv:2: more cells"),
        ("b.csv", 'x\n"{nope"\n', "b.csv:2: column 'x' is not valid JSON"),
        ("c.csv", "s,s.a\n1,2\n", "clashes"),
        ("d.csv", "", "no header row"),
        ("e.jsonl", '{"a": 1}\n\n[1]\n', "e.jsonl:3: expected a JSON object"),
        ("f.txt", "{}", "expected a .jsonl, .ndjson or .csv"),
    ],
)
def test_bad_files_name_the_line(tmp_path: Path, name: str, text: str, says: str) -> None:
    path = tmp_path / name
    path.write_text(text)
    with pytest.raises(_BadItems, match=r".*") as caught:
        list(read_items(path))
    assert says in str(caught.value)


def test_a_bad_file_exits_2_before_any_request(tmp_path: Path) -> None:
    """Checked before anything is sent: no receiver answers on port 9 here."""
    bad = tmp_path / "x.jsonl"
    bad.write_text('{"userId": "a"}\nnot json\n')
    result = CliRunner().invoke(
        cli,
        ["jobs", "submit", "-a", "getUser", "--items", str(bad), "--url", "http://127.0.0.1:9"],
        env={"ZOOMQ_API_KEY": "k" * 40},
    )
    assert result.exit_code == 2
    assert "x.jsonl:2: not JSON" in result.stderr


def test_the_key_file_and_url_are_checked(tmp_path: Path) -> None:
    empty = tmp_path / "key"
    empty.write_text("\n")
    for args, says in [
        (["--api-key-file", str(empty)], "the file is empty"),
        (["--api-key-file", str(tmp_path / "none")], "--api-key-file"),
        (["--url", "ftp://x"], "expected http"),
    ]:
        result = CliRunner().invoke(
            cli, ["jobs", "status", "j1", *args], env={"ZOOMQ_API_KEY": "k" * 40}
        )
        assert result.exit_code == 2, result.output
        assert says in result.stderr


def test_the_bar_shows_done_rate_eta_and_failures() -> None:
    at = datetime(2026, 12, 1, tzinfo=UTC)
    job = JobBody(
        job_id="0123456789abcdef", tenant="t", action="getUser", connection=None,
        status=JobStatus.RUNNING, items=10,
        counts={ItemState.SUCCEEDED: 4, ItemState.FAILED: 1, ItemState.QUEUED: 5},
        progress=0.5, rate=12.5, eta_seconds=8.0, created_at=at, updated_at=at,
        finished_at=None, priority="normal", callback_url=None, status_url="/v1/jobs/x",
    )  # fmt: skip
    console = Console(record=True, width=120, force_terminal=True)
    bar = _Bar(console)
    bar.show(job)
    console.print(bar.progress.get_renderable())
    text = console.export_text()
    assert "5/10" in text
    assert "12.5/s" in text
    assert "ETA 8s" in text
    assert "failed 1" in text


def test_csv_literals_parse_only_in_free_form_objects(tmp_path: Path) -> None:
    """createMeeting's ``settings`` is a free-form object: true, 3, null arrive typed there;
    a typed field keeps its text for the model (a password of digits stays a string)."""
    from zoomq.actions import CATALOG

    rows = tmp_path / "m.csv"
    rows.write_text(
        "\ufeffuserId,topic,password,settings.host_video,settings.jbh_time,settings.x,"
        "settings.name\n"
        "me,true,123456,true,5,null,0123\n",
        encoding="utf-8",
    )
    model = CATALOG["createMeeting"].input
    [item] = list(read_items(rows, model))
    assert item == {
        "userId": "me",  # the BOM is not part of the first column's name
        "topic": "true",
        "password": "123456",
        "settings": {"host_video": True, "jbh_time": 5, "x": None, "name": "0123"},
    }
    model.model_validate(item)


@pytest.mark.parametrize(
    ("text", "says"),
    [
        ("email,firstName,email\na,b,c\n", "m.csv:1: column 'email' appears twice"),
        ("email;firstName\na;b\n", "m.csv:1: the header is separated by ';': use commas"),
    ],
)
def test_csv_headers_are_checked(tmp_path: Path, text: str, says: str) -> None:
    path = tmp_path / "m.csv"
    path.write_text(text)
    with pytest.raises(_BadItems) as caught:
        list(read_items(path))
    assert says in str(caught.value)


def test_an_item_over_the_line_limit_names_file_and_line(tmp_path: Path) -> None:
    path = tmp_path / "x.jsonl"
    path.write_text('{"userId": "a"}\n' + json.dumps({"userId": "b" * 70_000}) + "\n")
    with pytest.raises(_BadItems, match=r"x\.jsonl:2: the item is \d+ bytes, over the 65536"):
        list(read_items(path))


def test_unknown_action_suggests_the_closest(tmp_path: Path) -> None:
    path = tmp_path / "x.jsonl"
    path.write_text('{"userId": "a"}\n')
    result = CliRunner().invoke(
        cli,
        ["jobs", "submit", "-a", "getUsr", "--items", str(path), "--url", "http://127.0.0.1:9"],
        env={"ZOOMQ_API_KEY": "k" * 40},
    )
    assert result.exit_code == 2
    assert "unknown action 'getUsr' (did you mean getUser?)" in result.stderr


def test_the_api_key_is_never_an_option_and_no_receiver_is_named(tmp_path: Path) -> None:
    """--api-key does not exist; connection refused says how to start one."""
    hidden = CliRunner().invoke(cli, ["jobs", "status", "j1", "--api-key", "k" * 40])
    assert hidden.exit_code == 2
    assert "No such option '--api-key'" in hidden.stderr
    refused = CliRunner().invoke(
        cli,
        ["jobs", "status", "j1", "--url", "http://127.0.0.1:9/v1"],
        env={"ZOOMQ_API_KEY": "k" * 40},
    )
    assert refused.exit_code == 1
    assert "no receiver at http://127.0.0.1:9/v1: start `zoomq dev` or pass --url" in refused.stderr
