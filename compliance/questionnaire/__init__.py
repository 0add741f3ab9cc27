"""The assessment questionnaire: a workbook an assessor fills in, read back as an assessment.

`workbook.build` writes it (blank, or prefilled from an assessment); `intake` inspects an
imported workbook's package, refuses formulas, external links and macros, and maps its cells to
the assessment file format with the place of every value; CSV results tables go the same way.
"""
