"""Domain errors: every bad input is reported with the file, the place in it and what was expected."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass


@dataclass(frozen=True, order=True)
class Problem:
    """One thing wrong with one input file."""

    file: str
    location: str
    message: str

    def __str__(self) -> str:
        where = f"{self.file}: {self.location}" if self.location else self.file
        return f"{where}: {self.message}"


class ComplianceError(Exception):
    """Base class for errors the CLI reports without a traceback."""


class NotFound(ComplianceError):
    """A named deployment, assessment, framework or control does not exist."""


class InvalidInput(ComplianceError):
    """One or more input files are invalid; nothing was written."""

    def __init__(self, problems: Iterable[Problem]) -> None:
        self.problems = sorted(set(problems), key=lambda p: (p.file, p.location, p.message))
        super().__init__("\n".join(str(p) for p in self.problems))


class Conflict(ComplianceError):
    """The change is not allowed in the current state (e.g. altering a finalized assessment)."""
