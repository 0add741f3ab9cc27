"""The `compliance` command: a thin layer that parses, calls the library and reports.

Start-up is part of every command's time, so imports here follow three rules, which
`tests/test_cli_startup.py` checks by running commands and looking at what they loaded:

- `main.py` imports click and `compliance.__version__`, nothing else (not even pathlib): `--help`
  and `--version` must not load SQLAlchemy. A new command is added to `main.COMMANDS` (module,
  attribute, first paragraph of its help), not imported there.
- A command module is imported when one of its commands runs. At module level it imports only
  what all of its commands need (click, SQLAlchemy, `cli.context`, the store); whatever only
  one command or one output format needs is imported inside it. The report stack
  (`compliance.reports.render`, `.xlsx`, `.batch`, `compliance.pack`: Jinja2, WeasyPrint,
  openpyxl), rich, the importer and OSCAL are imported inside the commands that use them, never
  at module level by a module some of whose commands do not: `gate`, `gaps` and `deployments`
  load none of them.
- `compliance.store.db` imports Alembic only in the functions that migrate: checking that the
  schema is current reads the migration scripts' revision ids.
"""
