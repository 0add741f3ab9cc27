"""The questionnaire's sheets and columns, shared by the writer and the reader.

Every sheet has its column names in row 1; the reader finds columns by those names, so an
assessor may reorder or hide columns. Each column says which field of the assessment file it
fills (`fields`), and how its cells are read (`kinds`).
"""

from __future__ import annotations

PROFILE = "Profile"
SCORES = "Safety scores"
RESULTS = "Results"
CONTROLS = "Control results"
EVIDENCE = "Evidence"
ACCEPTANCES = "Acceptances"
ABOUT = "About"
LISTS = "Lists"
MARKER = "agent-compliance questionnaire 1"

STATUSES = ("pass", "fail", "partial", "not_applicable")
METHOD_CHOICES = (
    "examine",
    "interview",
    "test",
    "examine, interview",
    "examine, test",
    "interview, test",
    "examine, interview, test",
)
NONE = "(none)"  # an empty list, as opposed to a blank cell (not stated)

# Profile sheet: field path -> (label, kind, help)
PROFILE_FIELDS: tuple[tuple[str, str, str, str], ...] = (
    ("assessment.id", "Assessment id", "text", "Unique per deployment, e.g. 2026-Q4."),
    ("assessment.date", "Assessment date", "date", "YYYY-MM-DD: the as-of date of the decision."),
    ("assessment.assessor", "Assessor", "text", "Who assessed."),
    ("deployment.id", "Deployment id", "text", "Stable key of the deployment."),
    ("deployment.name", "Name", "text", ""),
    ("deployment.owner", "Owner", "text", ""),
    ("deployment.environment", "Environment", "text", "Optional."),
    ("deployment.business_process", "Business process", "text", "Optional."),
    ("deployment.model.name", "Model name", "text", ""),
    ("deployment.model.version", "Model version", "text", "Text, e.g. 2026-05."),
    ("deployment.identity.workload_identity", "Workload identity", "text", "Optional."),
    (
        "deployment.identity.credentials",
        "Credentials",
        "text",
        "standing, short_lived or per_task (optional).",
    ),
    (
        "deployment.tools",
        "Tools",
        "tools",
        f"One per line as 'name: access' (read, write, execute, admin); {NONE} for no tools; "
        "blank: not defined (blocks approval).",
    ),
    (
        "deployment.data",
        "Data reachable",
        "list",
        f"public, internal, confidential, regulated (one per line or comma-separated); {NONE} "
        "for none; blank: not defined (blocks approval).",
    ),
    (
        "deployment.authority",
        "Delegated authority",
        "authority",
        "e.g. initiate_payments (one per line or comma-separated); blank: none.",
    ),
    ("deployment.autonomy", "Autonomy", "text", "human_in_loop, human_on_loop or autonomous."),
    ("deployment.customer_facing", "Customer-facing", "bool", "true or false."),
    (
        "deployment.audit.logging",
        "Audit logging",
        "text",
        "Where the agent's actions are logged; blank: not defined (blocks approval).",
    ),
    ("deployment.memory", "Memory", "text", "none, session or persistent; blank: not stated."),
    (
        "deployment.agents",
        "Agents it talks to",
        "lines",
        f"One per line; {NONE} for none; blank: not stated.",
    ),
)

# Result columns (Results and Control results sheets): header -> (field, kind)
RESULT_COLUMNS: tuple[tuple[str, str, str], ...] = (
    ("Status", "status", "text"),
    ("Notes", "notes", "text"),
    ("Method", "method", "methods"),
    ("Tested by", "tested_by", "text"),
    ("Tested on", "tested_on", "date"),
    ("Population", "population", "text"),
    ("Sample size", "sample.size", "int"),
    ("Sample selection", "sample.selection", "text"),
    ("Exceptions", "exceptions", "text"),
    ("Remediation owner", "remediation.owner", "text"),
    ("Remediation due", "remediation.due", "date"),
)
RESULTS_HEADER = ("Check", "Objective", *(c[0] for c in RESULT_COLUMNS), "Title", "Procedure")
CONTROLS_HEADER = ("Control", "Title", *(c[0] for c in RESULT_COLUMNS))
SCORES_COLUMNS = (("Benchmark", "benchmark", "text"), ("Version", "version", "text"))
SCORES_HEADER = ("Benchmark", "Version", "Score")
EVIDENCE_COLUMNS: tuple[tuple[str, str, str], ...] = (
    ("File", "file", "text"),
    ("URL", "url", "text"),
    ("Description", "description", "text"),
    ("Collected", "collected", "date"),
    ("Snapshot", "snapshot", "text"),
    ("SHA-256", "sha256", "text"),
)
EVIDENCE_HEADER = ("Check or control", *(c[0] for c in EVIDENCE_COLUMNS))
ACCEPTANCE_COLUMNS: tuple[tuple[str, str, str], ...] = (
    ("Check", "check", "text"),
    ("Approved by", "approved_by", "text"),
    ("Approved on", "approved_on", "date"),
    ("Approver role", "approver_role", "text"),
    ("Justification", "justification", "text"),
    ("Expires", "expires", "date"),
    ("Compensating controls", "compensating_controls", "text"),
)
ACCEPTANCES_HEADER = tuple(c[0] for c in ACCEPTANCE_COLUMNS)
