"""Rendering view models to HTML and PDF with Jinja2 and WeasyPrint.

HTML output is one self-contained file: styles, charts (inline SVG) and the logo are embedded.
The PDF renderer is given that same HTML and a URL fetcher that refuses everything except the
embedded `data:` URIs, so nothing named by user data is ever fetched, local or remote.
"""

from __future__ import annotations

import base64
import hashlib
import mimetypes
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any, BinaryIO

from jinja2 import (
    ChoiceLoader,
    FileSystemLoader,
    StrictUndefined,
    TemplateError,
    TemplateSyntaxError,
    select_autoescape,
)
from jinja2.exceptions import SecurityError
from jinja2.sandbox import ImmutableSandboxedEnvironment
from markupsafe import escape

from compliance import outfile
from compliance.errors import ComplianceError
from compliance.reports.model.common import label as _label
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


def _days(days: int | None, since: str | None = None) -> str:
    """A countdown that says from which date it counts: "12 days after 2026-11-30"."""
    if days is None:
        return ""
    frm = f" {since}" if since else " the as-of date"
    if days == 0:
        return f"on{frm}"
    n = abs(days)
    return f"{n} day{'s' if n != 1 else ''} {'after' if days > 0 else 'before'}{frm}"


def environment(override: Path | None = None) -> ImmutableSandboxedEnvironment:
    """Templates from `override` first (an organisation's branding), then the built-in ones.

    Sandboxed, the built-in templates included: a template reaches only the report's data and
    the filters below, never Python internals (`__class__`, `__globals__`, ...), and cannot
    change the data it is given.
    """
    loaders = []
    if override is not None:
        if not override.is_dir():
            raise ComplianceError(f"templates folder {override} does not exist")
        loaders.append(FileSystemLoader(str(override), followlinks=False))
    loaders.append(FileSystemLoader(str(templates_dir())))
    env = ImmutableSandboxedEnvironment(
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
        label=lambda value, kind: _label(kind, value),
        days=_days,
    )
    return env


MAX_OVERRIDE_FILES = 1_000
MAX_OVERRIDE_BYTES = 64 * 1024 * 1024


def overrides(folder: Path | None) -> list[dict[str, Any]]:
    """Every file of a templates folder (`--templates`), each with its SHA-256 and size, by
    name: what the reports rendered with it show in their footer and a pack's manifest lists.

    A link that leads out of the folder is refused (a template could otherwise show any file
    the user can read), and so is a folder beyond 1,000 files or 64 MiB.
    """
    if folder is None:
        return []
    if not folder.is_dir():
        raise ComplianceError(f"templates folder {folder} does not exist")
    root = folder.resolve()
    found: list[dict[str, Any]] = []
    total = 0
    for dirpath, dirnames, filenames in os.walk(folder):
        dirnames.sort()
        for name in [*dirnames, *filenames]:
            path = Path(dirpath) / name
            if path.is_symlink() and not path.resolve().is_relative_to(root):
                rel = path.relative_to(folder).as_posix()
                raise ComplianceError(
                    f"templates folder {folder}: {rel} is a link to {path.resolve()}, "
                    "outside the folder"
                )
        for name in sorted(filenames):
            path = Path(dirpath) / name
            if not path.is_file():
                continue
            data = path.read_bytes()
            total += len(data)
            if len(found) >= MAX_OVERRIDE_FILES or total > MAX_OVERRIDE_BYTES:
                raise ComplianceError(
                    f"templates folder {folder} holds more than {MAX_OVERRIDE_FILES} files or "
                    f"{MAX_OVERRIDE_BYTES} bytes"
                )
            found.append(
                dict(
                    name=path.relative_to(folder).as_posix(),
                    sha256=hashlib.sha256(data).hexdigest(),
                    size=len(data),
                )
            )
    return sorted(found, key=lambda f: f["name"])


def overrides_notice(listing: list[dict[str, Any]]) -> str:
    """The words every report rendered with overrides carries: each file and its hash."""
    files = ", ".join(f"{f['name']} {f['sha256'][:12]}" for f in listing)
    return f"custom templates: {files}"


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


def _template_at_fault(exc: BaseException, folders: list[tuple[Path, str]]) -> str:
    """The template an error was raised in: its name, line and whose it is."""
    if isinstance(exc, TemplateSyntaxError) and exc.name:
        found = f"{exc.name}, line {exc.lineno}"
        if exc.filename:
            for folder, whose in folders:
                if Path(exc.filename).is_relative_to(folder):
                    return f"{found} ({whose})"
        return found
    found = ""
    tb = exc.__traceback__
    while tb is not None:
        filename = Path(tb.tb_frame.f_code.co_filename)
        for folder, whose in folders:
            if filename.is_relative_to(folder):
                name = filename.relative_to(folder).as_posix()
                found = f"{name}, line {tb.tb_lineno} ({whose})"
                break
        tb = tb.tb_next
    return found or "?"


def render_html(report: dict[str, Any], override: Path | None = None) -> str:
    """The report as one self-contained HTML document.

    A template that reaches for what the sandbox refuses, names a value the report does not
    have, or is not valid is a ComplianceError naming the template; so is one that includes
    itself without end. Rendered with overrides, the document names them (footer), and if an
    override dropped that footer, the notice is added at the end of the body.
    """
    listing = overrides(override)
    folders = [(templates_dir(), "built-in"), (templates_dir().resolve(), "built-in")]
    if override is not None:
        folders += [(override, "from --templates"), (override.resolve(), "from --templates")]
    try:
        env = environment(override)
        template = env.get_template(f"{report['kind']}.html")
        html = template.render(
            report=report,
            logo=_logo(override),
            overrides=listing,
            overrides_notice=overrides_notice(listing) if listing else "",
        )
    except SecurityError as exc:
        raise ComplianceError(
            f"template {_template_at_fault(exc, folders)}: {exc} "
            "Templates may use the report's data and filters only, not Python internals."
        ) from None
    except TemplateError as exc:
        raise ComplianceError(f"template {_template_at_fault(exc, folders)}: {exc}") from None
    except RecursionError:
        raise ComplianceError(
            f"template {report['kind']}.html includes or extends itself without end"
        ) from None
    except UnicodeDecodeError as exc:
        raise ComplianceError(f"a template in {override} is not UTF-8 text: {exc}") from None
    except Exception as exc:  # a template's own expression failed (1 + "a", a range too big)
        raise ComplianceError(
            f"template {_template_at_fault(exc, folders)}: {type(exc).__name__}: {exc}"
        ) from None
    if listing:
        notice = str(escape(overrides_notice(listing)))
        if notice not in html:
            block = f'<p class="overrides-notice">Rendered with {notice}</p>'
            at = html.rfind("</body>")
            html = html[:at] + block + html[at:] if at >= 0 else html + block
    return html


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
    target: Path | BinaryIO | None = None,
    override: Path | None = None,
    progress: Callable[[str], None] | None = None,
) -> bytes | None:
    """Render the report as PDF to `target` (a file opened for writing, or a path written
    through `outfile.replacing`), or return the bytes when `target` is None."""
    from weasyprint import HTML

    html = render_html(report, override)
    if progress:
        progress("laying out pages")
    document = HTML(string=html, base_url=None, url_fetcher=_fetcher()).render()
    if progress:
        progress(f"writing {len(document.pages)} pages")
    if target is None:
        return bytes(document.write_pdf())
    if isinstance(target, str | os.PathLike):
        with outfile.replacing(Path(target)) as fh:
            document.write_pdf(fh)
    else:
        document.write_pdf(target)
    return None
