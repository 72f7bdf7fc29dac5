"""The install grant format shared by `zoomq connections install` and the receiver."""

from __future__ import annotations

import pytest

from zoomq.client.install import InstallGrant, grant_key, install_link, receiver_base_url


def test_grant_round_trips() -> None:
    """What the CLI writes is what the receiver reads."""
    grant = InstallGrant("partner", replace=True)
    assert InstallGrant.loads(grant.dumps()) == grant
    assert InstallGrant.loads(b'{"connection": "p"}') == InstallGrant("p", replace=False)


@pytest.mark.parametrize(
    "raw", [b"", b"[]", b'"partner"', b'{"replace": true}', b'{"connection": 7}', b"\xff"]
)
def test_anything_else_is_not_a_grant(raw: bytes) -> None:
    """A value that is not a grant is refused with ValueError, not taken for one."""
    with pytest.raises(ValueError):
        InstallGrant.loads(raw)


def test_key_holds_a_digest_not_the_token() -> None:
    """Whoever reads Redis learns no link: the key is the token's SHA-256."""
    key = grant_key("zoomq", "the-token")
    assert key.startswith("zoomq:oauth_install:")
    assert "the-token" not in key
    assert len(key.rsplit(":", 1)[1]) == 64


@pytest.mark.parametrize(
    ("redirect_uri", "base"),
    [
        ("https://zoomq.example.com/oauth/zoom/callback", "https://zoomq.example.com"),
        ("https://h.example/zq/oauth/zoom/callback/", "https://h.example/zq"),
        ("http://127.0.0.1:8000/oauth/zoom/callback", "http://127.0.0.1:8000"),
        ("https://proxy.example.com/zoom/cb", None),
        ("/oauth/zoom/callback", None),
    ],
)
def test_receiver_base_url_from_its_callback(redirect_uri: str, base: str | None) -> None:
    """The receiver's base is known only when redirect_uri is its callback route."""
    assert receiver_base_url(redirect_uri) == base


def test_link_carries_the_token_url_encoded() -> None:
    """The link is the install route with the token as its only parameter."""
    assert install_link("https://r.example/", "a-b_c") == (
        "https://r.example/oauth/zoom/install?token=a-b_c"
    )
