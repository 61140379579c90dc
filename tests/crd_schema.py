"""Turn a CustomResourceDefinition's openAPIV3Schema into a JSON schema for jsonschema.

The API server prunes or rejects fields a structural CRD schema does not declare, unless the
schema says ``x-kubernetes-preserve-unknown-fields``; a JSON schema allows them unless it
says ``additionalProperties: false``. So every object schema that lists ``properties`` and
neither preserves unknown fields nor declares ``additionalProperties`` gets
``additionalProperties: false``. ``metadata`` (``type: object`` without properties) stays
open, as the CRD leaves it to the API server. CEL rules (``x-kubernetes-validations``) are
kept but not evaluated. A pattern that opens with ``^`` and then Go's inline flags
(``^(?i)...``) gets the flags first (``(?i)^...``): the same expression, in the order Python's
``re`` requires. Used for KEDA (tests/data/keda), the Prometheus Operator
(tests/data/prometheus-operator) and Flux (src/goldpath/schemas/flux,
shipped for goldpath verify); refresh: see the README.md in each.
"""

from __future__ import annotations

import json
import re
import sys
from typing import Any

import yaml

__all__ = ["json_schema_of_crd", "main"]

_DRAFT = "https://json-schema.org/draft/2020-12/schema"
_LATE_FLAGS = re.compile(r"^\^(\(\?[a-zA-Z]+\))")


def _strict(schema: Any) -> Any:
    if isinstance(schema, list):
        return [_strict(item) for item in schema]
    if not isinstance(schema, dict):
        return schema
    converted = {key: _strict(value) for key, value in schema.items()}
    if (
        "properties" in converted
        and "additionalProperties" not in converted
        and not converted.get("x-kubernetes-preserve-unknown-fields")
    ):
        converted["additionalProperties"] = False
    if isinstance(converted.get("pattern"), str):
        converted["pattern"] = _LATE_FLAGS.sub(r"\1^", converted["pattern"])
    if converted.get("nullable") is True and "type" in converted:
        converted["type"] = [converted["type"], "null"]
    return converted


def json_schema_of_crd(
    crd: dict[str, Any], *, version: str, source: str | None = None
) -> dict[str, Any]:
    """Return the JSON schema of one served version of a CRD, closed where the CRD is."""
    (entry,) = [v for v in crd["spec"]["versions"] if v["name"] == version]
    schema: dict[str, Any] = _strict(entry["schema"]["openAPIV3Schema"])
    group, kind = crd["spec"]["group"], crd["spec"]["names"]["kind"]
    header: dict[str, Any] = {"$schema": _DRAFT, "title": f"{kind} {group}/{version}"}
    if source:
        header["$comment"] = source
    return {**header, **schema}


def main() -> None:
    """Read a CRD (YAML) on stdin; print the JSON schema of the version named in argv[1].

    argv[2], when given, is recorded as the schema's ``$comment`` (where the CRD came from).
    """
    crd = yaml.safe_load(sys.stdin.read())
    source = sys.argv[2] if len(sys.argv) > 2 else None
    schema = json_schema_of_crd(crd, version=sys.argv[1], source=source)
    sys.stdout.write(json.dumps(schema, indent=2, sort_keys=True) + "\n")


if __name__ == "__main__":
    main()
