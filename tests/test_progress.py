"""Progress display: a live view on a terminal, plain lines in CI or a pipe."""

import io

from matrix.progress import Progress


class FakeTTY(io.StringIO):
    def isatty(self):
        return True


def test_plain_lines_when_not_a_terminal():
    out = io.StringIO()
    p = Progress(2, stream=out)
    assert p.mode == "plain"
    p.start("a")
    p.finish("a", "pass", 1.25)
    p.start("b")
    p.finish("b", "fail", 2.0, "AssertionError: boom")
    p.close()
    lines = out.getvalue().splitlines()
    assert lines == ["[1/2] pass     a (1.2s)", "[2/2] fail     b (2.0s) AssertionError: boom"]


def test_plain_lines_in_ci_even_on_a_terminal(monkeypatch):
    monkeypatch.setenv("CI", "true")
    assert Progress(1, stream=FakeTTY()).mode == "plain"


def test_live_view_on_a_terminal_shows_running_cells_and_estimate(monkeypatch):
    monkeypatch.delenv("CI", raising=False)
    out = FakeTTY()
    p = Progress(3, stream=out)
    assert p.mode == "rich"
    p.start("cell-one")
    p.finish("cell-one", "pass", 0.5)
    p.start("cell-two")
    table = p._render()
    p.close()
    from rich.console import Console

    console = Console(file=io.StringIO(), width=100)
    console.print(table)
    text = console.file.getvalue()
    assert "1/3" in text and "cell-two" in text and "eta" in text and "elapsed" in text
    assert "[1/3] pass     cell-one" in out.getvalue()
