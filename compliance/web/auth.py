"""Who may do what: the roles, the permission each route needs, and the one check of both.

Every route of the portal names one permission (`web.routes`); `allowed` is the only place a
role is compared with it.
"""

from __future__ import annotations

ROLE_RANK = {"viewer": 0, "auditor": 1, "admin": 2}

# permission -> the lowest role that has it
PERMISSIONS: dict[str, str] = {
    # the portfolio, each deployment's decision (blockers, conditions), gaps and history
    "decisions": "viewer",
    # catalogs and checks in force, as `catalogs` and `checks` show them
    "catalogs": "viewer",
    # control-by-control results with their evidence, evidence items and their downloads
    "evidence": "auditor",
    # reports in every format
    "reports": "auditor",
    # audit packs
    "packs": "auditor",
    # the audit trail and its verification
    "audit": "auditor",
    # importing assessments
    "import": "admin",
    # accounts
    "users": "admin",
}


def allowed(role: str, permission: str) -> bool:
    """Whether `role` has `permission` (an unknown role or permission has nothing)."""
    needed = PERMISSIONS.get(permission)
    if needed is None or role not in ROLE_RANK:
        return False
    return ROLE_RANK[role] >= ROLE_RANK[needed]


def grants(role: str) -> dict[str, bool]:
    """Every permission with whether `role` has it (what pages show or hide)."""
    return {p: allowed(role, p) for p in PERMISSIONS}
