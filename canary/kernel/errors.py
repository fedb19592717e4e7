"""User-facing errors: everything the CLI turns into one clear line and exit code 2.

A UserError names where the problem is (file, line, column, key path) so the
person who wrote the input can go straight to it; the CLI never shows a
traceback for one.
"""

from __future__ import annotations

from dataclasses import dataclass

from canary.kernel.exitcodes import ExitCode

__all__ = ["UserError", "InfrastructureError", "CoreMismatch"]


@dataclass
class UserError(Exception):
    """A mistake in the user's input: one line naming file:line:column and the key, exit 2, no traceback."""

    message: str
    file: str | None = None
    line: int | None = None
    column: int | None = None
    key: str | None = None
    hint: str | None = None
    exit_code: int = ExitCode.USAGE

    def __post_init__(self) -> None:
        super().__init__(self.message)

    def location(self) -> str:
        parts = []
        if self.file:
            where = self.file
            if self.line is not None:
                where += f":{self.line}"
                if self.column is not None:
                    where += f":{self.column}"
            parts.append(where)
        if self.key:
            parts.append(f"key '{self.key}'")
        return ": ".join(parts)

    def __str__(self) -> str:
        where = self.location()
        text = f"{where}: {self.message}" if where else self.message
        if self.hint:
            text += f" ({self.hint})"
        return text


class InfrastructureError(Exception):
    """Something outside the connector failed (clone, download, install, disk).

    A cell that hits one is `error`, never `fail`: the connector was not at fault.
    """

    # The failure kind when the raiser knows it (canary.matrix.failures.FailureKind's value); "": the
    # executor names it from the failing command.
    kind: str = ""

    def __init__(self, reason: str, detail: str = "", kind: str = "") -> None:
        super().__init__(reason)
        self.reason = reason
        self.detail = detail
        self.kind = kind or type(self).kind


class CoreMismatch(InfrastructureError):
    """The cell's environment loads another core than the one in its label: the cell proves nothing."""

    kind = "core-mismatch"
