"""The `compliance` command: a thin layer that parses, calls the library and reports."""
