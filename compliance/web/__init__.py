"""The portal: pages and a JSON API over the same library functions and view models as the CLI.

Nothing here is imported by the command line until `compliance serve` runs; `accounts` (used by
`compliance users`) needs none of the web stack.
"""
