"""Benchmarks: synthetic portfolios and side-by-side measurements of the engine against floors.

`python -m benchmarks.generate` writes a portfolio; `python -m benchmarks.run` (or `make bench`)
measures the engine against hand-written floors and prints one table. See benchmarks/README.md.
"""
