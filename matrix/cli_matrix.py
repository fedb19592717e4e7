"""Subcommands of this package (filled in by its issue)."""


def register(sub) -> None:
    pass
