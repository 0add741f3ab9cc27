"""Pydantic plumbing shared by every input schema: strict models and readable error messages."""

from __future__ import annotations

import re
from typing import Any, TypeVar

from pydantic import BaseModel, ConfigDict, ValidationError

from compliance.documents import format_location
from compliance.errors import InvalidInput, Problem

M = TypeVar("M", bound=BaseModel)


class StrictModel(BaseModel):
    """Input model: unknown keys are refused so that typos never pass silently."""

    model_config = ConfigDict(extra="forbid", frozen=True, str_strip_whitespace=True)


def _show(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 80 else text[:77] + "..."


def describe_error(err: Any) -> str:
    """One pydantic error as `expected ..., got ...`."""
    kind = err["type"]
    ctx = err.get("ctx") or {}
    got = err.get("input")
    if kind == "missing":
        return "required field is missing"
    if kind == "extra_forbidden":
        return "unknown field (not part of the format)"
    if kind in {"literal_error", "enum"}:
        expected = ctx.get("expected", "")
        options = expected.replace("'", "").replace(" or ", ", ")
        return f"expected one of {options}, got {_show(got)}"
    if kind in {
        "date_from_datetime_parsing",
        "date_parsing",
        "date_type",
        "date_from_datetime_inexact",
    }:
        return f"expected a date as YYYY-MM-DD, got {_show(got)}"
    if kind in {"greater_than_equal", "less_than_equal", "greater_than", "less_than"}:
        return f"{err['msg'].lower()}, got {_show(got)}"
    if kind == "string_pattern_mismatch":
        return f"expected text matching {ctx.get('pattern')}, got {_show(got)}"
    if kind in {"dict_type", "model_type", "model_attributes_type"}:
        return f"expected a mapping, got {type(got).__name__}"
    if kind in {"list_type", "tuple_type"}:
        return f"expected a list, got {type(got).__name__}"
    if kind == "string_type":
        return f"expected text, got {type(got).__name__} {_show(got)}"
    if kind in {"bool_type", "bool_parsing"}:
        return f"expected true or false, got {_show(got)}"
    if kind == "string_too_short":
        return "expected non-empty text"
    if kind == "value_error":
        return str(ctx.get("error", err["msg"]))
    return f"{err['msg']}, got {_show(got)}"


def problems_from(exc: ValidationError, file: str, prefix: str = "") -> list[Problem]:
    """Convert a pydantic ValidationError into Problems located in `file`."""
    problems = []
    for err in exc.errors():
        loc = format_location(err["loc"])
        message = describe_error(err)
        # Model-level validators name the place inside the message: "controls[3].parent: ...".
        inner = re.match(r"^([A-Za-z_][\w.\[\]-]*): (.+)$", message, re.S)
        if err["type"] == "value_error" and inner:
            loc = f"{loc}.{inner.group(1)}" if loc else inner.group(1)
            message = inner.group(2)
        if prefix:
            loc = f"{prefix}.{loc}" if loc else prefix
        problems.append(Problem(file, loc, message))
    return problems


def validate(model: type[M], value: Any, file: str) -> M:
    """Validate `value` against `model` or raise InvalidInput naming `file` and each place."""
    if not isinstance(value, dict):
        raise InvalidInput(
            [Problem(file, "", f"expected a mapping at the top level, got {type(value).__name__}")]
        )
    try:
        return model.model_validate(value)
    except ValidationError as exc:
        raise InvalidInput(problems_from(exc, file)) from None
