"""Rendering view models to HTML and PDF with Jinja2 and WeasyPrint.

HTML output is one self-contained file: styles, charts (inline SVG) and the logo are embedded.
The PDF renderer is given that same HTML and a URL fetcher that refuses everything except the
embedded `data:` URIs, so nothing named by user data is ever fetched, local or remote.
"""

from __future__ import annotations

import base64
import mimetypes
from collections.abc import Callable
from pathlib import Path
from typing import Any

from jinja2 import ChoiceLoader, Environment, FileSystemLoader, StrictUndefined, select_autoescape

from compliance.errors import ComplianceError
from compliance.resources import templates_dir

STATUS_CLASS = {
    "met": "ok",
    "pass": "ok",
    "APPROVE": "ok",
    "partial": "warn",
    "CONDITIONAL": "warn",
    "gap": "bad",
    "fail": "bad",
    "BLOCK": "bad",
    "not_assessed": "none",
    None: "none",
    "not_applicable": "na",
    "unmapped": "na",
}
LOGO_NAMES = ("logo.svg", "logo.png")
RELATIONSHIP_PHRASES = {
    "equal": "states the same outcome as the control",
    "subset": "covers part of the control",
    "superset": "covers the control and more",
    "intersects": "overlaps the control",
}


def _pct(value: float | None, digits: int = 0) -> str:
    return "–" if value is None else f"{value * 100:.{digits}f}%"


def _status_class(value: str | None) -> str:
    return STATUS_CLASS.get(value, "none")


def _heat(value: float | dict[str, Any] | None) -> str:
    """A colour class for a score (or a heat-map cell holding one), in five steps."""
    if isinstance(value, dict):
        value = value.get("score")
    if value is None:
        return "heat-none"
    return f"heat-{min(4, int(value * 5))}"


def _coverage(cov: dict[str, int] | None) -> str:
    """`2 of 11 assessed`: what a score rests on, shown beside it."""
    if not cov:
        return "nothing assessable"
    return f"{cov['assessed']} of {cov['assessable']} assessed"


def _size(value: int | None) -> str:
    if value is None:
        return ""
    for unit in ("B", "KiB", "MiB", "GiB"):
        if value < 1024 or unit == "GiB":
            return f"{value} {unit}" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1024  # type: ignore[assignment]
    return str(value)


def environment(override: Path | None = None) -> Environment:
    """Templates from `override` first (an organisation's branding), then the built-in ones."""
    loaders = []
    if override is not None:
        if not override.is_dir():
            raise ComplianceError(f"templates folder {override} does not exist")
        loaders.append(FileSystemLoader(str(override)))
    loaders.append(FileSystemLoader(str(templates_dir())))
    env = Environment(
        loader=ChoiceLoader(loaders),
        autoescape=select_autoescape(["html", "svg", "xml"], default=True),
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
    )
    env.filters.update(
        pct=_pct,
        status_class=_status_class,
        heat=_heat,
        coverage=_coverage,
        size=_size,
        relationship=lambda r: RELATIONSHIP_PHRASES.get(r, r),
    )
    return env


def _logo(override: Path | None) -> str | None:
    """The logo as a data URI, from the override folder or the built-in templates."""
    for folder in [override, templates_dir()] if override else [templates_dir()]:
        assert folder is not None
        for name in LOGO_NAMES:
            path = folder / name
            if path.is_file():
                mime = mimetypes.guess_type(name)[0] or "application/octet-stream"
                return f"data:{mime};base64,{base64.b64encode(path.read_bytes()).decode()}"
    return None


def render_html(report: dict[str, Any], override: Path | None = None) -> str:
    env = environment(override)
    template = env.get_template(f"{report['kind']}.html")
    return template.render(report=report, logo=_logo(override))


def _fetcher() -> Any:
    from weasyprint.urls import URLFetcher

    class EmbeddedOnly(URLFetcher):  # type: ignore[misc]
        """Serves the report's own data: URIs; refuses files and the network outright."""

        def fetch(self, url: str, headers: Any = None) -> Any:
            if not url.startswith("data:"):
                raise ValueError(f"refusing to fetch {url[:80]!r}: reports embed all they show")
            return super().fetch(url, headers)

    return EmbeddedOnly(allowed_protocols={"data"}, allow_redirects=False)


def render_pdf(
    report: dict[str, Any],
    path: Path,
    override: Path | None = None,
    progress: Callable[[str], None] | None = None,
) -> None:
    from weasyprint import HTML

    html = render_html(report, override)
    if progress:
        progress("laying out pages")
    document = HTML(string=html, base_url=None, url_fetcher=_fetcher()).render()
    if progress:
        progress(f"writing {len(document.pages)} pages")
    document.write_pdf(str(path))
