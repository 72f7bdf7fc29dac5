"""/_sandbox control endpoints, content determinism, the CLI command and the public surface."""

from __future__ import annotations

from collections.abc import Callable

import httpx
from click.testing import CliRunner

from tests.sandbox.conftest import account_token, api_client
from zoomq.cli.sandbox import sandbox_command
from zoomq.sandbox import SandboxConfig, SandboxServer, expected_bytes


def test_state_summary_counts(sandbox: SandboxServer, client: httpx.Client) -> None:
    """GET /_sandbox/state reports requests, token requests and resource counts."""
    client.get("/users/me")
    client.get("/meetings/1")
    summary = httpx.get(sandbox.url + "/_sandbox/state").json()
    assert summary["requests"] == 3  # the token request, then two API calls
    assert summary["requests_by_status"] == {"200": 2, "404": 1}
    assert summary["token_requests"] == {"account_credentials": 1}
    assert summary["users"] == 14  # 12 active + pending + inactive
    assert summary["meetings"] == 40 + 11 * 2 + 3  # and 3 to try batch registration on
    assert summary["seeded"]["owner_email"] == "owner@example.com"
    assert sandbox.state.count("GET", "/v2/meetings/1") == 1


def test_reset_restores_the_seeded_account(sandbox: SandboxServer, client: httpx.Client) -> None:
    """POST /_sandbox/reset undoes changes; keep_tokens keeps the access token valid."""
    meeting_id = sandbox.state.seeded.meeting_id
    client.delete(f"/meetings/{meeting_id}")
    reset = httpx.post(sandbox.url + "/_sandbox/reset", json={"keep_tokens": True})
    assert reset.status_code == 204
    assert client.get(f"/meetings/{meeting_id}").status_code == 200
    assert sandbox.state.request_count == 1
    httpx.post(sandbox.url + "/_sandbox/reset")
    assert client.get(f"/meetings/{meeting_id}").status_code == 401


def test_control_download_token_and_recording(sandbox: SandboxServer) -> None:
    """Download tokens and new recordings can be made over HTTP too."""
    with httpx.Client(base_url=sandbox.url) as control:
        token = control.post("/_sandbox/download_tokens", json={"ttl": 60}).json()
        recording = control.post(
            "/_sandbox/recordings",
            json={"meeting_id": sandbox.state.seeded.meeting_id, "file_sizes": [1000]},
        ).json()
        file_id = recording["recording_files"][0]["id"]
        response = control.get(
            f"/rec/download/{file_id}",
            headers={"Authorization": f"Bearer {token['download_token']}"},
            follow_redirects=True,
        )
        assert response.content == expected_bytes(file_id, 0, 1000)
        missing = control.post("/_sandbox/recordings", json={"meeting_id": 1})
        assert missing.status_code == 400


def test_content_is_position_dependent() -> None:
    """Any slice equals the same slice of the whole; shifted offsets give other bytes."""
    whole = expected_bytes("file-a", 0, 200_000)
    assert expected_bytes("file-a", 65_530, 131_080) == whole[65_530:131_080]
    assert whole[:65_536] != whole[65_536:131_072]
    assert whole[:1000] != whole[7:1007]
    assert expected_bytes("file-b", 0, 1000) != whole[:1000]


def test_unknown_api_path_is_json_404(client: httpx.Client) -> None:
    """An unknown path answers JSON in Zoom's error shape."""
    response = client.get("/no/such/endpoint")
    assert response.status_code == 404
    assert response.json()["code"] == 404


def test_server_urls(make_sandbox: Callable[..., SandboxServer]) -> None:
    """The server exposes its URLs, and the app writes them into resources."""
    server = make_sandbox()
    assert server.api_base_url == server.url + "/v2"
    assert server.token_url == server.url + "/oauth/token"
    assert server.authorize_url == server.url + "/oauth/authorize"
    assert server.url.startswith("http://127.0.0.1:")
    with api_client(server, account_token(server)) as client:
        me = client.get("/users/me").json()
    assert me["personal_meeting_url"].startswith(server.url + "/j/")


def test_cli_help_lists_options() -> None:
    """``sandbox --help`` documents every option."""
    result = CliRunner().invoke(sandbox_command, ["--help"])
    assert result.exit_code == 0
    for option in (
        "--host",
        "--port",
        "--seed",
        "--accounts",
        "--plan",
        "--rate-scale",
        "--token-ttl",
        "--no-rate-limits",
    ):
        assert option in result.output


def test_cli_builds_config_and_serves(monkeypatch: object) -> None:
    """The command prints the URL and credentials and serves the configured sandbox."""
    calls: list[tuple[SandboxConfig, str, int]] = []
    import zoomq.sandbox.server as server_module

    monkeypatch.setattr(  # type: ignore[attr-defined]
        server_module, "serve", lambda config, host, port: calls.append((config, host, port))
    )
    result = CliRunner().invoke(
        sandbox_command, ["--port", "9200", "--seed", "5", "--plan", "free", "--no-rate-limits"]
    )
    assert result.exit_code == 0, result.output
    assert "http://127.0.0.1:9200" in result.output
    assert "sandbox-secret" in result.output
    config, host, port = calls[0]
    assert (host, port, config.seed, config.plan, config.rate_limits) == (
        "127.0.0.1",
        9200,
        5,
        "free",
        False,
    )
