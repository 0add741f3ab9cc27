"""Where the packaged data lives: the repository checkout, or the copy bundled into a wheel."""

from __future__ import annotations

from pathlib import Path

_PACKAGE = Path(__file__).resolve().parent


def _locate(name: str) -> Path:
    for candidate in (_PACKAGE / "_bundled" / name, _PACKAGE.parent / name):
        if candidate.is_dir():
            return candidate
    raise FileNotFoundError(f"packaged folder {name!r} not found next to {_PACKAGE}")


def mappings_dir() -> Path:
    """Built-in catalogs, checks, mappings and policy."""
    return _locate("mappings")


def templates_dir() -> Path:
    """Built-in report templates."""
    return _locate("templates")


def migrations_dir() -> Path:
    """Alembic migration scripts."""
    return _locate("migrations")
