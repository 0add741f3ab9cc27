"""One maximum length per text field: the database column's, checked before the database.

The lengths are those of the SQLAlchemy column types in `store/models.py` (`String(300)`), read
from the metadata, so a column added there is covered without more code. SQLite does not
enforce them and PostgreSQL does, with a raw error that shows the statement and its
parameters; every value is checked here first, on both backends, and a value too long is a
problem like any other bad input (`file: place: expected at most N characters, got M`).
Unbounded `Text` columns have no limit here: the input limits (10 MiB per document) bound them.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping, Sequence
from functools import cache
from typing import Any

from sqlalchemy import String, Table

from compliance.errors import InvalidInput, Problem
from compliance.store.models import Base
from compliance.textsafe import is_clean

Over = tuple[str, int, int]  # column, its limit, the value's length


@cache
def max_lengths(table: str) -> dict[str, int]:
    """{column: maximum length in characters} of a table's bounded text columns."""
    found: dict[str, int] = {}
    for column in Base.metadata.tables[table].columns:
        if isinstance(column.type, String) and column.type.length:
            found[column.name] = column.type.length
    return found


def max_length(table: str, column: str) -> int | None:
    """The maximum length of one column, or None when it is unbounded or not text."""
    return max_lengths(table).get(column)


def message(limit: int, length: int) -> str:
    return f"expected at most {limit} characters, got {length}"


def checker(table: Table | str, columns: Sequence[str]) -> Callable[[Sequence[Any]], list[Over]]:
    """A function telling which values of a row (in the order of `columns`) are too long."""
    name = table if isinstance(table, str) else table.name
    limits = max_lengths(name)
    bounded = [(i, c, limits[c]) for i, c in enumerate(columns) if c in limits]

    def over(values: Sequence[Any]) -> list[Over]:
        found: list[Over] = []
        for i, column, limit in bounded:
            value = values[i]
            if value.__class__ is str and len(value) > limit:
                found.append((column, limit, len(value)))
        return found

    return over


def row_problems(
    table: Table | str,
    row: Mapping[str, Any],
    file: str,
    place: Callable[[str], str],
) -> Iterator[Problem]:
    """A problem for every value of `row` (column: value) longer than its column allows;
    `place(column)` says where the value is in `file`."""
    columns = list(row)
    for column, limit, length in checker(table, columns)(list(row.values())):
        yield Problem(file, place(column), message(limit, length))


def require_fit(table: Table | str, row: Mapping[str, Any], what: str) -> None:
    """Raise InvalidInput when a value of `row` is too long for its column; `what` names the
    input the values come from (an environment variable, a command)."""
    problems = list(row_problems(table, row, what, lambda column: column))
    if problems:
        raise InvalidInput(problems)


def checked_name(value: str, source: str, table: str, column: str) -> str:
    """`value` (a name from the environment or the command line, such as COMPLIANCE_ACTOR) if
    it fits its column and holds no control character; else InvalidInput naming `source`."""
    limit = max_length(table, column)
    problems = []
    if not value.strip():
        problems.append(Problem(source, "", "expected non-empty text"))
    if limit is not None and len(value) > limit:
        problems.append(Problem(source, "", message(limit, len(value))))
    if not is_clean(value):
        problems.append(
            Problem(source, "", "control characters and escape sequences are not allowed")
        )
    if problems:
        raise InvalidInput(problems)
    return value
