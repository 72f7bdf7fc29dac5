"""The download's HTTP/1.1 GET over real loopback sockets: verified TLS, timeouts, and no
byte that arrived lost when the connection fails."""

from __future__ import annotations

import datetime
import http.client
import socket
import ssl
import struct
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from tests.client.listener import Listener
from zoomq.archive import IncompleteDownload, LocalStorage, RecordingFile
from zoomq.archive.download import download, download_hosts
from zoomq.archive.http11 import Http11
from zoomq.archive.local import PART_SUFFIX
from zoomq.errors import ArchiveError

BODY = bytes(range(256)) * 20  # 5120 bytes, not a web page


def _file(url: str, size: int = len(BODY)) -> RecordingFile:
    return RecordingFile(
        account="acc", connection="default", meeting_id="1", meeting_uuid="u==",
        topic="T", start_time="2026-11-30T10:00:00Z", file_id="f1", file_type="MP4",
        file_extension="mp4", recording_type="shared_screen", file_size=size,
        download_url=url, status="completed",
    )  # fmt: skip


def _part(storage: LocalStorage, f: RecordingFile) -> Path:
    final = storage.root / storage.key_for(f)
    return final.with_name(final.name + PART_SUFFIX)


ANYWHERE = download_hosts(["127.0.0.1", "localhost"])


def _get(f: RecordingFile, storage: LocalStorage, http: Http11 | None = None) -> None:
    http = http or Http11(timeout=5, connect_timeout=5)
    download(http, f, storage.begin(storage.key_for(f)), token="secret", allowed_hosts=ANYWHERE)


def _head(length: int, extra: str = "") -> bytes:
    return (
        f"HTTP/1.1 200 OK\r\nContent-Type: video/mp4\r\nContent-Length: {length}\r\n{extra}\r\n"
    ).encode()


@contextmanager
def _one_answer(data: bytes, then: str) -> Iterator[str]:
    """A server that reads one request, sends ``data`` in one write, then ``then``s:
    ``stall`` (sends nothing more), ``reset`` (RST), ``close`` (FIN)."""
    listener = socket.create_server(("127.0.0.1", 0))
    port = listener.getsockname()[1]
    done = threading.Event()

    def serve() -> None:
        conn, _ = listener.accept()
        with conn:
            request = b""
            while b"\r\n\r\n" not in request:
                request += conn.recv(4096)
            conn.sendall(data)
            if then == "stall":
                done.wait(10)
            elif then == "reset":
                time.sleep(0.2)  # the bytes reach the client first
                conn.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        done.set()
        thread.join(10)
        listener.close()


def test_bytes_sent_with_the_headers_are_not_lost(tmp_path: Path) -> None:
    """Headers and the whole body in one write: the body bytes read along with the
    headers come first, then the rest, byte-identical."""
    storage = LocalStorage(tmp_path)
    with _one_answer(_head(len(BODY)) + BODY, "close") as url:
        f = _file(f"{url}/rec/f1")
        _get(f, storage)
    assert (storage.root / storage.key_for(f)).read_bytes() == BODY


@pytest.mark.parametrize("then", ["stall", "reset", "close"])
def test_a_connection_that_stalls_or_breaks_keeps_every_byte_that_arrived(
    tmp_path: Path, then: str
) -> None:
    """1000 of 5120 bytes, then a read that times out, a reset or an early close:
    IncompleteDownload with those 1000 bytes stored, within about the read timeout."""
    storage = LocalStorage(tmp_path)
    with _one_answer(_head(len(BODY)) + BODY[:1000], then) as url:
        f = _file(f"{url}/rec/f1")
        started = time.monotonic()
        with pytest.raises(IncompleteDownload, match="connection broke") as raised:
            _get(f, storage, Http11(timeout=0.5, connect_timeout=5))
        took = time.monotonic() - started
    assert raised.value.reached == 1000
    assert _part(storage, f).read_bytes() == BODY[:1000]
    assert took < 3


def test_an_encoded_body_is_refused_and_nothing_is_stored(tmp_path: Path) -> None:
    """Identity was asked: a gzip body's sizes and ranges are not the file's."""
    storage = LocalStorage(tmp_path)
    with _one_answer(_head(len(BODY), "Content-Encoding: gzip\r\n") + BODY, "close") as url:
        f = _file(f"{url}/rec/f1")
        with pytest.raises(ArchiveError, match="gzip"):
            _get(f, storage)
    assert not _part(storage, f).exists() or not _part(storage, f).read_bytes()


def test_connect_and_read_timeouts_are_the_ones_given() -> None:
    """connect_timeout while connecting, timeout for every read after."""
    with Listener() as server:
        conn = Http11(timeout=7, connect_timeout=2).connection(server.url + "/x")
        assert conn.timeout == 2
        conn.connect()
        try:
            assert conn.sock.gettimeout() == 7
        finally:
            conn.close()


def test_proxy_variables_are_not_used(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Downloads connect directly: a proxy named in the environment sees nothing."""
    storage = LocalStorage(tmp_path)
    with Listener() as proxy, _one_answer(_head(len(BODY)) + BODY, "close") as url:
        for name in ("HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "http_proxy", "https_proxy"):
            monkeypatch.setenv(name, proxy.url)
        f = _file(f"{url}/rec/f1")
        _get(f, storage)
        assert proxy.seen == []


# -- TLS ------------------------------------------------------------------------------


def test_https_connections_verify_the_certificate_and_the_host_name() -> None:
    """The default context: the system's CAs, certificate required, hostname checked,
    and the URL's host is the name checked."""
    conn = Http11(timeout=5, connect_timeout=5).connection("https://ssrweb.zoom.us/rec/x")
    assert isinstance(conn, http.client.HTTPSConnection)
    context: ssl.SSLContext = conn._context  # type: ignore[attr-defined]
    assert context.verify_mode == ssl.CERT_REQUIRED
    assert context.check_hostname
    assert conn.host == "ssrweb.zoom.us"


def _certificates(tmp_path: Path) -> tuple[Path, Path, Path]:
    """A CA and a certificate for ``localhost`` only, signed by it: (ca, cert, key)."""
    now = datetime.datetime.now(datetime.UTC)
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "zoomq test CA")])
    ca = (
        x509.CertificateBuilder().subject_name(ca_name).issuer_name(ca_name)
        .public_key(ca_key.public_key()).serial_number(1)
        .not_valid_before(now - datetime.timedelta(days=1))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(ca_key, hashes.SHA256())
    )  # fmt: skip
    key = ec.generate_private_key(ec.SECP256R1())
    cert = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "localhost")]))
        .issuer_name(ca_name).public_key(key.public_key()).serial_number(2)
        .not_valid_before(now - datetime.timedelta(days=1))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(x509.SubjectAlternativeName([x509.DNSName("localhost")]), critical=False)
        .sign(ca_key, hashes.SHA256())
    )  # fmt: skip
    paths = tmp_path / "ca.pem", tmp_path / "cert.pem", tmp_path / "key.pem"
    paths[0].write_bytes(ca.public_bytes(serialization.Encoding.PEM))
    paths[1].write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    paths[2].write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return paths


@contextmanager
def _tls_server(cert: Path, key: Path) -> Iterator[tuple[int, list[bytes]]]:
    """Serves BODY over TLS to each connection whose handshake succeeds; records requests."""
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert, key)
    listener = socket.create_server(("127.0.0.1", 0))
    listener.settimeout(0.2)
    port = listener.getsockname()[1]
    requests: list[bytes] = []
    stop = threading.Event()

    def serve() -> None:
        while not stop.is_set():
            try:
                raw, _ = listener.accept()
            except TimeoutError:
                continue
            raw.settimeout(5)
            try:
                with context.wrap_socket(raw, server_side=True) as conn:
                    request = b""
                    while b"\r\n\r\n" not in request:
                        request += conn.recv(4096)
                    requests.append(request)
                    conn.sendall(_head(len(BODY), "Connection: close\r\n") + BODY)
            except (ssl.SSLError, OSError):
                raw.close()  # the client refused the certificate: nothing was sent

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    try:
        yield port, requests
    finally:
        stop.set()
        thread.join(10)
        listener.close()


def test_https_refuses_an_untrusted_certificate_or_another_host_name(tmp_path: Path) -> None:
    """Real TLS on loopback: not in the system's CAs, refused; trusted but for another
    name (127.0.0.1, the certificate says localhost), refused; trusted and the right
    name, downloaded. Nothing is sent before the certificate is accepted."""
    ca, cert, key = _certificates(tmp_path)
    trusting = ssl.create_default_context(cafile=str(ca))
    with _tls_server(cert, key) as (port, requests):
        for n, (url, context) in enumerate(
            [
                (f"https://localhost:{port}/rec/f1", None),
                (f"https://127.0.0.1:{port}/rec/f1", trusting),
            ]
        ):
            storage = LocalStorage(tmp_path / str(n))
            f = _file(url)
            with pytest.raises(IncompleteDownload, match="could not be reached"):
                _get(f, storage, Http11(timeout=5, connect_timeout=5, ssl_context=context))
        assert requests == []

        storage = LocalStorage(tmp_path / "ok")
        f = _file(f"https://localhost:{port}/rec/f1")
        _get(f, storage, Http11(timeout=5, connect_timeout=5, ssl_context=trusting))
        assert (storage.root / storage.key_for(f)).read_bytes() == BODY
        assert len(requests) == 1
        assert requests[0].startswith(b"GET /rec/f1 HTTP/1.1\r\n")
        assert b"\r\nAuthorization: Bearer secret\r\n" in requests[0]


def test_a_slow_body_keeps_the_heartbeat_going_within_a_piece(tmp_path: Path) -> None:
    """The body trickles in (1 KiB every 50 ms) and a piece is 1 MiB: the progress
    callback, which renews the file's lock, still runs as bytes arrive, not only once a
    piece is full."""
    body = bytes(range(256)) * 64  # 16 KiB, sent in 16 writes
    listener = socket.create_server(("127.0.0.1", 0))
    port = listener.getsockname()[1]

    def serve() -> None:
        conn, _ = listener.accept()
        with conn:
            request = b""
            while b"\r\n\r\n" not in request:
                request += conn.recv(4096)
            conn.sendall(_head(len(body)))
            for start in range(0, len(body), 1024):
                time.sleep(0.05)
                conn.sendall(body[start : start + 1024])

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    beats: list[float] = []
    storage = LocalStorage(tmp_path)
    f = _file(f"http://127.0.0.1:{port}/rec/f1", size=len(body))
    try:
        download(
            Http11(timeout=5, connect_timeout=5),
            f,
            storage.begin(storage.key_for(f)),
            token="secret",
            allowed_hosts=ANYWHERE,
            chunk_size=1 << 20,
            progress=lambda _n: beats.append(time.monotonic()),
        )
    finally:
        thread.join(10)
        listener.close()
    assert (storage.root / storage.key_for(f)).read_bytes() == body
    assert len(beats) >= 8, beats  # one per arriving write or so, not one at the end


@pytest.mark.parametrize(
    "location",
    [
        b"/\xc3\xa9",
        b"http://127.0.0.1:99999/x",
        b"http://127.0.0.1:abc/x",
        b"http://[::1/x",
        "https://\u00e9\u00e9..zoom.us/x".encode(),
    ],
)
def test_a_redirect_to_an_unusable_url_is_refused_not_a_crash(
    tmp_path: Path, location: bytes
) -> None:
    """A Location that does not parse, encode or connect is DownloadRefused (given up),
    never a ValueError out of the download; nothing is stored."""
    from zoomq.errors import DownloadRefused

    storage = LocalStorage(tmp_path)
    answer = b"HTTP/1.1 302 Found\r\nLocation: " + location + b"\r\nContent-Length: 0\r\n\r\n"
    with _one_answer(answer, "close") as url:
        f = _file(f"{url}/rec/f1")
        with pytest.raises(DownloadRefused):
            _get(f, storage)
    assert not (storage.root / storage.key_for(f)).exists()


def test_a_length_in_unicode_digits_is_no_length(tmp_path: Path) -> None:
    """`Content-Length: ²` (a digit to str.isdigit, not to int) is ignored, not a crash."""
    storage = LocalStorage(tmp_path)
    head = b"HTTP/1.1 200 OK\r\nContent-Type: video/mp4\r\nContent-Length: \xb2\r\n\r\n"
    with _one_answer(head + BODY, "close") as url:
        f = _file(f"{url}/rec/f1")
        _get(f, storage)
    assert (storage.root / storage.key_for(f)).read_bytes() == BODY


def test_a_token_that_is_no_header_value_is_refused_without_echoing_it(tmp_path: Path) -> None:
    """A token with a line break never reaches a header (or an error message)."""
    from zoomq.errors import DownloadUnauthorized

    storage = LocalStorage(tmp_path)
    f = _file("http://127.0.0.1:9/rec/f1")
    with pytest.raises(DownloadUnauthorized) as raised:
        download(
            Http11(timeout=1, connect_timeout=1), f, storage.begin(storage.key_for(f)),
            token="SECRET\nX-Injected: 1", allowed_hosts=ANYWHERE,
        )  # fmt: skip
    assert "SECRET" not in str(raised.value)
