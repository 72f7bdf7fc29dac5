"""rawRequest's origin check over real HTTP: the sandbox answers, a listener beside it does not."""

from __future__ import annotations

import pytest

from tests.client.listener import Listener
from tests.client.procs import settings_for
from zoomq.actions import run_action
from zoomq.client import ZoomClient
from zoomq.errors import InvalidInput
from zoomq.sandbox.server import SandboxServer


def test_same_host_on_another_port_receives_nothing(sandbox: SandboxServer, trap: Listener) -> None:
    """With ZOOM_API_HOSTS=["127.0.0.1"], a URL on another port is refused; the sandbox answers."""
    settings = settings_for(sandbox.api_base_url, sandbox.token_url)
    assert settings.zoom_api_hosts == ("127.0.0.1",)
    with ZoomClient(settings, settings.connection()) as client:
        for url in (f"{trap.url}/v2/users/me", f"{trap.url}/users/me", f"{trap.url}/"):
            with pytest.raises(InvalidInput) as info:
                run_action(client, "rawRequest", {"method": "GET", "url": url})
            assert info.value.errors[0]["field"] == "url"
            assert f"127.0.0.1:{trap.port} is not an allowed API origin" in str(info.value)
        absolute = run_action(
            client, "rawRequest", {"method": "GET", "url": f"{sandbox.api_base_url}/users/me"}
        )
        relative = run_action(client, "rawRequest", {"method": "GET", "url": "/users/me"})
    assert absolute["data"]["status"] == relative["data"]["status"] == 200
    assert absolute["data"]["data"]["id"] == relative["data"]["data"]["id"]
    # The sandbox calls above were answered after the refused ones were made, and a
    # request to the trap would have been answered before run_action returned.
    assert trap.seen == []


def test_an_origin_in_zoom_api_hosts_is_reached_with_the_token(
    sandbox: SandboxServer, trap: Listener
) -> None:
    """The same listener, configured as an origin in ZOOM_API_HOSTS, does get the call."""
    settings = settings_for(sandbox.api_base_url, sandbox.token_url, zoom_api_hosts=(trap.url,))
    with ZoomClient(settings, settings.connection()) as client:
        result = run_action(client, "rawRequest", {"method": "GET", "url": f"{trap.url}/x"})
    assert result["data"]["status"] == 200
    assert [(s.method, s.path) for s in trap.seen] == [("GET", "/x")]
    assert trap.seen[0].headers["authorization"].startswith("Bearer ")


def test_a_relative_path_cannot_leave_the_base_path(sandbox: SandboxServer) -> None:
    """``/../oauth/token`` is refused on field ``url``, not resolved to the token endpoint."""
    settings = settings_for(sandbox.api_base_url, sandbox.token_url)
    with ZoomClient(settings, settings.connection()) as client:
        for url in ("/../oauth/token", "/%2e%2e/oauth/token", "/users/..%2f..%2foauth/token"):
            with pytest.raises(InvalidInput) as info:
                run_action(client, "rawRequest", {"method": "POST", "url": url})
            assert info.value.errors[0]["field"] == "url"
