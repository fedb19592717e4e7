"""matrix: the matrix harness (config, planning, sources, runners, execution, results, verdicts)."""

__version__ = "0.1.0"
