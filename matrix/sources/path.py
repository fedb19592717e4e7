"""path sources: a connector in a local directory, used where it is (nothing is copied or released).

The commit recorded is the directory's git HEAD when it is a git checkout, else none.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from canary.kernel.errors import InfrastructureError
from canary.matrix.context import CellContext, Checkout
from canary.matrix.model import Matrix
from canary.matrix.sources.git import head, required

if TYPE_CHECKING:
    from canary.kernel.home import Home

__all__ = ["PathSource", "SOURCE"]


class PathSource:
    """A connector's one ref is a local directory."""

    NAME = "path"

    def identify(self, cx: CellContext) -> Checkout:
        path = Path(required(cx.connector.source.url, f"connector {cx.connector.name}: path"))
        if not path.is_dir():
            raise InfrastructureError(f"connector path does not exist: {path}")
        return Checkout(path=path, commit=head(path))

    def checkout(self, cx: CellContext) -> None:
        """The directory is the checkout: nothing to make."""

    def release(self, cx: CellContext) -> None:
        """The directory is the user's: nothing to drop."""

    def check(self, matrix: Matrix, home: Home, index: int) -> None:
        url = required(matrix.connectors[index].source.url, f"connector {matrix.connectors[index].name}: path")
        if not Path(url).is_dir():
            raise matrix.error(f"connector path does not exist: {url}", ("connectors", index, "path"))


SOURCE = PathSource()
