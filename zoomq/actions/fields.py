"""Where an input field goes in the HTTP request: path, query or (nested) body.

Input models annotate fields with one of these markers; ``build_request`` reads
them, so no action needs a hand-written request function.
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["InBody", "InPath", "InQuery"]


@dataclass(frozen=True, slots=True)
class InPath:
    """A path template parameter, e.g. ``{meetingId}``; ``uuid`` applies Zoom's double encoding."""

    name: str
    uuid: bool = False


@dataclass(frozen=True, slots=True)
class InQuery:
    """A query parameter; booleans become ``true``/``false``, lists comma-separated."""

    name: str


@dataclass(frozen=True, slots=True)
class InBody:
    """A JSON body member at a dotted path (``settings.host_video``).

    ``merge=True`` merges a dict value into that member instead of replacing it
    (``settingsExtraFields`` → ``settings``); ``path=""`` with merge merges into the root.
    """

    path: str
    merge: bool = False
