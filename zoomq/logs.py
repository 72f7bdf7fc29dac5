"""Logging, configured once per process: context first, secrets redacted, on stderr.

One redaction vocabulary serves every view that promises "redacted": log lines (structlog's
and the standard library's), dead letters shown by ``zoomq dlq``, task argument reprs.
A field is secret by its *name* (``password``, ``passcode``, ``h323_password``,
``download_token``, ``zak``, ``Authorization``, ``X-Api-Key``, ...; the words are those of
Zoom's OpenAPI specs, see ``is_secret_key``), at any depth; inside any text, URL query
parameters (``?pwd=``, ``?zak=``, ``?tk=``, ``?access_token=``, ``?code=``...), bearer
credentials and ``key: value`` pairs are scrubbed too.
"""

from __future__ import annotations

import logging
import re
import sys
from collections.abc import Callable, Mapping, MutableMapping
from typing import Any, TextIO

import structlog

__all__ = [
    "REDACTED",
    "configure_logging",
    "is_secret_key",
    "redact",
    "redact_value",
    "scrub_text",
]

REDACTED = "[redacted]"

#: Words that make a field name secret-bearing, matched in the name lower-cased with
#: ``_`` and ``-`` removed (``X-Api-Key`` -> ``xapikey``, ``h323_password``,
#: ``recording_play_passcode``, ``participant_pin_code``, ``download_access_token``).
_SECRET_WORDS = (
    "secret",
    "token",
    "password",
    "passwd",
    "passcode",
    "pwd",
    "apikey",
    "signature",
    "cookie",
    "credential",
    "privatekey",
    "zak",  # Zoom's user access token, in start URLs
    "jwt",
    "hostkey",  # claims host controls in a meeting
    "streamkey",  # live-streaming key
    "pincode",  # audio participants' and desk phones' PINs
    "activationcode",  # desk phone activation codes
)
#: Whole names (normalised as above) that are secret although no word above is in them.
_SECRET_NAMES = frozenset({"authorization", "proxyauthorization", "sessionkey"})
#: Names with a secret word that carry none: pagination cursors and the token's type.
_NOT_SECRET = frozenset({"nextpagetoken", "synctoken", "tokentype"})
#: Settings *about* passwords (``require_password_for_...``, ``password_requirement``,
#: ``minimum_password_length``, ``pstn_password_protected``) rather than passwords.
_ABOUT_A_SECRET = re.compile(
    r"^(?:require|required|enable|embed|force|allow|only|minimum|modify|remove)_"
    r"|_(?:required|protected|requirement|length|expiration|type|expires_in)$"
)
#: Query parameters that are secret in a URL although not as a field name
#: (``code`` is Zoom's numeric error code in a body, an OAuth grant in a redirect URL).
_URL_ONLY = frozenset({"code", "tk", "sig", "key"})
#: Header names whose value runs to the end of the line (``Cookie: a=1; b=2``).
_WHOLE_LINE = frozenset({"cookie", "setcookie", "authorization", "proxyauthorization"})

# Past this depth a container is redacted whole: nothing passes unexamined.
_MAX_DEPTH = 32
_NAME = r"[A-Za-z][A-Za-z0-9_.-]*"
_LITERAL = re.compile(r"(?i)(?:true|false|null|none)$")
# Keys are found first and only a secret key's value is read, so a harmless key never
# swallows text that holds a secret (a repr inside a repr: 'argsrepr': "[{'token': ...").
# ?pwd=... &zak=... #access_token=... in a URL (download URLs, join and start URLs).
_QUERY_KEY = re.compile(rf"[?&#]({_NAME})=")
_QUERY_VALUE = re.compile(r"[^&#?\s\"'<>]+")
# 'download_token': 'abc' / "passcode": 123 / \"pwd\": \"x\" (JSON inside a JSON string).
_QUOTED_KEY = re.compile(rf"""(\\?['"])({_NAME})\1\s*[:=]\s*""")
# ('x-zm-signature', 'v0=...') / (b'set-cookie', b'...'): a pair in a tuple or list repr.
_PAIR_KEY = re.compile(rf"""[(\[]\s*[bu]?(['"])({_NAME})\1\s*,\s*""")
# password=abc, password='a b', Authorization: Bearer abc, X-Api-Key: abc outside quotes.
_BARE_KEY = re.compile(rf"(?<![\w'\".-])({_NAME})\s*[:=]\s*")
_BARE_VALUE = re.compile(r"(?:(?:bearer|basic|digest|token)\s+)?[^\s&,;'\"]+", re.I)
_BEARER = re.compile(r"(?i)\b(bearer\s+)[A-Za-z0-9._~+/=-]+")
# scheme://user:password@host (Redis URLs, proxies).
_USERINFO = re.compile(r"(?i)\b([a-z][a-z0-9+.-]*://[^/\s:@'\"]*:)([^/\s@'\"]+)(@)")
_CLOSE = {"[": "]", "(": ")", "{": "}"}
# An unquoted value after a quoted key: a number, a literal, a bare word.
_QUOTED_BARE = re.compile(r"""[^\s,}\])'"\\]+""")


def _normalise(name: str) -> str:
    return name.lower().replace("_", "").replace("-", "")


def is_secret_key(name: str) -> bool:
    """Whether a field (or header, or parameter) of this name holds a secret."""
    flat = _normalise(name)
    if flat in _SECRET_NAMES:
        return True
    if flat in _NOT_SECRET or _ABOUT_A_SECRET.search(name.lower().replace("-", "_")):
        return False
    return any(word in flat for word in _SECRET_WORDS)


def _quoted_end(text: str, pos: int) -> int | None:
    """End of the string literal at ``pos`` (``'...'``, ``b"..."``, ``\\"...\\"``), or None."""
    start = pos + 1 if text[pos : pos + 1] in ("b", "u", "r", "B", "U", "R") else pos
    if text.startswith('\\"', start):
        end = text.find('\\"', start + 2)
        return None if end < 0 else end + 2
    quote = text[start : start + 1]
    if quote not in ("'", '"'):
        return None
    i = start + 1
    while i < len(text):
        if text[i] == "\\":
            i += 2
        elif text[i] == quote:
            return i + 1
        else:
            i += 1
    return None


def _bracketed_end(text: str, pos: int) -> int | None:
    """End of the bracketed list, tuple or mapping at ``pos`` (quotes respected), or None."""
    stack = [_CLOSE[text[pos]]]
    i = pos + 1
    while i < len(text) and stack:
        char = text[i]
        if char in "'\"":
            end = _quoted_end(text, i)
            if end is None:
                return None
            i = end
            continue
        if char in _CLOSE:
            stack.append(_CLOSE[char])
        elif char == stack[-1]:
            stack.pop()
        i += 1
    return i if not stack else None


def _value_end(text: str, pos: int, bare: re.Pattern[str]) -> int | None:
    """Where the value starting at ``pos`` ends: a literal, a bracketed whole, or ``bare``."""
    if pos >= len(text):
        return None
    if text[pos] in _CLOSE:
        return _bracketed_end(text, pos)
    end = _quoted_end(text, pos)
    if end is not None:
        return end
    found = bare.match(text, pos)
    return found.end() if found else None


def _redact_values(
    text: str, key: re.Pattern[str], bare: re.Pattern[str], secret: Callable[[str], bool]
) -> str:
    """Replace the value after every key whose name (its last group) ``secret`` accepts."""
    out: list[str] = []
    pos = 0
    for found in key.finditer(text):
        if found.start() < pos or not secret(found.group(found.lastindex or 0)):
            continue
        end = _value_end(text, found.end(), bare)
        if end is None:
            continue
        raw = text[found.end() : end]
        if raw == REDACTED or _LITERAL.match(raw) or raw in ("''", '""', "[]", "()", "{}"):
            continue
        quote = raw[-1] if raw[-1] in "'\"" and len(raw) > 1 else ""
        quote = "\\" + quote if quote and raw.endswith("\\" + quote) else quote
        out += [text[pos : found.end()], f"{quote}{REDACTED}{quote}"]
        pos = end
    return "".join([*out, text[pos:]])


def _in_url(name: str) -> bool:
    return name.lower() in _URL_ONLY or is_secret_key(name)


def scrub_text(text: str) -> str:
    """The text with secrets inside it replaced: URL parameters, pairs, bearer values."""
    if ("(" in text or "[" in text) and "," in text:  # ('set-cookie', '...') pairs
        text = _redact_values(text, _PAIR_KEY, _QUOTED_BARE, is_secret_key)
    if "=" not in text and ":" not in text and "earer" not in text:
        return text  # the common case: nothing that could carry a pair or a credential
    text = _redact_values(text, _QUERY_KEY, _QUERY_VALUE, _in_url)
    text = _USERINFO.sub(r"\1" + REDACTED + r"\3", text)
    text = _redact_values(text, _QUOTED_KEY, _QUOTED_BARE, is_secret_key)
    text = _BEARER.sub(r"\1" + REDACTED, text)
    text = _header_lines(text)
    return _redact_values(text, _BARE_KEY, _BARE_VALUE, is_secret_key)


def _header_lines(text: str) -> str:
    if "ookie" not in text and "uthorization" not in text:
        return text
    lines = text.splitlines(keepends=True)
    for i, line in enumerate(lines):
        name, colon, rest = line.partition(":")
        if colon and _normalise(name.strip()) in _WHOLE_LINE and rest.strip():
            ending = rest[len(rest.rstrip("\r\n")) :]
            lines[i] = f"{name}: {REDACTED}{ending}"
    return "".join(lines)


def redact_value(value: Any, *, _depth: int = 0, _secret: bool = False) -> Any:
    """A copy of ``value`` with every secret replaced by ``REDACTED``, at any depth.

    Mappings keep their keys; a secret-named key's value is redacted (a container under
    one keeps its shape, every scalar in it redacted). Booleans and ``None`` stay: they
    carry no secret (``password_required: true``). Strings are scrubbed with
    ``scrub_text``. Containers nested deeper than a sane payload are redacted whole.
    """
    if isinstance(value, Mapping | list | tuple | set | frozenset):
        if _depth >= _MAX_DEPTH:
            return REDACTED
        if isinstance(value, Mapping):
            named = _named_secret(value)  # {"key": "X-Api-Key", "value": "..."}
            return {
                k: redact_value(
                    v,
                    _depth=_depth + 1,
                    _secret=_secret
                    or (isinstance(k, str) and is_secret_key(k))
                    or (named and k == "value"),
                )
                for k, v in value.items()
            }
        if isinstance(value, tuple) and len(value) == 2 and _is_secret_name(value[0]):
            return (value[0], redact_value(value[1], _depth=_depth + 1, _secret=True))
        items = [redact_value(v, _depth=_depth + 1, _secret=_secret) for v in value]
        return tuple(items) if isinstance(value, tuple) else items
    return _redact_scalar(value, secret=_secret)


def _is_secret_name(name: Any) -> bool:
    if isinstance(name, bytes | bytearray):
        name = name.decode("utf-8", "replace")
    return isinstance(name, str) and is_secret_key(name)


def _named_secret(mapping: Mapping[Any, Any]) -> bool:
    """A ``{"key"|"name": NAME, "value": ...}`` pair (rawRequest's headers and query
    parameters, as the reference component takes them) whose NAME is secret."""
    if "value" not in mapping or len(mapping) > 3:
        return False
    return _is_secret_name(mapping.get("key", mapping.get("name")))


def _redact_scalar(value: Any, *, secret: bool) -> Any:
    if value is None or isinstance(value, bool) or (value == "" and isinstance(value, str)):
        return value
    if secret:
        return REDACTED
    if isinstance(value, str):
        return scrub_text(value)
    if isinstance(value, int | float):
        return value
    if isinstance(value, bytes | bytearray):
        return scrub_text(value.decode("utf-8", "replace"))
    # Anything else is rendered by its str() (URLs, exceptions): scrub that text.
    text = str(value)
    scrubbed = scrub_text(text)
    return value if scrubbed == text else scrubbed


def redact(_: Any, __: str, event_dict: MutableMapping[str, Any]) -> MutableMapping[str, Any]:
    """structlog processor: no secret, token or tokenised URL ever reaches a log line."""
    for key in list(event_dict):
        event_dict[key] = redact_value(
            event_dict[key], _secret=key != "event" and is_secret_key(key)
        )
    return event_dict


class _Handler(logging.StreamHandler[TextIO]):
    """The one handler zoomq puts on the root logger (so it can replace it, not add one)."""


def _renderer(fmt: str) -> Any:
    if fmt == "json" or (fmt == "auto" and not sys.stderr.isatty()):
        return structlog.processors.JSONRenderer()
    return structlog.dev.ConsoleRenderer(colors=sys.stderr.isatty())


def _level(level: str | int) -> int:
    if isinstance(level, int):
        return level
    known = logging.getLevelNamesMapping()
    if level.upper() not in known:
        raise ValueError(f"unknown log level {level!r}")
    return known[level.upper()]


#: Loggers that libraries may have given handlers of their own (uvicorn's LOGGING_CONFIG).
_OWN_HANDLER_LOGGERS = ("uvicorn", "uvicorn.error", "uvicorn.access")


def configure_logging(
    fmt: str = "auto", level: str | int = "INFO", *, cache: bool = True
) -> Callable[[], None]:
    """Send structlog's events and the standard library's records to stderr, redacted.

    Both go through one handler on the root logger, whose ``ProcessorFormatter`` formats
    tracebacks *before* redacting (they quote URLs too) and renders JSON or console lines.
    httpx and httpcore log every request at INFO; they show from DEBUG only.
    Returns a function that puts the previous configuration back, for callers that
    configure in-process for a while (the CLI under a test runner). ``cache`` is
    structlog's ``cache_logger_on_first_use``: off where the configuration may be undone.
    """
    number = _level(level)
    previous_config = structlog.get_config()
    root = logging.getLogger()
    previous = (root.handlers[:], root.level)
    quiet = {name: logging.getLogger(name).level for name in ("httpx", "httpcore")}
    # uvicorn's own dictConfig (applied by anything that ran uvicorn with its defaults in
    # this process) gives its loggers handlers that do not propagate: take them back.
    routed = {
        name: (lg.handlers[:], lg.propagate)
        for name in _OWN_HANDLER_LOGGERS
        for lg in (logging.getLogger(name),)
    }
    shared: list[Any] = [
        structlog.contextvars.merge_contextvars,
        structlog.stdlib.add_logger_name,
        structlog.processors.add_log_level,
        structlog.processors.TimeStamper(fmt="iso", utc=True),
    ]
    structlog.configure(
        processors=[*shared, structlog.stdlib.ProcessorFormatter.wrap_for_formatter],
        wrapper_class=structlog.make_filtering_bound_logger(number),
        logger_factory=structlog.stdlib.LoggerFactory(),
        cache_logger_on_first_use=cache,
    )
    handler = _Handler(sys.stderr)
    handler.setFormatter(
        structlog.stdlib.ProcessorFormatter(
            foreign_pre_chain=shared,
            processors=[
                structlog.stdlib.ProcessorFormatter.remove_processors_meta,
                structlog.processors.format_exc_info,
                redact,
                _renderer(fmt),
            ],
        )
    )
    root.handlers = [h for h in root.handlers if not isinstance(h, _Handler)] + [handler]
    root.setLevel(number)
    for name in quiet:
        logging.getLogger(name).setLevel(number if number <= logging.DEBUG else logging.WARNING)
    for name in routed:
        logger = logging.getLogger(name)
        logger.handlers, logger.propagate = [], True

    def restore() -> None:
        structlog.configure(**previous_config)
        root.handlers, level_before = previous
        root.setLevel(level_before)
        for name, saved in quiet.items():
            logging.getLogger(name).setLevel(saved)
        for name, (handlers, propagate) in routed.items():
            logger = logging.getLogger(name)
            logger.handlers, logger.propagate = handlers, propagate

    return restore
