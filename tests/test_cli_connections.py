"""`zoomq connections` and `zoomq action --list`, run through click's runner."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest
import redis
from click.testing import CliRunner

from zoomq.cli import cli
from zoomq.client.install import grant_key
from zoomq.client.tokens import RedisTokenStore, Token
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


@pytest.fixture
def sandbox_env(tmp_path: Path, redis_url: str) -> Iterator[tuple[SandboxServer, dict[str, str]]]:
    """A sandbox Zoom without rate limits, and the CLI's environment pointed at it."""
    with SandboxServer(SandboxConfig(rate_limits=False)) as sandbox:
        yield (
            sandbox,
            _env(
                tmp_path,
                redis_url,
                ZOOM_API_BASE_URL=sandbox.api_base_url,
                ZOOM_OAUTH_TOKEN_URL=sandbox.token_url,
            ),
        )


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


def test_add_list_and_test_a_connection(
    tmp_path: Path, sandbox_env: tuple[SandboxServer, dict[str, str]]
) -> None:
    """add writes the file (0600, secret kept out of output), list shows it, test calls Zoom."""
    _sandbox, env = sandbox_env
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


def test_add_oauth_connection_with_code(
    tmp_path: Path, redis_url: str, sandbox_env: tuple[SandboxServer, dict[str, str]]
) -> None:
    """An OAuth connection added with --code is installed: tokens land in Redis."""
    sandbox, env = sandbox_env
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
    (tmp_path / "connections.json").write_text("[]")
    result = CliRunner().invoke(
        cli, ["action", "getUser", "--input", '{"userId": "me"}'], env=_env(tmp_path, redis_url)
    )
    assert result.exit_code == 2
    assert "unknown connection" in result.output


def _oauth_file(tmp_path: Path, **extra: str) -> None:
    """A connections file with OAuth app "partner" and Server-to-Server "emea"."""
    partner = {"name": "partner", "type": "oauth", "client_id": "c", "client_secret": "s3cr3t-x"}
    emea = {"name": "emea", "account_id": "a", "client_id": "c", "client_secret": "s3cr3t-y"}
    (tmp_path / "connections.json").write_text(json.dumps([{**partner, **extra}, emea]))


def _token(link: str) -> str:
    return parse_qs(urlsplit(link).query)["token"][0]


def test_install_prints_a_one_time_link(tmp_path: Path, redis_url: str) -> None:
    """install stores a grant under the token's digest (TTL 10 min by default) and prints
    the receiver's link, its base taken from the connection's redirect_uri."""
    _oauth_file(tmp_path, redirect_uri="https://zoomq.example.com/base/oauth/zoom/callback")
    env = _env(tmp_path, redis_url)
    result = CliRunner().invoke(cli, ["connections", "install", "partner"], env=env)
    assert result.exit_code == 0, result.output
    link = result.stdout.strip()
    assert link.startswith("https://zoomq.example.com/base/oauth/zoom/install?token=")
    assert "works once" in result.stderr
    client = redis.Redis.from_url(redis_url)
    key = grant_key("zoomq", _token(link))
    assert client.keys("*") == [key.encode()]  # the token itself is not stored
    assert json.loads(client.get(key) or b"{}") == {"connection": "partner", "replace": False}
    assert 590 < client.ttl(key) <= 600
    other = CliRunner().invoke(
        cli,
        ["connections", "install", "partner", "--replace", "--ttl", "60",
         "--base-url", "http://127.0.0.1:9000/"],
        env=env,
    )  # fmt: skip
    assert other.exit_code == 0, other.output
    assert other.stdout.startswith("http://127.0.0.1:9000/oauth/zoom/install?token=")
    key = grant_key("zoomq", _token(other.stdout.strip()))
    assert json.loads(client.get(key) or b"{}")["replace"] is True
    assert 0 < client.ttl(key) <= 60
    client.close()


def test_install_without_redirect_uri_assumes_the_local_receiver(
    tmp_path: Path, redis_url: str
) -> None:
    """No redirect_uri and no --base-url: the link points at `zoomq receiver`'s default
    address, and says so."""
    _oauth_file(tmp_path)
    result = CliRunner().invoke(
        cli, ["connections", "install", "partner"], env=_env(tmp_path, redis_url)
    )
    assert result.exit_code == 0, result.output
    assert result.stdout.startswith("http://127.0.0.1:8000/oauth/zoom/install?token=")
    assert "--base-url" in result.stderr


def test_install_refuses_an_installed_connection_without_replace(
    tmp_path: Path, redis_url: str
) -> None:
    """Tokens already stored: no link unless --replace, and nothing written."""
    _oauth_file(tmp_path)
    client = redis.Redis.from_url(redis_url)
    RedisTokenStore(client).set("oauth:partner", Token("at", 0.0, refresh_token="rt"), None)
    before = client.keys("*")
    result = CliRunner().invoke(
        cli, ["connections", "install", "partner"], env=_env(tmp_path, redis_url)
    )
    assert result.exit_code == 2
    assert "already installed" in result.stderr
    assert "--replace" in result.stderr
    assert client.keys("*") == before
    client.close()


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["nope"], "unknown connection 'nope'"),
        (["emea"], "only oauth connections"),
        (["partner", "--base-url", "zoomq.example.com"], "--base-url"),
        (["partner", "--base-url", "ftp://zoomq.example.com"], "--base-url"),
        (["partner", "--ttl", "0"], "--ttl"),
        (["partner", "--ttl", "86401"], "--ttl"),
    ],
)
def test_install_bad_input_is_exit_2_naming_it(
    tmp_path: Path, redis_url: str, args: list[str], message: str
) -> None:
    """Unknown or Server-to-Server connection, a base URL that is not http(s), a TTL out of
    range: exit 2 with the reason, and no grant."""
    _oauth_file(tmp_path)
    result = CliRunner().invoke(
        cli, ["connections", "install", *args], env=_env(tmp_path, redis_url)
    )
    assert result.exit_code == 2
    assert message in result.output
    client = redis.Redis.from_url(redis_url)
    assert client.dbsize() == 0
    client.close()


def test_install_needs_base_url_when_redirect_uri_is_elsewhere(
    tmp_path: Path, redis_url: str
) -> None:
    """A redirect_uri that is not the receiver's callback route says nothing of its URL."""
    _oauth_file(tmp_path, redirect_uri="https://proxy.example.com/zoom/cb")
    result = CliRunner().invoke(
        cli, ["connections", "install", "partner"], env=_env(tmp_path, redis_url)
    )
    assert result.exit_code == 2
    assert "--base-url" in result.output
