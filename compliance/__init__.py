"""Compliance reporting engine for AI agent deployments."""

import os

__version__ = "0.1.0"

# openpyxl writes different XML when lxml is installed, and chooses when it is first imported:
# its own writer, always, so that workbooks (and the packs holding them) are byte-identical
# whether or not lxml is installed. Set here, before anything of this package imports openpyxl.
os.environ["OPENPYXL_LXML"] = "False"
