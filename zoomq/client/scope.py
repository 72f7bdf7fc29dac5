"""Where a caller-given URL may send the connection's bearer token: ``ApiScope``.

rawRequest is the one action whose URL comes from its input, so its URL is checked here,
by origin (scheme, host and port together) and path, before the client sends it:

- a relative path is joined to the API base URL, so it must not climb out of the base
  path: dot segments, encoded dots or slashes (``%2e``, ``%2f``, ``%5c``) and
  backslashes are refused, never normalised away;
- an absolute URL must be on the API base URL's origin and under its base path, on
  Zoom's API origins (``https://api.zoom.us`` or ``https://api-XX.zoom.us``, port 443,
  under ``/v2``), or on an origin listed in ``ZOOM_API_HOSTS``.

``ZOOM_API_HOSTS`` entries are origins (``http://127.0.0.1:9100``); a bare host name
(``api.example.com``, or ``api.example.com:8443``) means https on that host, port 443
unless given. URLs are parsed with httpx, the parser that sends them.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import NamedTuple

import httpx

from zoomq.errors import ConfigurationError

__all__ = ["ApiScope", "Origin", "UnsafeURL", "check_path", "parse_origin"]

_DEFAULT_PORTS = {"http": 80, "https": 443}
#: Regional API hosts (ZOOM_API.md: ``api-{eu,au,ca,in,sa,sg,uk,us}.zoom.us``).
# Zoom's global and regional API hosts (ZOOM_API.md §1: the token response's api_url).
_ZOOM_HOST = re.compile(r"api(-(eu|au|ca|in|sa|sg|uk|us))?\.zoom\.us")
_ZOOM_BASE_PATH = "/v2"
#: An encoded dot, slash or backslash: a server may decode it into a path step.
# Encoded dots, slashes, backslashes and semicolons (``..%3B`` is ``..;`` once decoded).
_ENCODED_STEP = re.compile(r"%(2e|2f|5c|3b)", re.IGNORECASE)
_BAD_ESCAPE = re.compile(r"%(?![0-9a-fA-F]{2})")


class UnsafeURL(ValueError):
    """A URL the token must not be sent to; a ValueError, so pydantic names the field."""


class Origin(NamedTuple):
    """Scheme, host and port: what decides where a request goes."""

    scheme: str
    host: str
    port: int

    def __str__(self) -> str:
        port = "" if _DEFAULT_PORTS.get(self.scheme) == self.port else f":{self.port}"
        return f"{self.scheme}://{self.host}{port}"


def _origin(url: httpx.URL) -> Origin:
    scheme = url.scheme.lower()
    return Origin(scheme, url.raw_host.decode("ascii").lower(), url.port or _DEFAULT_PORTS[scheme])


def parse_origin(entry: str) -> Origin:
    """One ``ZOOM_API_HOSTS`` entry as an origin; a bare host means https (port 443)."""
    text = entry.strip()
    if "://" not in text:
        text = "https://" + text
    try:
        url = httpx.URL(text)
    except httpx.InvalidURL as exc:
        raise ConfigurationError(f"ZOOM_API_HOSTS: {entry!r} is not an origin: {exc}") from None
    if url.scheme not in _DEFAULT_PORTS or not url.raw_host:
        raise ConfigurationError(
            f"ZOOM_API_HOSTS: {entry!r} is not an http(s) origin such as https://api.example.com"
        )
    if url.userinfo or url.raw_path not in (b"", b"/") or url.fragment:
        raise ConfigurationError(
            f"ZOOM_API_HOSTS: {entry!r} must be an origin only (scheme://host[:port]), "
            "without credentials, path or query"
        )
    return _origin(url)


def _check_text(url: str) -> None:
    if any(not "!" <= ch <= "~" for ch in url):
        raise UnsafeURL("only printable ASCII without spaces; percent-encode other characters")
    if "\\" in url:
        raise UnsafeURL("backslashes are not allowed")
    if "#" in url:
        raise UnsafeURL("a fragment (#) is not allowed")


def check_path(path: str) -> None:
    """Refuse a path (query allowed) that could step out of the directory it is joined to.

    Dot segments (also ``..;x``), encoded dots, slashes and backslashes, and broken
    ``%`` escapes are refused rather than resolved, so what is checked is what is sent.
    Double-encoded values (``%252F``, Zoom's form for some meeting UUIDs) pass.
    """
    _check_text(path)
    path = path.split("?", 1)[0]
    if _BAD_ESCAPE.search(path):
        raise UnsafeURL("'%' must start an escape of two hex digits")
    if _ENCODED_STEP.search(path):
        raise UnsafeURL("encoded '.', '/' or '\\' (%2e, %2f, %5c) is not allowed in the path")
    for segment in path.split("/"):
        if segment.split(";", 1)[0] in (".", ".."):
            raise UnsafeURL("'.' and '..' path segments are not allowed")


def _under(path: str, base: str) -> bool:
    base = base.rstrip("/")
    return not base or path == base or path.startswith(base + "/")


class ApiScope:
    """The origins and paths a client may send its token to, for caller-given URLs."""

    def __init__(self, base_url: str, extra_origins: Iterable[str] = ()) -> None:
        base = httpx.URL(base_url)
        self.base = _origin(base)
        self.base_path = base.path.rstrip("/")
        self.extra = frozenset(parse_origin(entry) for entry in extra_origins)

    def _refusal(self, origin: Origin, path: str) -> str | None:
        """Why ``origin`` and ``path`` are out of scope, or None when they are in it."""
        if origin == self.base:
            base_path = self.base_path
        elif origin.scheme == "https" and origin.port == 443 and _ZOOM_HOST.fullmatch(origin.host):
            base_path = _ZOOM_BASE_PATH
        elif origin in self.extra:
            return None
        else:
            return (
                f"{origin} is not an allowed API origin; the token is only sent to "
                f"{self.base}{self.base_path}, Zoom's API (https://api.zoom.us/v2) "
                "and the origins in ZOOM_API_HOSTS"
            )
        return None if _under(path, base_path) else f"{origin} paths must stay under {base_path}"

    def check(self, url: str) -> str:
        """``url`` if the token may go there, else ``UnsafeURL`` saying why.

        A relative ``url`` is a path under the base path; it is returned as given.
        """
        _check_text(url)
        try:
            parsed = httpx.URL(url)
        except httpx.InvalidURL as exc:
            raise UnsafeURL(f"not a URL: {exc}") from None
        if not parsed.is_absolute_url:
            if url.startswith("//") or parsed.scheme:
                raise UnsafeURL("give a path such as /users/me or a full https:// URL")
            check_path(url)
            return url
        if parsed.scheme not in _DEFAULT_PORTS:
            raise UnsafeURL("only http and https URLs are allowed")
        if parsed.userinfo:
            raise UnsafeURL("credentials in the URL are not allowed")
        check_path(parsed.raw_path.decode("ascii"))
        refusal = self._refusal(_origin(parsed), parsed.path)
        if refusal is not None:
            raise UnsafeURL(refusal)
        return url
