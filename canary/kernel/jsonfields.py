"""Reading the fields of a JSON document with an error that names the file and the key.

A document's `from_dict` reads each field through `Fields`: a missing or mistyped field is one
UserError naming the file and the key path (`cells[3].core.label`), exit 2, never a KeyError
traceback. Keys a reader does not know are ignored: a newer writer may add fields.
"""

from __future__ import annotations

from typing import Any

from canary.kernel.errors import UserError

__all__ = ["Fields", "MISSING"]


class _Missing:
    def __repr__(self) -> str:
        return "MISSING"


MISSING: Any = _Missing()

_NAMES = {str: "a string", int: "an integer", bool: "true or false", list: "a list", dict: "an object"}


def _what(kinds: tuple[type, ...]) -> str:
    return " or ".join(_NAMES.get(k, k.__name__) for k in kinds if k is not type(None)) + (
        " or null" if type(None) in kinds else ""
    )


class Fields:
    """The fields of one JSON object at `key` of the document in `file`."""

    def __init__(self, data: object, file: str = "", key: str = "") -> None:
        self.file = file
        self.key = key
        if not isinstance(data, dict):
            raise UserError(f"expected {_NAMES[dict]}", file=file or None, key=key or "$")
        self.data: dict[str, Any] = data

    def path(self, name: str | int) -> str:
        """The key path of a field (or list index) below this object."""
        if isinstance(name, int):
            return f"{self.key}[{name}]"
        return f"{self.key}.{name}" if self.key else name

    def get(self, name: str, *kinds: type, default: Any = MISSING) -> Any:
        """The field `name`, which must be one of `kinds` (bool never counts as int); `default` when
        it is absent (no default: absent is an error)."""
        if name not in self.data:
            if default is MISSING:
                raise UserError("missing", file=self.file or None, key=self.path(name))
            return default
        value = self.data[name]
        ok = any(isinstance(value, k) and not (k is int and isinstance(value, bool)) for k in kinds)
        if not ok:
            raise UserError(f"expected {_what(kinds)}, not {value!r:.60}", file=self.file or None, key=self.path(name))
        return value

    def fields(self, name: str) -> Fields:
        """The object field `name` (required) as Fields."""
        return Fields(self.get(name, dict), self.file, self.path(name))

    def strings(self, name: str, default: Any = MISSING) -> list[str]:
        """A list of strings."""
        values: list[Any] = self.get(name, list, default=default)
        for i, v in enumerate(values):
            if not isinstance(v, str):
                raise UserError(
                    f"expected a string, not {v!r:.60}", file=self.file or None, key=f"{self.path(name)}[{i}]"
                )
        return list(values)

    def choice(self, name: str, allowed: tuple[Any, ...], default: Any = MISSING) -> Any:
        """A field whose value is one of `allowed`."""
        if name not in self.data and default is not MISSING:
            return default
        value = self.get(name, object)
        if value not in allowed:
            words = ", ".join(repr(a) for a in allowed)
            raise UserError(f"expected one of {words}, not {value!r:.60}", file=self.file or None, key=self.path(name))
        return value

    def items(self, name: str, default: Any = MISSING) -> list[Fields]:
        """A list of objects, each as Fields."""
        values = self.get(name, list, default=default)
        return [Fields(v, self.file, f"{self.path(name)}[{i}]") for i, v in enumerate(values)]
