"""canary.matrix: the matrix harness (config, planning, sources, runners, execution, results, verdicts)."""
