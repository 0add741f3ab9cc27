"""`compliance export`: assessments in exchange formats (OSCAL assessment results)."""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path
from typing import TYPE_CHECKING

import click

from compliance import outfile
from compliance.cli.context import AppContext, as_of_option, handle_errors, pass_app, say

if TYPE_CHECKING:
    from compliance.catalogs import CatalogSet


@click.group()
def export() -> None:
    """Export in exchange formats: assessments (`oscal`: OSCAL assessment results), catalogs,
    the policy's tiers and the mappings (OSCAL, OLIR, CSV), and CISO Assistant libraries."""


@export.command("oscal")
@click.argument("deployment")
@click.option(
    "--assessment",
    "assessment_id",
    help="Assessment id [default: the latest dated on or before the as-of date].",
)
@as_of_option
@click.option(
    "-o",
    "--output",
    "out",
    required=True,
    type=click.Path(dir_okay=False, path_type=Path),
    help="JSON file to write.",
)
@pass_app
@handle_errors
def oscal(
    app: AppContext, deployment: str, assessment_id: str | None, as_of: date, out: Path
) -> None:
    """Write an assessment as an OSCAL assessment-results document (JSON).

    One observation and one finding per result, risk acceptances as risks, evidence files as
    back-matter resources with their SHA-256. `compliance import` reads the document back:
    statuses, notes, evidence and acceptances come back unchanged (evidence files are found
    beside the document or, by hash, in the evidence store).

    \b
    Example:
      compliance export oscal payments-recon-agent --assessment 2026-Q4 -o out/payments-ar.json
      compliance --db sqlite:///other.db import out/payments-ar.json
    """
    from compliance.oscal import export_assessment

    guard = app.guard()
    guard.check(out)
    with app.read_session() as session:
        document = export_assessment(session, deployment, assessment_id, as_of)
    text = json.dumps(document, indent=2, ensure_ascii=False) + "\n"
    outfile.write_bytes(out, text.encode("utf-8"), guard)
    say(str(out))


_FORMAT_OSCAL = click.Choice(["oscal"])


def _catalog_set(app: AppContext) -> CatalogSet:
    from compliance.catalogs import load_catalog_set

    return load_catalog_set(app.catalog_dirs)


def _write_json(app: AppContext, out: Path, document: object, guard: outfile.Protected) -> None:
    text = json.dumps(document, indent=2, ensure_ascii=False) + "\n"
    outfile.write_bytes(out, text.encode("utf-8"), guard)
    say(str(out))


_output = click.option(
    "-o",
    "--output",
    "out",
    required=True,
    type=click.Path(dir_okay=False, path_type=Path),
    help="File to write.",
)


@export.command("catalog")
@click.argument("framework")
@click.option("--format", "fmt", type=_FORMAT_OSCAL, default="oscal", show_default=True)
@_output
@pass_app
@handle_errors
def catalog(app: AppContext, framework: str, fmt: str, out: Path) -> None:
    """Write a framework catalog, or the baseline checks (`checks`), as an OSCAL catalog (JSON).

    A framework's groupings are OSCAL groups and its assessable entries controls, with their
    text as the statement; the checks are controls with their objective, test procedure,
    evidence and remediation as parts and one link per mapping. An OSCAL catalog written here
    loads back through --catalog-dir as the same catalog.

    \b
    Example:
      compliance export catalog nist-ai-rmf-1.0 --format oscal -o out/nist-ai-rmf-1.0.oscal.json
      compliance export catalog checks -o out/baseline-checks.oscal.json
    """
    from compliance.errors import NotFound
    from compliance.oscal.catalog import export_checks, export_framework

    guard = app.guard()
    guard.check(out)
    cs = _catalog_set(app)
    if framework in ("checks", cs.checks.doc.id if cs.checks else "checks"):
        assert cs.checks is not None
        document = export_checks(cs.checks, {k: c.doc for k, c in cs.catalogs.items()})
    elif framework in cs.catalogs:
        c = cs.catalogs[framework]
        document = export_framework(c.doc, c.file.sha256)
    else:
        known = ", ".join(["checks", *sorted(cs.catalogs)])
        raise NotFound(f"unknown framework {framework!r} (known: {known})")
    _write_json(app, out, document, guard)


@export.command("profile")
@click.argument("tier")
@click.option("--format", "fmt", type=_FORMAT_OSCAL, default="oscal", show_default=True)
@click.option(
    "--policy",
    "policy_path",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="Policy file [default: the policy in force].",
)
@_output
@pass_app
@handle_errors
def profile(app: AppContext, tier: str, fmt: str, policy_path: Path | None, out: Path) -> None:
    """Write a tier of the policy as an OSCAL profile (JSON): the checks it always requires.

    What a profile cannot express (when the tier applies, the minimum safety score, the
    checks required only when the deployment's profile says so, evidence freshness,
    acceptance and re-assessment limits, thresholds) is written as props of this tool's
    namespace in the profile's metadata.

    \b
    Example:
      compliance export profile high --format oscal -o out/high.profile.json
    """
    from compliance.oscal.profile import export_tier
    from compliance.policy import parse_policy, read_policy_file

    guard = app.guard(files=[(policy_path, "the policy file")])
    guard.check(out)
    cs = _catalog_set(app)
    assert cs.checks is not None and cs.policy_file is not None
    known = {c.id for c in cs.checks.doc.checks}
    file = read_policy_file(policy_path) if policy_path else cs.policy_file
    _write_json(app, out, export_tier(parse_policy(file, known), tier, cs.checks), guard)


@export.command("mappings")
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["oscal", "olir", "csv"]),
    default="oscal",
    show_default=True,
    help="oscal: an OSCAL mapping-collection; olir: NIST IR 8477 set-theory rows (CSV); "
    "csv: one row per mapping.",
)
@_output
@pass_app
@handle_errors
def mappings(app: AppContext, fmt: str, out: Path) -> None:
    """Write every check-to-control mapping in force (built-in and organisation mappings).

    Relationships read from the check's side. In OSCAL, subset, superset, intersects and equal
    are subset-of, superset-of, intersects-with and equivalent-to, and mitigates (a check
    against a threat) is the relationship mitigates in this tool's namespace; the OLIR table
    holds the set-theory links only (IR 8477 has no mitigates) and says how many it left out.

    \b
    Example:
      compliance export mappings --format oscal -o out/mappings.oscal.json
      compliance export mappings --format olir -o out/mappings-olir.csv
      compliance export mappings --format csv -o out/mappings.csv
    """
    guard = app.guard()
    guard.check(out)
    cs = _catalog_set(app)
    if fmt == "oscal":
        from compliance.oscal.mapping import export_mappings

        _write_json(app, out, export_mappings(cs), guard)
        return
    from compliance.interop import mapping_tables

    table = mapping_tables.olir(cs) if fmt == "olir" else mapping_tables.flat(cs)
    outfile.write_bytes(out, table.text.encode("utf-8"), guard)
    say(str(out))
    if table.left_out:
        say(
            f"{table.rows} mappings written; {table.left_out} mitigates mappings left out "
            "(NIST IR 8477 has no such relationship; --format oscal or csv carries them)"
        )


@export.command("ciso-assistant")
@click.option(
    "-o",
    "--output",
    "out",
    required=True,
    type=click.Path(file_okay=False, path_type=Path),
    help="Folder to write the library files into.",
)
@pass_app
@handle_errors
def ciso_assistant(app: AppContext, out: Path) -> None:
    """Write CISO Assistant libraries: the checks, OWASP ASI and CSA MAESTRO as frameworks, and
    requirement mapping sets from the checks to NIST CSF 2.0, NIST AI RMF 1.0 (CISO
    Assistant's own URNs) and the MAESTRO layers.

    A check's mitigated threats are its requirement node's `threats` (CISO Assistant's mapping
    sets have no mitigates); relationships are spelt equal, subset, superset and intersect.

    \b
    Example:
      compliance export ciso-assistant -o out/ciso-assistant/
    """
    from compliance.interop.ciso_assistant import export_libraries

    guard = app.guard()
    guard.check_folder(out)
    files = export_libraries(_catalog_set(app))
    for name in files:
        guard.check(out / name)
    for name, data in files.items():
        outfile.write_bytes(out / name, data, guard)
        say(str(out / name))
