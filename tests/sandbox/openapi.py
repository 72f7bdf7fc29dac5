"""Validate sandbox responses against Zoom's own OpenAPI response schemas.

The specs live in ``../shared/zoom-openapi/`` beside the repository; they are read,
never copied. OpenAPI 3.0 schemas become JSON Schema: ``$ref`` resolved inline,
OpenAPI-only keywords dropped, ``nullable`` turned into a ``null`` type, and
``allOf`` of plain objects merged. With ``strict`` every object also refuses
properties the spec does not name (``allow_extra`` lists the ones Zoom sends anyway),
which catches misspelt field names.
"""

from __future__ import annotations

import json
from functools import cache
from pathlib import Path
from typing import Any, TypedDict, Unpack

import jsonschema

SPEC_DIR = Path(__file__).resolve().parents[2].parent / "shared" / "zoom-openapi"

_DROP = frozenset(
    {
        "example",
        "examples",
        "description",
        "deprecated",
        "extensions",
        "readOnly",
        "writeOnly",
        "xml",
        "externalDocs",
        "discriminator",
        "nullable",
        "title",
    }
)


@cache
def load_spec(name: str) -> dict[str, Any]:
    return json.loads((SPEC_DIR / name).read_text())  # type: ignore[no-any-return]


def _resolve(spec: dict[str, Any], ref: str) -> Any:
    node: Any = spec
    for part in ref.removeprefix("#/").split("/"):
        node = node[part.replace("~1", "/").replace("~0", "~")]
    return node


def to_json_schema(spec: dict[str, Any], node: Any, *, strict: bool, extra: frozenset[str]) -> Any:
    """One OpenAPI schema node as JSON Schema (Draft 4 flavoured, like OpenAPI 3.0)."""
    if isinstance(node, list):
        return [to_json_schema(spec, n, strict=strict, extra=extra) for n in node]
    if not isinstance(node, dict):
        return node
    if "$ref" in node:
        return to_json_schema(spec, _resolve(spec, node["$ref"]), strict=strict, extra=extra)
    if "allOf" in node and all(
        isinstance(p, dict) and ("properties" in p or "$ref" in p) for p in node["allOf"]
    ):
        merged: dict[str, Any] = {"type": "object", "properties": {}, "required": []}
        for raw_part in node["allOf"]:
            part = _resolve(spec, raw_part["$ref"]) if "$ref" in raw_part else raw_part
            merged["properties"].update(part.get("properties", {}))
            merged["required"] += part.get("required", [])
        rest = {k: v for k, v in node.items() if k != "allOf"}
        return to_json_schema(spec, {**rest, **merged}, strict=strict, extra=extra)
    out: dict[str, Any] = {}
    for key, value in node.items():
        if key in _DROP or key.startswith("x-"):
            continue
        if key == "properties":
            out[key] = {
                name: to_json_schema(spec, sub, strict=strict, extra=extra)
                for name, sub in value.items()
            }
        else:
            out[key] = to_json_schema(spec, value, strict=strict, extra=extra)
    if node.get("nullable") is True and "type" in out:
        out["type"] = [out["type"], "null"]
        if "enum" in out:
            out["enum"] = [*out["enum"], None]
    if strict and "properties" in out and "additionalProperties" not in out:
        out["additionalProperties"] = False
        out["properties"] = {**out["properties"], **{name: {} for name in extra}}
    if not out.get("required"):
        out.pop("required", None)
    return out


def response_schema(
    spec_name: str,
    method: str,
    path: str,
    status: int,
    *,
    strict: bool = True,
    allow_extra: frozenset[str] = frozenset(),
) -> dict[str, Any]:
    spec = load_spec(spec_name)
    operation = spec["paths"][path][method.lower()]
    body = operation["responses"][str(status)]["content"]["application/json"]["schema"]
    return to_json_schema(spec, body, strict=strict, extra=allow_extra)  # type: ignore[no-any-return]


class SchemaOptions(TypedDict, total=False):
    """``response_schema``'s keywords, which ``validate`` passes on."""

    strict: bool
    allow_extra: frozenset[str]


def validate(
    body: Any, spec_name: str, method: str, path: str, status: int, **options: Unpack[SchemaOptions]
) -> None:
    """Raise ``jsonschema.ValidationError`` unless ``body`` fits the operation's schema."""
    schema = response_schema(spec_name, method, path, status, **options)
    validator = jsonschema.Draft4Validator(schema, format_checker=jsonschema.FormatChecker())
    errors = sorted(validator.iter_errors(body), key=lambda e: list(e.absolute_path))
    if errors:
        first = errors[0]
        where = "/".join(str(p) for p in first.absolute_path)
        raise jsonschema.ValidationError(f"{where}: {first.message} ({len(errors)} errors)")
