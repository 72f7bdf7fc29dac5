"""Several Zoom accounts in one sandbox: own credentials, data, plans and rate counters."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import httpx
import pytest
from click.testing import CliRunner

from tests.sandbox.conftest import FakeClock, account_token, api_client
from tests.sandbox_settings import account_connections, sandbox_settings
from zoomq.errors import ConfigurationError
from zoomq.sandbox import SandboxConfig, SandboxServer
from zoomq.sandbox.accounts import Account


def _all_meeting_ids(client: httpx.Client) -> set[int]:
    body = client.get("/users/me/meetings", params={"page_size": 300}).json()
    return {m["id"] for m in body["meetings"]}


def test_accounts_have_their_own_credentials_and_seeded_data(
    clock: FakeClock, make_sandbox: Callable[..., SandboxServer]
) -> None:
    """Account k signs in as sandbox-client-k; its users and meetings are its own."""
    server = make_sandbox(SandboxConfig(clock=clock, rate_limits=False, accounts=3))
    third = server.state.account(3)
    assert third.credentials() == {
        "account_id": "sandbox-account-3",
        "client_id": "sandbox-client-3",
        "client_secret": "sandbox-secret-3",
    }
    assert server.state.account("sandbox-account-3") is third
    seen: list[set[int]] = []
    emails = []
    for number in (1, 2, 3):
        with api_client(server, account_token(server, number)) as client:
            me = client.get("/users/me").json()
            emails.append(me["email"])
            assert me["account_id"] == f"sandbox-account{'' if number == 1 else f'-{number}'}"
            seen.append(_all_meeting_ids(client))
    assert emails == ["owner@example.com", "owner@acct2.example.com", "owner@acct3.example.com"]
    assert all(len(ids) == 40 for ids in seen)
    assert len(seen[0] | seen[1] | seen[2]) == 3 * 40  # no meeting id in two accounts
    assert server.state.seeded == server.state.account(1).seeded  # account 1 as before


def test_a_token_never_reaches_another_accounts_data(
    clock: FakeClock, make_sandbox: Callable[..., SandboxServer]
) -> None:
    """Account 2's token gets Zoom's 404s for account 1's user, meeting, webinar, file."""
    server = make_sandbox(SandboxConfig(clock=clock, rate_limits=False, accounts=2))
    one = server.state.account(1).seeded
    with api_client(server, account_token(server, 2)) as client:
        user = client.get(f"/users/{one.contact_user_id}")
        assert (user.status_code, user.json()["code"]) == (404, 1001)
        by_email = client.get(f"/users/{one.owner_email}")
        assert (by_email.status_code, by_email.json()["code"]) == (404, 1001)
        meeting = client.get(f"/meetings/{one.registration_meeting_id}/registrants")
        assert (meeting.status_code, meeting.json()["code"]) == (404, 3001)
        webinar = client.get(f"/webinars/{one.webinar_id}")
        assert (webinar.status_code, webinar.json()["code"]) == (404, 3001)
        added = client.post(
            f"/meetings/{one.batch_meeting_id}/batch_registrants",
            json={"registrants": [{"email": "x@example.org", "first_name": "X"}]},
        )
        assert (added.status_code, added.json()["code"]) == (404, 3001)
        download = client.get(f"{server.url}/rec/download/{one.recording_file_id}")
        assert download.status_code == 404
    assert server.state.account(1).store.registrants_of(one.batch_meeting_id, webinar=False) == {}
    with api_client(server, account_token(server, 1)) as client:
        download = client.get(
            f"{server.url}/rec/download/{one.recording_file_id}", follow_redirects=True
        )
        assert download.status_code == 200


def test_credentials_of_one_account_do_not_open_another(
    make_sandbox: Callable[..., SandboxServer],
) -> None:
    """Account 2's client with account 1's account_id is Zoom's invalid account_id."""
    server = make_sandbox(SandboxConfig(rate_limits=False, accounts=2))
    response = httpx.post(
        server.token_url,
        params={"grant_type": "account_credentials", "account_id": "sandbox-account"},
        auth=("sandbox-client-2", "sandbox-secret-2"),
    )
    assert response.status_code == 400
    assert response.json()["reason"] == "Invalid account_id"
    wrong_secret = httpx.post(
        server.token_url,
        params={"grant_type": "account_credentials", "account_id": "sandbox-account-2"},
        auth=("sandbox-client-2", "sandbox-secret"),
    )
    assert wrong_secret.status_code == 401


def test_rate_budgets_and_429s_are_counted_per_account(
    clock: FakeClock, make_sandbox: Callable[..., SandboxServer]
) -> None:
    """Account 1 spending its Light budget leaves account 2's whole; 429s are per account."""
    config = SandboxConfig(clock=clock, accounts=2, rate_scale=0.1)  # Pro Light: 3/s
    server = make_sandbox(config)
    one, two = (api_client(server, account_token(server, n)) for n in (1, 2))
    with one, two:
        first = [one.get("/users/me").status_code for _ in range(5)]
        second = [two.get("/users/me").status_code for _ in range(3)]
    assert first == [200, 200, 200, 429, 429]
    assert second == [200, 200, 200]
    accounts = httpx.get(server.url + "/_sandbox/accounts").json()["accounts"]
    assert [a["requests_by_status"] for a in accounts] == [
        {"200": 3, "429": 2},
        {"200": 3},
    ]
    assert [a["rate_limited"] for a in accounts] == [{"qps": 2}, {}]
    one_only = httpx.get(server.url + "/_sandbox/accounts/sandbox-account").json()
    assert one_only["requests_by_status"]["429"] == 2
    assert httpx.get(server.url + "/_sandbox/state").json()["rate_limited"] == {"qps": 2}


def test_each_account_has_its_plan(
    clock: FakeClock, make_sandbox: Callable[..., SandboxServer]
) -> None:
    """``plans`` sets accounts 1.. in order; the rest take ``plan``; budgets follow."""
    config = SandboxConfig(clock=clock, accounts=3, plan="free", plans=("business", "pro"))
    server = make_sandbox(config)
    limits = []
    for number in (1, 2, 3):
        with api_client(server, account_token(server, number)) as client:
            limits.append(client.get("/users/me").headers["x-ratelimit-limit"])
    assert [str(a.plan) for a in server.state.accounts] == ["business", "pro", "free"]
    assert limits == ["80", "30", "6000"]  # Business and Pro per second, Free per day
    summary = httpx.get(server.url + "/_sandbox/accounts/3").json()
    assert summary["plan"] == "free"


def test_seeds_differ_per_account_and_repeat_per_sandbox(
    make_sandbox: Callable[..., SandboxServer],
) -> None:
    """Account 2 is seeded differently from account 1, and the same in every sandbox."""
    a = make_sandbox(SandboxConfig(rate_limits=False, accounts=2))
    b = make_sandbox(SandboxConfig(rate_limits=False, accounts=2))
    assert a.state.account(2).seeded == b.state.account(2).seeded
    assert a.state.account(2).seeded.meeting_id != a.state.account(1).seeded.meeting_id
    alone = make_sandbox(SandboxConfig(rate_limits=False))
    assert alone.state.seeded == a.state.seeded  # extra accounts leave account 1 alone


def test_reset_restores_every_account(
    clock: FakeClock, make_sandbox: Callable[..., SandboxServer]
) -> None:
    """POST /_sandbox/reset brings back each account's data and zeroes its counters."""
    server = make_sandbox(SandboxConfig(clock=clock, rate_limits=False, accounts=2))
    two: Account = server.state.account(2)
    meeting_id = two.seeded.meeting_id
    with api_client(server, account_token(server, 2)) as client:
        assert client.delete(f"/meetings/{meeting_id}").status_code == 204
        assert client.get(f"/meetings/{meeting_id}").status_code == 404
        httpx.post(server.url + "/_sandbox/reset", json={"keep_tokens": True})
        assert client.get(f"/meetings/{meeting_id}").status_code == 200
    assert two.requests == 1


def test_control_endpoints_address_one_account(
    clock: FakeClock, make_sandbox: Callable[..., SandboxServer]
) -> None:
    """Unknown accounts are 404; recordings can be staged in account 2 with ?account=2."""
    server = make_sandbox(SandboxConfig(clock=clock, rate_limits=False, accounts=2))
    with httpx.Client(base_url=server.url) as control:
        assert control.get("/_sandbox/accounts/3").status_code == 404
        assert control.get("/_sandbox/accounts/nope").status_code == 404
        two = server.state.account(2).seeded
        missing = control.get(f"/_sandbox/accounts/1/meetings/{two.batch_meeting_id}/registrants")
        assert missing.status_code == 404
        made = control.post(
            f"/_sandbox/users/{two.owner_email}/recordings",
            params={"account": 2},
            json={"count": 1, "file_sizes": [1000]},
        )
        assert made.status_code == 201
        assert made.json()["recordings"][0]["account_id"] == "sandbox-account-2"
        wrong = control.post(
            f"/_sandbox/users/{two.owner_email}/recordings", json={"count": 1, "file_sizes": [1]}
        )
        assert wrong.json()["code"] == 1001  # account 1 has no such user
    with api_client(server, account_token(server, 2)) as client:
        assert client.get("/users/me/recordings").json()["total_records"] == 2


def test_config_refuses_bad_account_settings() -> None:
    """No accounts, too many, or more plans than accounts: a ConfigurationError each."""
    for bad in ({"accounts": 0}, {"accounts": 201}, {"accounts": 1, "plans": ("pro", "pro")}):
        with pytest.raises(ConfigurationError):
            SandboxConfig(**bad)  # type: ignore[arg-type]
    with pytest.raises(ConfigurationError, match="unknown plan"):
        SandboxConfig(accounts=2, plans=("gold",))


def test_settings_get_one_connection_per_account(
    make_sandbox: Callable[..., SandboxServer], tmp_path: Path
) -> None:
    """sandbox_settings with a file: acct1..acctN, each with its account's credentials."""
    server = make_sandbox(SandboxConfig(rate_limits=False, accounts=3, plans=("business",)))
    settings = sandbox_settings(
        server, "redis://127.0.0.1:1/0", connections_file=tmp_path / "c.json"
    )
    connections = settings.connections()
    assert sorted(connections) == ["acct1", "acct2", "acct3", "default"]
    assert connections["acct3"].client_id == "sandbox-client-3"
    assert connections["acct3"].account_id == "sandbox-account-3"
    assert str(connections["acct1"].plan) == "business"
    assert connections["acct2"].client_secret.get_secret_value() == "sandbox-secret-2"
    assert connections["default"].client_id == "sandbox-client"
    assert len(account_connections(server)) == 3
    plain = sandbox_settings(server, "redis://127.0.0.1:1/0")
    assert list(plain.connections()) == ["default"]


def test_cli_serves_several_accounts_and_prints_their_credentials(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """``zoomq sandbox --accounts 3`` prints each account's credentials and serves them."""
    from zoomq.cli.sandbox import sandbox_command

    calls: list[SandboxConfig] = []
    import zoomq.sandbox.server as server_module

    monkeypatch.setattr(server_module, "serve", lambda config, host, port: calls.append(config))
    result = CliRunner().invoke(sandbox_command, ["--accounts", "3", "--plan", "business"])
    assert result.exit_code == 0, result.output
    [config] = calls
    assert config.accounts == 3
    assert [str(config.account_plan(n)) for n in (1, 2, 3)] == ["business"] * 3
    for n in ("", "-2", "-3"):
        assert f"client_id:     sandbox-client{n}\n" in result.output
        assert f"client_secret: sandbox-secret{n}\n" in result.output
        assert f"account_id:    sandbox-account{n}\n" in result.output
    refused = CliRunner().invoke(sandbox_command, ["--accounts", "0"])
    assert refused.exit_code == 2
    assert "--accounts" in refused.output


def test_zoomq_sandbox_process_serves_each_account() -> None:
    """A real ``zoomq sandbox --accounts 2``: account 2's printed credentials get a token
    that sees account 2's owner; SIGTERM stops it."""
    import os
    import signal
    import subprocess
    import sys
    import time

    from tests.conftest import REPO
    from zoomq.redis_server import free_port

    port = free_port()
    proc = subprocess.Popen(
        [sys.executable, "-m", "zoomq", "sandbox", "--accounts", "2", "--port", str(port)],
        cwd=REPO,
        env={**os.environ, "ZOOMQ_LOG_FORMAT": "json"},
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                httpx.get(url + "/_sandbox/state", timeout=0.5)
                break
            except httpx.TransportError:
                assert proc.poll() is None, proc.stderr.read() if proc.stderr else ""
                assert time.monotonic() < deadline
                time.sleep(0.05)
        token = httpx.post(
            url + "/oauth/token",
            params={"grant_type": "account_credentials", "account_id": "sandbox-account-2"},
            auth=("sandbox-client-2", "sandbox-secret-2"),
        ).json()["access_token"]
        me = httpx.get(url + "/v2/users/me", headers={"Authorization": f"Bearer {token}"})
        assert me.json()["email"] == "owner@acct2.example.com"
    finally:
        proc.send_signal(signal.SIGTERM)
        out, _ = proc.communicate(timeout=30)
    assert proc.returncode in (0, -signal.SIGTERM)  # uvicorn re-raises it once shut down
    assert "client_id:     sandbox-client-2" in out
