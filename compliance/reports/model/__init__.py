"""View models for the reports: plain, ordered data, built once and handed to every renderer.

Renderers never query the database; everything a report shows is in these structures, which
are plain dicts, lists, strings and numbers (a web page can render them as they are). One
module per report, along the flow:

- `common`: vocabularies, catalog and evidence look-ups, acceptances, the assessments in force
- `gap`: one deployment (engineer, approver)
- `summary`: the portfolio on a constant number of pages (CISO)
- `evidence`: one framework control by control, by deployment and across them (auditor)
- `plan`: plan of action and milestones, re-assessment calendar, evidence requests (GRC)
"""

from compliance.reports.model.common import (
    DECISION_ORDER,
    GAP_STATUSES,
    RESULT_LABELS,
    STATUS_LABELS,
    TIER_ORDER,
    latest_assessments,
)
from compliance.reports.model.evidence import evidence_report
from compliance.reports.model.gap import gap_report
from compliance.reports.model.plan import plan_report
from compliance.reports.model.summary import HEATMAP_ROWS, LIST_ROWS, summary_report

__all__ = [
    "DECISION_ORDER",
    "GAP_STATUSES",
    "HEATMAP_ROWS",
    "LIST_ROWS",
    "RESULT_LABELS",
    "STATUS_LABELS",
    "TIER_ORDER",
    "evidence_report",
    "gap_report",
    "latest_assessments",
    "plan_report",
    "summary_report",
]
