"""Validating documents against the NIST OSCAL JSON schemas vendored in tests/data/oscal-schemas.

The schemas write letter classes as `\\p{L}`; `pattern` is checked with the `regex` package,
which knows them (Python's `re` does not).
"""

from __future__ import annotations

import json
from functools import cache
from pathlib import Path
from typing import Any

import jsonschema
import regex
from jsonschema import validators

SCHEMAS = Path(__file__).parent / "data" / "oscal-schemas"


def _pattern(validator: Any, pattern: str, instance: Any, schema: Any) -> Any:
    if validator.is_type(instance, "string") and not regex.search(pattern, instance):
        yield jsonschema.ValidationError(f"{instance!r} does not match {pattern!r}")


_Validator = validators.extend(jsonschema.Draft7Validator, {"pattern": _pattern})


@cache
def validator(model: str) -> Any:
    """`catalog`, `profile`, `mapping` or `assessment-results`."""
    schema = json.loads((SCHEMAS / f"oscal_{model}_schema.json").read_text(encoding="utf-8"))
    return _Validator(schema)


def errors(model: str, document: dict[str, Any]) -> list[str]:
    """Every way `document` breaks the NIST schema of `model`, as text (none: it is valid)."""
    return [
        f"{'/'.join(str(p) for p in e.absolute_path)}: {e.message[:300]}"
        for e in validator(model).iter_errors(document)
    ]
