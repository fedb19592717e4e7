"""canary: the release compatibility matrix and canary tool (CLI, pipeline, promotion).

The parts live in their own packages: canary.matrix (the harness), canary.compat (breaking
changes), canary.codemods (lint and fixes), canary.reports (renderers), canary.kernel (shared).
"""

__all__ = ["__version__"]

__version__ = "0.1.0"
