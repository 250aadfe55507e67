"""Live progress: plain lines in a log, redrawn in place on a terminal, nothing with -q."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

import pytest

from pytest_tel3sis_compose.plugin.progress import Progress


class FakeReporter:
    def __init__(self, *, tty: bool) -> None:
        self.isatty = tty
        self._tw = SimpleNamespace(hasmarkup=tty, fullwidth=40)
        self.written: list[str] = []

    def ensure_newline(self) -> None:
        self.written.append("<newline?>")

    def write_line(self, text: str) -> None:
        self.written.append(text + "\n")

    def write(self, text: str, flush: bool = False) -> None:
        self.written.append(text)


def progress(reporter: FakeReporter | None, verbosity: int = 0) -> Progress:
    plugins = {"terminalreporter": reporter, "capturemanager": None}
    config: Any = SimpleNamespace(
        pluginmanager=SimpleNamespace(get_plugin=plugins.get), get_verbosity=lambda: verbosity
    )
    return Progress(config, "proj")


def test_a_log_gets_one_plain_line_per_change() -> None:
    reporter = FakeReporter(tty=False)
    show = progress(reporter)

    show(None, "starting")
    show("web", "waiting", "HTTP GET :3000/")
    show("web", "waiting", "HTTP GET :3000/")  # unchanged: not repeated
    show("web", "ready", "1.5 s")
    show(None, "stopped", "0.4 s")

    lines = [text for text in reporter.written if text != "<newline?>"]
    assert lines == [
        "compose proj: starting\n",
        "  web            waiting on HTTP GET :3000/\n",
        "  web            ready in 1.5 s\n",
        "compose proj: taken down in 0.4 s\n",
    ]


def test_a_terminal_gets_the_block_redrawn_in_place_cut_to_its_width() -> None:
    reporter = FakeReporter(tty=True)
    show = progress(reporter)

    show(None, "starting")
    show("a-service-with-a-long-name", "waiting", "x" * 80)
    show(None, "ready", "2.0 s")

    redraws = [text for text in reporter.written if "\x1b[2K" in text]
    assert len(redraws) == 3
    assert redraws[1].startswith("\x1b[1F")  # up to the block's first line
    assert redraws[2].startswith("\x1b[2F")
    assert "compose proj: ready in 2.0 s" in redraws[2]
    assert all(len(line) <= 39 + len("\x1b[2K") for line in redraws[2].split("\n")[1:] if line)


@pytest.mark.parametrize(("reporter", "verbosity"), [(None, 0), (FakeReporter(tty=False), -1)])
def test_without_a_terminal_reporter_or_with_q_nothing_is_shown(
    reporter: FakeReporter | None, verbosity: int
) -> None:
    show = progress(reporter, verbosity)

    show(None, "starting")
    show("web", "failed", "exited")

    assert reporter is None or reporter.written == []
