"""Settings whose connections are a running sandbox: the one builder the tests share.

::

    settings = sandbox_settings(sandbox, redis_url)  # the default connection: account 1
    settings = sandbox_settings(sandbox, redis_url, connections_file=tmp_path / "c.json")
    settings.connection("acct3")  # one connection per sandbox account, acct1..acctN
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from zoomq.sandbox.server import SandboxServer
from zoomq.settings import Settings

__all__ = ["account_connection_name", "account_connections", "sandbox_settings"]


def account_connection_name(number: int) -> str:
    """The connection name of sandbox account ``number`` (1-based): ``acct1``, ``acct2``..."""
    return f"acct{number}"


def account_connections(sandbox: SandboxServer) -> list[dict[str, Any]]:
    """One connections-file entry per sandbox account, with its credentials and plan."""
    return [
        {
            "name": account_connection_name(account.number),
            "type": "server_to_server",
            **account.credentials(),
            "plan": str(account.plan),
        }
        for account in sandbox.state.accounts
    ]


def sandbox_settings(
    sandbox: SandboxServer,
    redis_url: str,
    *,
    connections_file: Path | None = None,
    **extra: Any,
) -> Settings:
    """The sandbox's API, token URL and account 1's credentials, this test's Redis, ``extra``.

    With ``connections_file``, the connections of every sandbox account (``acct1`` ..
    ``acctN``, see ``account_connections``) are written there and read by the settings.
    """
    if connections_file is not None:
        connections_file.write_text(json.dumps(account_connections(sandbox)))
        extra["zoomq_connections_file"] = connections_file
    first = sandbox.state.accounts[0].credentials()
    return Settings(
        _env_file=None,
        redis_url=redis_url,
        zoom_api_base_url=sandbox.api_base_url,
        zoom_oauth_token_url=sandbox.token_url,
        zoom_account_id=first["account_id"],
        zoom_client_id=first["client_id"],
        zoom_client_secret=first["client_secret"],
        zoom_api_hosts=("127.0.0.1",),
        **extra,
    )
