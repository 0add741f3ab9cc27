"""OSCAL in and out: assessment results (export and import), catalogs, profiles and mappings.

`assessment_results` is the assessment exchange (export, and the mapping back for import);
`catalog`, `profile` and `mapping` write the catalogs, the policy's tiers and the check
mappings as OSCAL documents, and `catalog` also reads OSCAL catalogs as organisation catalogs.
"""

from compliance.oscal.assessment_results import (
    STATUSES,
    Converted,
    Foreign,
    convert,
    export_assessment,
    to_import_document,
)
from compliance.oscal.common import NS, OSCAL_VERSION, UUID_NAMESPACE, token

__all__ = [
    "NS",
    "OSCAL_VERSION",
    "STATUSES",
    "UUID_NAMESPACE",
    "Converted",
    "Foreign",
    "convert",
    "export_assessment",
    "to_import_document",
    "token",
]
