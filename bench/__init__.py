"""Performance benchmark of the `qa` pipeline: every stage, scale-up, and a stock llama-index baseline.

Run `python -m bench [--quick] [--threads N] [--out PATH]`; see `bench.run` for the stages (one
module each), `bench.report` for the targets, and `docs/performance.md` for the figures on the
reference machine.
"""
