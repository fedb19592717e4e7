"""Progress display: a live view on a terminal, plain lines in CI or a pipe."""

import io
import time

from canary.matrix.progress import Progress, step


class FakeTTY(io.StringIO):
    def isatty(self):
        return True


def test_plain_lines_when_not_a_terminal():
    out = io.StringIO()
    p = Progress(2, stream=out)
    assert p.mode == "plain"
    p.start("a")
    p.finish("a", "pass", 1.25)
    p.start("b[bold]x[/]")
    p.finish("b[bold]x[/]", "fail", 2.0, "AssertionError: boom")
    p.close()
    lines = out.getvalue().splitlines()
    assert lines == [
        "[0/2] start    a",
        "[1/2] pass     a (1.2s)",
        "[1/2] start    b[bold]x[/]",
        "[2/2] fail     b[bold]x[/] (2.0s) AssertionError: boom",
    ]


def test_plain_lines_in_ci_even_on_a_terminal(monkeypatch):
    monkeypatch.setenv("CI", "true")
    assert Progress(1, stream=FakeTTY()).mode == "plain"


def test_live_view_timers_move_every_second_and_ids_are_text(monkeypatch):
    monkeypatch.delenv("CI", raising=False)
    out = FakeTTY()
    p = Progress(3, stream=out)
    assert p.mode == "rich"
    p.start("cell-one")
    p.finish("cell-one", "pass", 0.5)
    p.start("cell[red]two[/red]")
    time.sleep(2.3)  # no cell finishes meanwhile: only the refresh can move the timers
    p.close()
    text = out.getvalue()
    assert "[1/3] pass     cell-one" in text
    assert "cell[red]two[/red]" in text  # printed as written, not read as markup
    assert "1/3" in text and "elapsed" in text and "eta" in text
    assert "0:00:02" in text  # the elapsed column ticked on its own


def test_steps_after_the_cells_say_when_they_start_and_end():
    out = io.StringIO()
    with step("compat diff: a -> b", "plain", out):
        pass
    with step("quiet", "quiet", out):
        pass
    lines = out.getvalue().splitlines()
    assert lines[0] == "compat diff: a -> b ..." and lines[1].startswith("compat diff: a -> b: done (")
    assert len(lines) == 2
