"""The dev state file: trusted only when it is provably this user's running ``zoomq dev``."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import click
import pytest

from tests.client.listener import Listener
from tests.conftest import REPO
from zoomq.cli.context import with_dev_state
from zoomq.cli.devstate import read_live_state, write_state
from zoomq.settings import Settings

SANDBOXED = {
    "zoom_account_id": "sandbox-account",
    "zoom_client_id": "sandbox-client",
    "zoom_client_secret": "sandbox-secret",
}


@pytest.fixture
def state_path(tmp_path: Path) -> Path:
    return tmp_path / ".zoomq" / "dev.json"


def test_a_state_this_process_wrote_is_live(state_path: Path) -> None:
    """Written by a live process of this user, private, loopback URLs: used."""
    write_state(state_path, {**SANDBOXED, "redis_url": "redis://127.0.0.1:7000/0"})
    assert oct(state_path.stat().st_mode & 0o777) == "0o600"
    state = read_live_state(state_path)
    assert state is not None
    assert state.pid == os.getpid()


@pytest.mark.parametrize(
    "tamper",
    [
        "pid_reused",
        "readable_by_others",
        "symlink",
        "group_writable_dir",
        "remote_url",
        "unknown_key",
        "remote_download_host",
    ],
)
def test_a_state_that_is_not_provably_ours_is_ignored(state_path: Path, tamper: str) -> None:
    """A reused pid, loose modes, a symlink, a non-loopback URL or a foreign key: ignored."""
    write_state(state_path, {**SANDBOXED, "redis_url": "redis://127.0.0.1:7000/0"})
    data = json.loads(state_path.read_text())
    if tamper == "pid_reused":
        data["started"] = "1"  # this pid, another process's start time
    elif tamper == "remote_url":
        data["settings"]["zoom_api_base_url"] = "https://collector.example/v2"
    elif tamper == "remote_download_host":
        data["settings"]["archive_download_hosts"] = ["cdn.collector.example"]
    elif tamper == "unknown_key":
        data["settings"]["zoom_api_hosts"] = ["https://collector.example"]
    state_path.write_text(json.dumps(data))
    if tamper == "readable_by_others":
        state_path.chmod(0o644)
    elif tamper == "group_writable_dir":
        state_path.parent.chmod(0o775)
    elif tamper == "symlink":
        real = state_path.with_name("elsewhere.json")
        state_path.rename(real)
        state_path.symlink_to(real)
    assert read_live_state(state_path) is None


def test_the_writer_refuses_a_directory_others_can_write(state_path: Path) -> None:
    """dev does not publish its secrets into a directory someone else could swap files in."""
    state_path.parent.mkdir(mode=0o777)
    state_path.parent.chmod(0o777)
    with pytest.raises(PermissionError):
        write_state(state_path, SANDBOXED)


def test_real_connections_never_go_to_the_dev_stacks_urls(tmp_path: Path, redis_url: str) -> None:
    """With connections of the user's own on disk, a live state file (even one pointing at
    another server) is not used: their credentials are never sent to its URLs."""
    with Listener() as own, Listener() as trap:
        (tmp_path / "zoomq-connections.json").write_text(
            json.dumps(
                [
                    {
                        "name": "default",
                        "type": "server_to_server",
                        "account_id": "ACC",
                        "client_id": "REALCLIENT",
                        "client_secret": "REAL-secret-xyz",
                        # The connection's own Zoom (loopback here: no traffic leaves the box).
                        "api_base_url": f"{own.url}/v2",
                        "oauth_token_url": f"{own.url}/oauth/token",
                    }
                ]
            )
        )
        write_state(
            tmp_path / ".zoomq" / "dev.json",
            {
                **SANDBOXED,
                "redis_url": "redis://127.0.0.1:1/0",
                "zoom_api_base_url": f"{trap.url}/v2",
                "zoom_oauth_token_url": f"{trap.url}/oauth/token",
            },
        )
        env = {
            "PATH": os.environ["PATH"],
            "PYTHONPATH": str(REPO),
            "HOME": str(tmp_path),
            "REDIS_URL": redis_url,
        }
        result = subprocess.run(
            [sys.executable, "-m", "zoomq", "action", "getUser", "--input", '{"userId": "me"}'],
            cwd=tmp_path,
            env=env,
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
        assert trap.seen == []
        assert [seen.path for seen in own.seen][:1] == ["/oauth/token"], result.stderr


def test_a_connections_file_alone_keeps_the_state_file_out(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Nothing in the environment, but connections on disk: the state is not applied."""
    monkeypatch.chdir(tmp_path)
    for name in list(os.environ):
        if name.startswith(("ZOOM", "REDIS")):
            monkeypatch.delenv(name)
    (tmp_path / "zoomq-connections.json").write_text(
        json.dumps([{"name": "prod", "account_id": "A", "client_id": "C", "client_secret": "S-1"}])
    )
    write_state(
        tmp_path / ".zoomq" / "dev.json", {**SANDBOXED, "redis_url": "redis://127.0.0.1:7/0"}
    )
    settings = Settings(_env_file=None)
    ctx = click.Context(click.Command("action"))
    assert with_dev_state(settings, ctx) is settings
    (tmp_path / "zoomq-connections.json").unlink()
    from_dev = with_dev_state(Settings(_env_file=None), ctx)
    assert from_dev.redis_url == "redis://127.0.0.1:7/0"
    assert from_dev.connection().client_id == "sandbox-client"


def test_the_jobs_api_fields_round_trip_and_stay_on_loopback(state_path: Path) -> None:
    """dev publishes its receiver URL and generated key for `zoomq jobs`; a remote URL voids it."""
    api = {"api_url": "http://127.0.0.1:8123", "api_key": "k" * 43}
    write_state(state_path, dict(SANDBOXED), api)
    state = read_live_state(state_path)
    assert state is not None
    assert state.api == api
    record = json.loads(state_path.read_text())
    record["api"]["api_url"] = "http://example.com:8000"
    state_path.write_text(json.dumps(record))
    assert read_live_state(state_path) is None
    with pytest.raises(ValueError, match="not a dev state setting: token"):
        write_state(state_path, dict(SANDBOXED), {"token": "x"})


def test_dev_generates_a_key_only_when_none_is_configured() -> None:
    """A configured key is never printed nor passed on; a generated one is usable."""
    from zoomq.cli.dev import _api_key

    configured = Settings.model_validate({"jobs": {"api_keys": [{"name": "ops", "key": "c" * 40}]}})
    env: dict[str, str] = {}
    line, generated = _api_key(configured, env)
    assert (generated, env) == (None, {})
    assert "c" * 40 not in line
    assert "ops" in line
    line, generated = _api_key(Settings.model_validate({}), env)
    assert generated is not None
    assert generated in line
    keys = Settings.model_validate(
        {"jobs": {"api_keys": json.loads(env["ZOOMQ_API_KEYS"])}}
    ).jobs.api_keys
    assert [k.key.get_secret_value() for k in keys] == [generated]
