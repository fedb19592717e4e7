"""canary.kernel: the shared leaf every part may import (errors, YAML positions, atomic JSON I/O,
locks, archives, the home directory, redaction). It imports nothing else of canary."""
