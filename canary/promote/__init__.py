"""promote: a prerelease becomes stable only when the matrix is green."""
