"""The completion callback of a bulk job: one signed POST to its ``callback_url``.

Signed as Standard Webhooks sign (the ``standardwebhooks`` package): headers
``webhook-id``, ``webhook-timestamp`` and ``webhook-signature`` (``v1,<base64 HMAC-SHA256>``
of ``id.timestamp.body`` under ``settings.jobs.callback_secret``, ``whsec_...``). The
``webhook-id`` is the same for every attempt at one completion (``<job_id>.<finished_at
ms>``), so a receiver that deduplicates on it sees each completion once.

Only to hosts an operator allowed (``settings.jobs.callback_hosts``, no SSRF):

- the URL's scheme, host and port must equal an allowed origin's. An entry is an origin
  (``http://127.0.0.1:9000``), or a host (``hooks.example.com`` = https on 443) or
  ``host:port`` (https on that port): plain http only where an entry spells it out;
- no user info in the URL; the host is compared IDNA-encoded, lower case, without a
  trailing dot;
- the name is resolved once and *every* address must be public (not private, loopback,
  link-local, multicast, reserved or unspecified); the only way to call such an address is
  to allow it as an IP literal. The request then goes to the address that was checked
  (``Host`` and TLS SNI carry the name, so certificates are verified against the name):
  DNS that answers differently a second time (rebinding) cannot redirect it;
- redirects are never followed: a 3xx is a refusal, like a URL that is not allowed.

A URL refused is ``InvalidInput`` (field ``callback_url``: the queue gives up, retrying
cannot change the answer). No answer, or one that is not 2xx, is ``TransportError``: the
queue's retry table backs off (``ZOOMQ_RETRY_BACKOFF_BASE`` .. ``_CAP``, at most
``ZOOMQ_MAX_RETRIES`` times) and then dead-letters the callback task.
"""

from __future__ import annotations

import ipaddress
import queue
import socket
import threading
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import httpx
import orjson
from standardwebhooks import Webhook

from zoomq.clock import Clock, SystemClock
from zoomq.errors import InvalidInput, TransportError
from zoomq.jobs.models import JobView

__all__ = [
    "CALLBACK_EVENT",
    "CALLBACK_TIMEOUT",
    "MAX_REPLY_BYTES",
    "CallbackHosts",
    "CallbackRequest",
    "Resolver",
    "build_request",
    "deliver",
    "payload",
    "system_resolver",
    "webhook_id",
]

#: The payload's ``type``.
CALLBACK_EVENT = "job.completed"
#: Seconds one attempt may take, connecting included.
CALLBACK_TIMEOUT = 10.0
#: Bytes of a callback's answer read before it is closed: only its status matters.
MAX_REPLY_BYTES = 64 * 1024

_FIELD = "callback_url"
_DEFAULT_PORTS = {"http": 80, "https": 443}

#: ``(host, port) -> addresses``: injectable, so tests resolve names without DNS.
Resolver = Callable[[str, int], list[str]]


def system_resolver(host: str, port: int) -> list[str]:
    """Every address ``host`` resolves to (TCP)."""
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except (OSError, UnicodeError) as exc:
        raise TransportError(f"callback_url: cannot resolve {host}: {exc}") from exc
    return sorted({str(info[4][0]) for info in infos})


def _refuse(reason: str) -> InvalidInput:
    return InvalidInput(f"callback_url: {reason}", [{"field": _FIELD, "message": reason}])


def _host_key(host: str) -> str:
    host = host.strip().rstrip(".").lower()
    try:
        return host.encode("idna").decode("ascii")
    except UnicodeError:
        return host


def _ip(host: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    try:
        return ipaddress.ip_address(host.strip("[]"))
    except ValueError:
        return None


def _public(address: str) -> bool:
    ip = _ip(address)
    if ip is None:
        return False
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    return ip.is_global and not ip.is_multicast


@dataclass(frozen=True, slots=True)
class CallbackHosts:
    """The allowed origins, as ``(scheme, host, port)``."""

    origins: frozenset[tuple[str, str, int]]

    @classmethod
    def parse(cls, entries: Iterable[str]) -> CallbackHosts:
        """From ``callback_hosts`` entries; raises ``ValueError`` naming a bad one."""
        found: set[tuple[str, str, int]] = set()
        for raw in entries:
            entry = raw.strip()
            if not entry:
                continue
            text = entry if "://" in entry else f"https://{entry}"
            parts = urlsplit(text)
            try:
                port = parts.port
            except ValueError:
                raise ValueError(f"callback host {entry!r}: bad port") from None
            if (
                parts.scheme not in _DEFAULT_PORTS
                or not parts.hostname
                or parts.username is not None
                or parts.path not in ("", "/")
                or parts.query
            ):
                raise ValueError(f"callback host {entry!r}: expected host[:port] or an origin")
            found.add(
                (parts.scheme, _host_key(parts.hostname), port or _DEFAULT_PORTS[parts.scheme])
            )
        return cls(frozenset(found))

    def __bool__(self) -> bool:
        return bool(self.origins)

    def check(self, url: str) -> tuple[str, str, int]:
        """``(scheme, host, port)`` of an allowed ``url``; ``InvalidInput`` naming why not.

        What the receiver checks at submission; delivery checks again, and resolves.
        """
        if not self.origins:
            raise _refuse("callbacks are disabled here (no ZOOMQ_JOB_CALLBACK_HOSTS)")
        if len(url) > 2048:
            raise _refuse("longer than 2048 characters")
        try:
            parts = urlsplit(url)
            port = parts.port
        except ValueError:
            raise _refuse("not a valid URL") from None
        scheme = parts.scheme.lower()
        if scheme not in _DEFAULT_PORTS:
            raise _refuse("must be an http:// or https:// URL")
        if not parts.hostname:
            raise _refuse("has no host")
        if "@" in parts.netloc:
            raise _refuse("must not carry user info")
        if any(c in url for c in "\\\r\n\t "):
            raise _refuse("must not contain backslashes or whitespace")
        origin = (scheme, _host_key(parts.hostname), port or _DEFAULT_PORTS[scheme])
        if origin not in self.origins:
            shown = f"{origin[0]}://{origin[1]}:{origin[2]}"
            raise _refuse(f"{shown} is not an allowed callback host")
        return origin


@dataclass(frozen=True, slots=True)
class CallbackRequest:
    """One attempt, ready to send: where to connect, and what to send."""

    url: str
    #: The URL actually connected to: the checked address in place of the name.
    connect_url: str
    host: str
    headers: dict[str, str]
    body: bytes


def webhook_id(view: JobView) -> str:
    """The same for every attempt at one completion; another completion, another id."""
    finished = view.finished_at or view.updated_at
    return f"{view.job_id}.{int(finished.timestamp() * 1000)}"


def payload(view: JobView) -> bytes:
    """The body: Standard Webhooks' ``{type, timestamp, data}`` with the job's view."""
    finished = view.finished_at or view.updated_at
    body = {
        "type": CALLBACK_EVENT,
        "timestamp": finished.astimezone(UTC).isoformat().replace("+00:00", "Z"),
        "data": view.model_dump(mode="json"),
    }
    return orjson.dumps(body)


def build_request(
    view: JobView,
    hosts: CallbackHosts,
    secret: str,
    *,
    clock: Clock,
    resolver: Resolver = system_resolver,
) -> CallbackRequest:
    """The signed request for ``view``'s completion, its destination checked and pinned."""
    url = view.callback_url
    if not url:
        raise _refuse("the job has no callback_url")
    scheme, host, port = hosts.check(url)
    literal = _ip(host)
    if literal is not None:
        address = str(literal)  # allowed as an IP literal: the operator chose it
    else:
        addresses = resolver(host, port)
        if not addresses:
            raise TransportError(f"callback_url: {host} resolves to no address")
        private = [a for a in addresses if not _public(a)]
        if private:
            raise _refuse(
                f"{host} resolves to a non-public address ({private[0]}); allow it as an "
                "IP literal to call it"
            )
        address = addresses[0]
    parts = urlsplit(url)
    netloc = f"[{address}]" if ":" in address else address
    connect_url = urlunsplit((scheme, f"{netloc}:{port}", parts.path or "/", parts.query, ""))
    body = payload(view)
    msg_id = webhook_id(view)
    now = datetime.fromtimestamp(clock.time(), tz=UTC)
    signature = Webhook(secret).sign(msg_id, now, body.decode())
    default_port = _DEFAULT_PORTS[scheme] == port
    headers = {
        "Host": host if default_port else f"{host}:{port}",
        "Content-Type": "application/json",
        "User-Agent": "zoomq-callback",
        "webhook-id": msg_id,
        "webhook-timestamp": str(int(now.timestamp())),
        "webhook-signature": signature,
    }
    return CallbackRequest(url, connect_url, host, headers, body)


def deliver(
    view: JobView,
    hosts: CallbackHosts,
    secret: str,
    *,
    clock: Clock | None = None,
    resolver: Resolver = system_resolver,
    transport: httpx.BaseTransport | None = None,
    timeout: float = CALLBACK_TIMEOUT,
) -> dict[str, Any]:
    """Send ``view``'s completion callback once; raises for the queue to retry or give up.

    ``timeout`` bounds the whole exchange, not each read: an endpoint that drips its answer
    a byte at a time must not hold a worker's thread (the threads pool enforces no time
    limit). The POST runs on a daemon thread; past the deadline the attempt is a
    ``TransportError`` and the thread is left to its per-read timeouts.
    """
    request = build_request(view, hosts, secret, clock=clock or SystemClock(), resolver=resolver)
    answer: queue.Queue[tuple[int, None] | tuple[None, BaseException]] = queue.Queue(1)
    worker = threading.Thread(
        target=_post,
        args=(request, transport, timeout, answer),
        name="zoomq-callback",
        daemon=True,
    )
    worker.start()
    try:
        status, error = answer.get(timeout=timeout)
    except queue.Empty:
        raise TransportError(
            f"callback to {request.host}: no complete answer within {timeout:g} s"
        ) from None
    if isinstance(error, httpx.HTTPError):
        raise TransportError(f"callback to {request.host}: {type(error).__name__}") from error
    if error is not None:
        raise error
    assert status is not None
    if 300 <= status < 400:
        raise _refuse(f"answered a redirect ({status}); redirects are not followed")
    if not 200 <= status < 300:
        raise TransportError(f"callback to {request.host} answered {status}")
    return {"http_status": status, "webhook_id": request.headers["webhook-id"]}


def _post(
    request: CallbackRequest,
    transport: httpx.BaseTransport | None,
    timeout: float,
    answer: queue.Queue[tuple[int, None] | tuple[None, BaseException]],
) -> None:
    """One POST; its status, once at most ``MAX_REPLY_BYTES`` of the body are read."""
    extensions: dict[str, Any] = {}
    if request.connect_url.startswith("https:"):
        extensions = {"sni_hostname": request.host}
    try:
        with (
            httpx.Client(
                transport=transport, timeout=timeout, follow_redirects=False, trust_env=False
            ) as client,
            client.stream(
                "POST",
                request.connect_url,
                content=request.body,
                headers=request.headers,
                extensions=extensions,
            ) as response,
        ):
            read = 0
            for chunk in response.iter_bytes():
                read += len(chunk)
                if read >= MAX_REPLY_BYTES:
                    break  # the answer's body says nothing we use
            answer.put((response.status_code, None))
    except Exception as exc:  # handed to the waiting thread, which raises it
        answer.put((None, exc))
