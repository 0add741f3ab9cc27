"""What every OSCAL document of this tool shares: its namespace, version, uuids, tokens, props."""

from __future__ import annotations

import json
import re
import uuid
from datetime import UTC, date, datetime, time
from typing import Any

NS = "https://github.com/agent-compliance/ns/oscal"
OSCAL_VERSION = "1.2.1"
UUID_NAMESPACE = uuid.uuid5(uuid.NAMESPACE_URL, NS)

_PROP_VALUE = re.compile(r"\S(?:.*\S)?")
_NAME_START = r"_A-Za-z\u00C0-\u00D6\u00D8-\u00F6\u00F8-\u02FF\u0370-\u037D\u037F-\u1FFF\u200C-\u200D\u2070-\u218F\u2C00-\u2FEF\u3001-\uD7FF\uF900-\uFDCF\uFDF0-\uFFFD"
_NAME_REST = _NAME_START + r"\-.0-9\u00B7\u0300-\u036F\u203F-\u2040"
_NOT_TOKEN = re.compile(f"[^{_NAME_REST}]")
_TOKEN = re.compile(f"[{_NAME_START}][{_NAME_REST}]*")


def uuid_of(*parts: str) -> str:
    """A uuid5 derived from `parts`: the same keys always give the same uuid."""
    return str(uuid.uuid5(UUID_NAMESPACE, json.dumps(parts)))


def stamp(value: datetime) -> str:
    """An OSCAL date-time in UTC, to the second."""
    if value.tzinfo is None:  # SQLite returns naive values; they are stored in UTC
        value = value.replace(tzinfo=UTC)
    return value.astimezone(UTC).replace(microsecond=0).isoformat().replace("+00:00", "Z")


def midnight(day: date) -> str:
    return stamp(datetime.combine(day, time(0, 0), tzinfo=UTC))


def end_of(day: date) -> str:
    return stamp(datetime.combine(day, time(23, 59, 59), tzinfo=UTC))


def line(text: str) -> str:
    """Text for a one-line OSCAL field (titles, names); never read back."""
    return " ".join(text.split()) or "-"


def token(ref: str) -> str:
    """An OSCAL token for a control reference (`GOVERN 1.1` -> `GOVERN_1.1`)."""
    out = _NOT_TOKEN.sub("_", ref)
    if not out or not re.match(f"[{_NAME_START}]", out[0]):
        out = "_" + out
    return out


def is_token(value: str) -> bool:
    return _TOKEN.fullmatch(value) is not None


def prop(name: str, value: str, **extra: str) -> dict[str, Any]:
    """A prop in this tool's namespace."""
    return {"name": name, "ns": NS, "value": value, **extra}


def text_prop(name: str, text: str) -> dict[str, Any]:
    """A prop holding free text exactly; text that is no valid prop value goes to remarks."""
    if _PROP_VALUE.fullmatch(text):
        return prop(name, text)
    return prop(name, "see remarks", **{"class": "in-remarks", "remarks": text})


def prop_value(p: dict[str, Any]) -> str | None:
    """The text a prop of `text_prop` holds."""
    value = p.get("remarks") if p.get("class") == "in-remarks" else p.get("value")
    return value if isinstance(value, str) else None


def our_props(props: Any) -> dict[str, str]:
    """This tool's props of an object, by name (the first of each name)."""
    out: dict[str, str] = {}
    for p in props if isinstance(props, list) else []:
        if isinstance(p, dict) and p.get("ns") == NS and isinstance(p.get("name"), str):
            value = prop_value(p)
            if value is not None:
                out.setdefault(p["name"], value)
    return out
