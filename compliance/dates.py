"""What "today" and "now" are for the tool: UTC, and reproducible when asked to be.

A command that decides "now" decides as of `today()` unless told `--as-of`. Reports and packs
state when they were generated (`generated_at()`); with `SOURCE_DATE_EPOCH` set (the
reproducible-builds convention) that instant is fixed, so that the same database, arguments and
`SOURCE_DATE_EPOCH` give the same bytes.
"""

from __future__ import annotations

import os
from datetime import UTC, date, datetime

from compliance.errors import ComplianceError


def today() -> date:
    """Today's date in UTC: the default as-of date, and the latest date an import accepts."""
    return datetime.now(UTC).date()


def generated_at() -> datetime:
    """When an output is generated: `SOURCE_DATE_EPOCH` if set, else now; UTC, to the second."""
    raw = os.environ.get("SOURCE_DATE_EPOCH")
    if raw is not None and raw.strip():
        try:
            seconds = int(raw.strip())
        except ValueError:
            raise ComplianceError(
                f"SOURCE_DATE_EPOCH: expected a whole number of seconds since 1970-01-01, got {raw!r}"
            ) from None
        if not 0 <= seconds < 253402300800:  # up to 9999-12-31
            raise ComplianceError(f"SOURCE_DATE_EPOCH: out of range, got {raw!r}")
        return datetime.fromtimestamp(seconds, UTC)
    return datetime.now(UTC).replace(microsecond=0)


def stamp(moment: datetime) -> str:
    """`2026-11-30T09:15:00Z`."""
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
