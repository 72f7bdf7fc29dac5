"""Celery task messages written without Celery: protocol 2, as kombu's Redis transport stores them.

Why by hand: measured on the 2-core machine (PERF_BASELINES.md), a Celery publish costs
~330-430 µs of client CPU (kombu builds a client object per publish) and caps a receiver at
1.2-1.9k req/s, against 15.3k req/s with batched LPUSHes of this message; nor should a web
process import worker code. The pins in pyproject.toml keep Celery/kombu on the minor it is
checked against. What a
Celery worker pops from the Redis list named after the queue is this JSON document, checked
against celery 5.7 / kombu 5.7 (``celery/app/amqp.py`` ``as_task_v2``,
``kombu/transport/virtual/base.py`` ``prepare_message`` / ``_inplace_augment_message`` and
``kombu/transport/redis.py`` ``Channel._put``, which LPUSHes ``dumps(message)`` onto the list
for priority 0)::

    {"body": base64(json([args, kwargs, {"callbacks": null, "errbacks": null,
                                         "chain": null, "chord": null}])),
     "content-encoding": "utf-8", "content-type": "application/json",
     "headers": {"lang": "py", "task": name, "id": task_id, "shadow": null, "eta": null,
                 "expires": null, "group": null, "group_index": null, "retries": 0,
                 "timelimit": [null, null], "root_id": task_id, "parent_id": null,
                 "argsrepr": "...", "kwargsrepr": "...", "origin": "gen<pid>@<host>",
                 "ignore_result": null, "replaced_task_nesting": 0,
                 "stamped_headers": null, "stamps": {}},
     "properties": {"correlation_id": task_id, "reply_to": "", "delivery_mode": 2,
                    "delivery_info": {"exchange": "", "routing_key": queue},
                    "priority": 0, "body_encoding": "base64", "delivery_tag": "<unique>"}}

The tests compare this with what ``Celery.send_task`` writes and run it through a real worker.
"""

from __future__ import annotations

import binascii
import functools
import itertools
import json
import os
import socket
import uuid
from collections.abc import Iterator, Mapping, Sequence
from json.encoder import encode_basestring_ascii
from typing import Any

__all__ = ["RawJSON", "build_task_message", "next_delivery_tag", "origin_nodename"]

# The third element of the body: no canvas (callbacks, errbacks, chain, chord).
_EMBED = b'{"callbacks":null,"errbacks":null,"chain":null,"chord":null}'
# Celery truncates argsrepr/kwargsrepr to this many characters (amqp.py, argsrepr_maxsize).
_REPR_MAXSIZE = 1024

# ASCII output: a lone surrogate (valid as a JSON "\\ud800" escape) cannot break the encoding.
_dumps = json.JSONEncoder(separators=(",", ":")).encode
_JSON_BOOL = {None: b"null", True: b"true", False: b"false"}


def _quote(text: str) -> bytes:
    """``text`` as a JSON string literal (ASCII, escaped): what ``_dumps(text)`` gives."""
    return encode_basestring_ascii(text).encode("ascii")


class RawJSON(bytes):
    """JSON text spliced into the message as is, not re-encoded: an argument, or ``kwargs``.

    The caller vouches that the bytes are one valid JSON value in strict UTF-8 (the receiver
    passes a webhook body it has just parsed), and a JSON object when used as ``kwargs``.
    Saves re-serialising a few KB per message.
    """

    __slots__ = ()

    def __repr__(self) -> str:
        return f"RawJSON(<{len(self)} bytes>)"


# Per-process caches, dropped in a forked child (which has another pid and must not repeat
# its parent's delivery tags). Not checked per call: os.getpid() is a system call.
_origin: str | None = None
_tags: tuple[str, Iterator[int]] | None = None


def _forget_process_caches() -> None:
    global _origin, _tags  # noqa: PLW0603 - see above
    _origin = _tags = None


os.register_at_fork(after_in_child=_forget_process_caches)


def origin_nodename() -> str:
    """``gen<pid>@<hostname>``: what Celery puts in ``origin`` for a non-worker sender."""
    global _origin  # noqa: PLW0603 - a per-process cache, dropped by a fork
    if _origin is None:
        _origin = f"gen{os.getpid()}@{socket.gethostname()}"
    return _origin


def next_delivery_tag() -> str:
    """A delivery tag unique to this message: uuid4-shaped, random per process, then counted.

    kombu only needs tags unique among unacknowledged messages (they key a hash); one
    ``uuid.uuid4()`` per message costs more than the rest of the header.
    """
    global _tags  # noqa: PLW0603 - a per-process generator, dropped by a fork
    tags = _tags
    if tags is None:
        tags = _tags = (str(uuid.uuid4())[:24], itertools.count())
    return f"{tags[0]}{next(tags[1]) % (1 << 48):012x}"


def _encode_args(args: Sequence[Any]) -> bytes:
    parts = [a if isinstance(a, RawJSON) else _dumps(a).encode("ascii") for a in args]
    return b"[" + b",".join(parts) + b"]"


def _short_repr(value: Any) -> str:
    # Pre-encoded kwargs are shown as their JSON text, which reads as well as a repr.
    text = value.decode("utf-8", "replace") if isinstance(value, RawJSON) else repr(value)
    return text if len(text) <= _REPR_MAXSIZE else text[: _REPR_MAXSIZE - 3] + "..."


def build_task_message(
    name: str,
    args: Sequence[Any],
    kwargs: Mapping[str, Any] | RawJSON,
    task_id: str,
    queue: str,
    *,
    argsrepr: str | None = None,
    kwargsrepr: str | None = None,
    origin: str | None = None,
    ignore_result: bool | None = None,
    delivery_tag: str | None = None,
    priority: int = 0,
) -> bytes:
    """One Celery task message, ready to LPUSH onto the Redis list named ``queue``.

    ``args`` items and ``kwargs`` may be ``RawJSON``. ``argsrepr``/``kwargsrepr`` are what
    monitoring tools and worker logs show instead of the arguments; pass redacted ones when
    the arguments carry secrets (Celery's "hiding sensitive information in arguments").
    ``ignore_result`` None lets the task's own setting decide, as ``send_task`` does when
    not told. ``delivery_tag`` and ``origin`` default to what kombu and Celery would put.
    ``priority`` other than 0 goes in the properties; push such a message onto the list
    kombu names for it (``queue`` + ``"\\x06\\x16"`` + the step), which kombu's Redis
    transport reads after every priority-0 list of the queues a worker consumes.
    """
    kwargs_json = kwargs if isinstance(kwargs, RawJSON) else _dumps(kwargs).encode("ascii")
    body = b"".join((b"[", _encode_args(args), b",", kwargs_json, b",", _EMBED, b"]"))
    tid = _quote(task_id)
    task, origin_field, queue_field = _fixed_fields(name, origin or origin_nodename(), queue)
    # The document is assembled from fixed pieces around the JSON-quoted variable fields
    # (key order as Celery writes it; tests compare it with Celery's own message): this
    # is several times cheaper than json.dumps of the nested dicts, on the hot path.
    return b"".join(
        (
            b'{"body":"',
            binascii.b2a_base64(body, newline=False),  # base64 needs no JSON escaping
            b'","content-encoding":"utf-8","content-type":"application/json",'
            b'"headers":{"lang":"py","task":',
            task,
            b',"id":',
            tid,
            b',"shadow":null,"eta":null,"expires":null,"group":null,"group_index":null,'
            b'"retries":0,"timelimit":[null,null],"root_id":',
            tid,
            b',"parent_id":null,"argsrepr":',
            _quote(_short_repr(args) if argsrepr is None else argsrepr),
            b',"kwargsrepr":',
            _quote(_short_repr(kwargs) if kwargsrepr is None else kwargsrepr),
            b',"origin":',
            origin_field,
            b',"ignore_result":',
            _JSON_BOOL[ignore_result],
            b',"replaced_task_nesting":0,"stamped_headers":null,"stamps":{}},'
            b'"properties":{"correlation_id":',
            tid,
            # delivery_mode 2: persistent. Priority 0 keeps the plain list name (kombu
            # suffixes the list of any other priority, see ``priority``).
            b',"reply_to":"","delivery_mode":2,"delivery_info":{"exchange":"","routing_key":',
            queue_field,
            b'},"priority":',
            b"%d" % priority,
            b',"body_encoding":"base64","delivery_tag":',
            _quote(delivery_tag or next_delivery_tag()),
            b"}}",
        )
    )


@functools.lru_cache(maxsize=64)
def _fixed_fields(name: str, origin: str, queue: str) -> tuple[bytes, bytes, bytes]:
    """The quoted task name, origin and queue: a sender uses few, and quotes them once."""
    return _quote(name), _quote(origin), _quote(queue)
