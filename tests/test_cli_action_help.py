"""`zoomq action` for a newcomer: NAME --help lists the inputs, typos get the closest name."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner

from zoomq.cli import cli
from zoomq.redis_server import free_port
from zoomq.sandbox.config import SandboxConfig
from zoomq.sandbox.server import SandboxServer

#: No connection, no Redis, no dev state file: what a newcomer's shell has.
BARE = {"ZOOM_ACCOUNT_ID": "", "ZOOM_CLIENT_ID": "", "ZOOM_CLIENT_SECRET": ""}


@pytest.fixture(autouse=True)
def _empty_cwd(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)


def test_action_name_help_lists_its_fields() -> None:
    """`zoomq action getUser --help` lists getUser's fields, types and which are required."""
    for args in (["getUser", "--help"], ["-h", "getUser"], ["--input", "{}", "getUser", "-h"]):
        result = CliRunner().invoke(cli, ["action", *args])
        assert result.exit_code == 0, result.output
        assert "Input fields" in result.output
        lines = {line.split()[0]: line for line in result.output.splitlines() if line.strip()}
        assert "string; required" in lines["userId"]
        assert "boolean; optional" in lines["encryptedEmail"]
        assert "loginType" in lines


def test_plain_help_is_unchanged() -> None:
    """Without NAME, --help is the command's own help."""
    result = CliRunner().invoke(cli, ["action", "--help"])
    assert result.exit_code == 0
    assert "Input fields" not in result.output
    assert "--list" in result.output


def test_list_inputs_shows_each_actions_fields() -> None:
    """--list --inputs adds each action's inputs, required ones starred."""
    result = CliRunner().invoke(cli, ["action", "--list", "--inputs"])
    assert result.exit_code == 0
    lines = result.output.splitlines()
    assert len(lines) == 50
    user = lines[[line.split()[0] for line in lines].index("getUser") + 1]
    assert "inputs: userId*, loginType" in user


def test_unknown_action_suggests_the_closest() -> None:
    """`getUsr` exits 2 with "did you mean getUser?"."""
    result = CliRunner().invoke(cli, ["action", "getUsr"])
    assert result.exit_code == 2
    assert "did you mean getUser?" in result.output


def test_field_typo_suggests_the_closest_field() -> None:
    """`userID` is refused naming it, with the closest real field, before any connection."""
    result = CliRunner().invoke(cli, ["action", "getUser", "--input", '{"userID": "me"}'], env=BARE)
    assert result.exit_code == 2
    assert "userID: Extra inputs are not permitted; did you mean userId?" in result.output


def test_unknown_default_connection_says_how_to_configure_one() -> None:
    """No connection at all: the message names the env vars, `connections add` and dev."""
    result = CliRunner().invoke(
        cli, ["action", "getUser", "--input", '{"userId": "me"}', "--no-redis"], env=BARE
    )
    assert result.exit_code == 2
    for hint in ("ZOOM_ACCOUNT_ID", "ZOOM_CLIENT_ID", "ZOOM_CLIENT_SECRET",
                 "zoomq connections add", "zoomq dev"):  # fmt: skip
        assert hint in result.output


def test_unreachable_api_names_host_port_and_setting() -> None:
    """Tokens from the sandbox, the API URL at a dead port: the error names host:port and
    the setting that points there."""
    dead = free_port()  # nothing listens there
    with SandboxServer(SandboxConfig(rate_limits=False)) as sandbox:
        env = {
            "ZOOM_ACCOUNT_ID": "sandbox-account",
            "ZOOM_CLIENT_ID": "sandbox-client",
            "ZOOM_CLIENT_SECRET": "sandbox-secret",
            "ZOOM_OAUTH_TOKEN_URL": sandbox.token_url,
            "ZOOM_API_BASE_URL": f"http://127.0.0.1:{dead}/v2",
            "ZOOMQ_HTTP_MAX_ATTEMPTS": "1",
        }
        result = CliRunner().invoke(
            cli, ["action", "getUser", "--input", '{"userId": "me"}', "--no-redis"], env=env
        )
    assert result.exit_code == 1, result.output
    assert f"GET 127.0.0.1:{dead}: ConnectError" in result.output
    assert "ZOOM_API_BASE_URL" in result.output


@pytest.mark.parametrize("name", ["getUsr", "getuser"])
def test_help_for_an_unknown_action_is_an_error_with_a_suggestion(name: str) -> None:
    """`zoomq action getUsr --help` does not fall back to the generic help with exit 0."""
    result = CliRunner().invoke(cli, ["action", name, "--help"])
    assert result.exit_code == 2
    assert "did you mean getUser?" in result.output
