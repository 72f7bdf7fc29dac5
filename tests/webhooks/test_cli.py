"""`zoomq webhook send|validate` through click's runner, against the loopback endpoint."""

from __future__ import annotations

import json
import socket
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from tests.webhooks.conftest import SECRET, LoopbackZoom, Reply
from zoomq.cli.webhook import webhook_group

FAST = ["--time-scale", "0.0001"]


def run(*args: str, env: dict[str, str] | None = None) -> tuple[int, str]:
    result = CliRunner().invoke(webhook_group, list(args), env=env)
    return result.exit_code, result.output


def run_split(*args: str, env: dict[str, str] | None = None) -> tuple[int, str, str]:
    """Exit code, stdout and stderr apart."""
    result = CliRunner().invoke(webhook_group, list(args), env=env)
    return result.exit_code, result.stdout, result.stderr


def test_send_delivers_and_exits_0(loopback: LoopbackZoom) -> None:
    """A delivered event prints its attempt and a final line on stderr, the result on stdout."""
    url, endpoint = loopback.endpoint(200)
    code, out, err = run_split("send", "meeting.created", "--to", url, "--secret", SECRET)
    assert code == 0, out + err
    assert "attempt 1: HTTP 200" in err
    assert err.strip().splitlines()[-1] == "delivered meeting.created after 1 attempt"
    summary = json.loads(out)
    assert summary["delivered"] is True
    assert summary["event"] == "meeting.created"
    assert summary["url"] == url
    assert summary["attempts"] == 1
    assert summary["status"] == 200
    assert endpoint.deliveries[0].failure is None
    assert SECRET not in out + err


def test_send_prints_every_retry(loopback: LoopbackZoom) -> None:
    """Each attempt gets its own line as it happens, with the wait before the next one."""
    url, _ = loopback.endpoint(500, 502, 200)
    code, out, err = run_split("send", "user.created", "--to", url, "--secret", SECRET, *FAST)
    assert code == 0, out + err
    assert json.loads(out)["attempts"] == 3
    lines = err.strip().splitlines()
    assert lines[1].startswith("attempt 1: HTTP 500")
    assert "retrying in 0.03 s" in lines[1]
    assert lines[2].startswith("attempt 2: HTTP 502")
    assert lines[3].startswith("attempt 3: HTTP 200")
    assert lines[4] == "delivered user.created after 3 attempts"


def test_send_exits_1_when_not_delivered(loopback: LoopbackZoom) -> None:
    """A 404 is final: exit 1."""
    url, _ = loopback.endpoint(404)
    code, output = run("send", "meeting.deleted", "--to", url, "--secret", SECRET, *FAST)
    assert code == 1
    assert "not retried" in output


def test_send_names_the_refusal_reason(loopback: LoopbackZoom) -> None:
    """A 4xx answer's reason from the body is in the message and in the result."""
    url, _ = loopback.endpoint(Reply(status=401, body={"error": "bad_signature"}))
    code, out, err = run_split("send", "meeting.created", "--to", url, "--secret", SECRET)
    assert code == 1
    assert "HTTP 401: bad_signature; not retried" in err
    assert json.loads(out)["reason"] == "bad_signature"


def test_empty_or_missing_secret_exits_2_naming_it(
    loopback: LoopbackZoom, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """`--secret ""` (an unset variable pasted) or no secret at all: exit 2 naming --secret."""
    monkeypatch.chdir(tmp_path)  # no .env, no dev state file
    url, endpoint = loopback.endpoint(200)
    env = {"ZOOM_WEBHOOK_SECRET_TOKEN": ""}
    for args in (["--secret", ""], ["--secret", "  "], []):
        for command in (["send", "meeting.created"], ["validate"]):
            result = CliRunner().invoke(webhook_group, [*command, "--to", url, *args], env=env)
            assert result.exit_code == 2, (args, result.output)
            assert result.exception is None or isinstance(result.exception, SystemExit)
            assert "--secret" in result.output
            assert "ZOOM_WEBHOOK_SECRET_TOKEN" in result.output
    assert endpoint.deliveries == []


def test_secret_comes_from_the_environment(loopback: LoopbackZoom) -> None:
    """ZOOM_WEBHOOK_SECRET_TOKEN stands in for --secret."""
    url, endpoint = loopback.endpoint(200)
    code, output = run(
        "send", "user.deleted", "--to", url, env={"ZOOM_WEBHOOK_SECRET_TOKEN": SECRET}
    )
    assert code == 0, output
    assert endpoint.deliveries[0].failure is None


def test_during_a_rotation_the_first_environment_secret_signs(loopback: LoopbackZoom) -> None:
    """ZOOM_WEBHOOK_SECRET_TOKEN="current,previous": the event is signed with the current."""
    url, endpoint = loopback.endpoint(200)
    env = {"ZOOM_WEBHOOK_SECRET_TOKEN": f"{SECRET},previous-secret"}
    code, output = run("send", "user.deleted", "--to", url, env=env)
    assert code == 0, output
    assert endpoint.deliveries[0].failure is None


def test_bad_data_exits_2_naming_data(loopback: LoopbackZoom) -> None:
    """Invalid --data JSON is a usage error that names the option."""
    url, endpoint = loopback.endpoint(200)
    for bad in ["{not json", "[1, 2]", "@/nonexistent/file.json", '{"id": 9007199254740993}']:
        code, output = run(
            "send", "meeting.created", "--to", url, "--secret", SECRET, "--data", bad
        )
        assert code == 2, (bad, output)
        assert "--data" in output
    assert endpoint.deliveries == []


def test_data_from_file_sets_the_meeting_id(loopback: LoopbackZoom, tmp_path: Path) -> None:
    """--data @file is read and merged into payload.object."""
    data = tmp_path / "data.json"
    data.write_text(json.dumps({"id": 85746065432, "topic": "Zoë 東京"}), encoding="utf-8")
    url, endpoint = loopback.endpoint(200)
    code, output = run(
        "send", "meeting.created", "--to", url, "--secret", SECRET, "--data", f"@{data}",
        "--account-id", "acct-9",
    )  # fmt: skip
    assert code == 0, output
    event, obj = endpoint.first_object()
    assert obj["id"] == 85746065432
    assert obj["topic"] == "Zoë 東京"
    assert event.account_id == "acct-9"


def test_recording_comes_from_the_sandbox(loopback: LoopbackZoom) -> None:
    """--sandbox-api: token via account_credentials, newest users/me recording in the event."""
    loopback.recordings = {
        "page_size": 30,
        "total_records": 1,
        "meetings": [
            {
                "uuid": "sandbox-uuid==",
                "id": 81234567890,
                "host_id": "sandbox-host",
                "account_id": "sandbox-account",
                "topic": "Sandbox recording",
                "type": "2",
                "start_time": "2025-01-01T10:00:00Z",
                "duration": 12,
                "recording_files": [
                    {
                        "id": "file-1",
                        "meeting_id": "sandbox-uuid==",
                        "recording_start": "2025-01-01T10:00:00Z",
                        "recording_end": "2025-01-01T10:12:00Z",
                        "file_type": "MP4",
                        "file_size": 4096,
                        "file_extension": "MP4",
                        "play_url": f"{loopback.base}/rec/play/file-1",
                        "download_url": f"{loopback.base}/rec/download/file-1",
                        "status": "completed",
                        "recording_type": "shared_screen_with_speaker_view",
                    }
                ],
            }
        ],
    }
    url, endpoint = loopback.endpoint(200)
    code, output = run(
        "send", "recording.completed", "--to", url, "--secret", SECRET,
        "--sandbox-api", f"{loopback.base}/v2",
    )  # fmt: skip
    assert code == 0, output
    event, obj = endpoint.first_object()
    assert obj["id"] == 81234567890
    assert obj["type"] == 2
    assert obj["recording_files"][0]["download_url"].endswith("/rec/download/file-1")
    assert event.download_token


def test_empty_sandbox_fails_clearly(loopback: LoopbackZoom) -> None:
    """A sandbox without recordings is an error, not a silently generated event."""
    loopback.recordings = {"meetings": []}
    url, endpoint = loopback.endpoint(200)
    code, output = run(
        "send", "recording.completed", "--to", url, "--secret", SECRET,
        "--sandbox-api", f"{loopback.base}/v2",
    )  # fmt: skip
    assert code == 1
    assert "no recordings" in output
    assert endpoint.deliveries == []


def test_validate_exits_0_for_a_correct_endpoint(loopback: LoopbackZoom) -> None:
    """validate passes against an endpoint that answers the check correctly."""
    url, _ = loopback.endpoint(Reply(body="crc"))
    code, output = run("validate", "--to", url, "--secret", SECRET)
    assert code == 0, output
    assert output.startswith("valid:")


def test_validate_exits_1_and_lists_problems(loopback: LoopbackZoom) -> None:
    """validate fails against an endpoint that answers with the wrong secret."""
    url, _ = loopback.endpoint(Reply(body="crc", secret="not-the-secret"))
    code, output = run("validate", "--to", url, "--secret", SECRET)
    assert code == 1
    assert "encryptedToken" in output


def _dead_url() -> str:
    with socket.socket() as s:  # bound, never listening: connections are refused
        s.bind(("127.0.0.1", 0))
        return f"http://127.0.0.1:{s.getsockname()[1]}/webhooks/zoom"


def test_scaled_waits_get_no_hint() -> None:
    """With seconds-long waits there is nothing to explain."""
    code, _, err = run_split(
        "send", "meeting.created", "--to", _dead_url(), "--secret", SECRET, *FAST
    )
    assert code == 1
    assert "connect_error" in err
    assert "hint:" not in err


def test_refused_connection_with_zoom_waits_names_time_scale() -> None:
    """At Zoom's own schedule (5 min to the next try) the command says why it waits, once."""
    argv = [sys.executable, "-m", "zoomq", "webhook", "send", "meeting.created"]
    argv += ["--to", _dead_url(), "--secret", SECRET]
    with subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) as proc:
        try:
            assert proc.stderr is not None
            lines = [proc.stderr.readline() for _ in range(3)]
        finally:
            # SIGTERM, not SIGINT: under nohup (or CI) SIGINT is ignored by the child.
            proc.terminate()
            proc.communicate(timeout=10)
    assert "attempt 1: connect_error" in lines[1]
    assert "retrying in 300 s" in lines[1]
    assert lines[2].startswith("hint: nothing accepts connections")
    assert "--time-scale 0.001" in lines[2]
