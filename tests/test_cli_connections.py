"""`zoomq connections` and `zoomq action --list`, run through click's runner."""

from __future__ import annotations

import json
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import httpx
from click.testing import CliRunner

from zoomq.cli import cli
from zoomq.sandbox.config import SandboxConfig
from zoomq.sandbox.server import SandboxServer


def _env(tmp_path: Path, redis_url: str, **extra: str) -> dict[str, str]:
    return {
        "ZOOMQ_CONNECTIONS_FILE": str(tmp_path / "connections.json"),
        "REDIS_URL": redis_url,
        "ZOOM_ACCOUNT_ID": "",
        "ZOOM_CLIENT_ID": "",
        "ZOOM_CLIENT_SECRET": "",
        **extra,
    }


def test_action_list_names_all_25() -> None:
    """`zoomq action --list` prints the 25 actions with descriptions."""
    result = CliRunner().invoke(cli, ["action", "--list"])
    assert result.exit_code == 0
    assert len(result.output.splitlines()) == 25
    assert "addMeetingRegistrant" in result.output


def test_unknown_action_exits_2() -> None:
    """An unknown action name is a usage error naming NAME."""
    result = CliRunner().invoke(cli, ["action", "nope"])
    assert result.exit_code == 2
    assert "NAME" in result.output


def test_add_list_and_test_a_connection(tmp_path: Path, redis_url: str) -> None:
    """add writes the file (0600, secret kept out of output), list shows it, test calls Zoom."""
    with SandboxServer(SandboxConfig(rate_limits=False)) as sandbox:
        env = _env(
            tmp_path,
            redis_url,
            ZOOM_API_BASE_URL=sandbox.api_base_url,
            ZOOM_OAUTH_TOKEN_URL=sandbox.token_url,
        )
        runner = CliRunner()
        added = runner.invoke(
            cli,
            ["connections", "add", "emea", "--account-id", "sandbox-account",
             "--client-id", "sandbox-client", "--client-secret", "sandbox-secret",
             "--plan", "business"],
            env=env,
        )  # fmt: skip
        assert added.exit_code == 0, added.output
        path = tmp_path / "connections.json"
        assert path.stat().st_mode & 0o777 == 0o600
        assert json.loads(path.read_text())[0]["plan"] == "business"
        listed = runner.invoke(cli, ["connections", "list"], env=env)
        assert "emea\tserver_to_server" in listed.output
        assert "sandbox-secret" not in listed.output
        tested = runner.invoke(cli, ["connections", "test", "emea"], env=env)
        assert tested.exit_code == 0, tested.output
        assert "owner@example.com" in tested.output
        again = runner.invoke(
            cli,
            ["connections", "add", "emea", "--account-id", "a", "--client-id", "c",
             "--client-secret", "s3cr3t-value"],
            env=env,
        )  # fmt: skip
        assert again.exit_code == 2
        assert "already exists" in again.output


def test_add_oauth_connection_with_code(tmp_path: Path, redis_url: str) -> None:
    """An OAuth connection added with --code is installed: tokens land in Redis."""
    with SandboxServer(SandboxConfig(rate_limits=False)) as sandbox:
        env = _env(
            tmp_path,
            redis_url,
            ZOOM_API_BASE_URL=sandbox.api_base_url,
            ZOOM_OAUTH_TOKEN_URL=sandbox.token_url,
        )
        redirect = "http://127.0.0.1/cb"
        location = httpx.get(
            sandbox.authorize_url,
            params={"response_type": "code", "client_id": "sandbox-client",
                    "redirect_uri": redirect},
        ).headers["location"]  # fmt: skip
        code = parse_qs(urlsplit(location).query)["code"][0]
        runner = CliRunner()
        added = runner.invoke(
            cli,
            ["connections", "add", "partner", "--type", "oauth", "--client-id", "sandbox-client",
             "--client-secret", "sandbox-secret", "--redirect-uri", redirect, "--code", code],
            env=env,
        )  # fmt: skip
        assert added.exit_code == 0, added.output
        assert "installed partner" in added.output
        listed = runner.invoke(cli, ["connections", "list"], env=env)
        assert "partner\toauth" in listed.output
        assert "installed" in listed.output
        tested = runner.invoke(cli, ["connections", "test", "partner"], env=env)
        assert tested.exit_code == 0, tested.output


def test_missing_connection_is_a_clear_error(tmp_path: Path, redis_url: str) -> None:
    """With nothing configured, `zoomq action` says how to configure, exit 2."""
    result = CliRunner().invoke(
        cli, ["action", "getUser", "--input", '{"userId": "me"}'], env=_env(tmp_path, redis_url)
    )
    assert result.exit_code == 2
    assert "unknown connection" in result.output
