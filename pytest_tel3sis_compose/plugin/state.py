"""What the plugin keeps for one pytest session: its options, its engine, and its stacks."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from pytest_tel3sis_compose.core.boundary import Engine
from pytest_tel3sis_compose.core.settings import unique_project_name
from pytest_tel3sis_compose.core.stack import ComposeStack
from pytest_tel3sis_compose.engine import DockerEngine
from pytest_tel3sis_compose.plugin.options import SessionOptions, read_options

#: Makes the session's engine; the plugin's own unit tests put a fake here.
make_engine: Callable[[], Engine] = DockerEngine


@dataclass
class StackInUse:
    """A stack a fixture provides: under its fixture's name, with where it was declared."""

    fixture: str
    stack: ComposeStack
    declared_in: str
    shared: bool = False
    """Shared by pytest-xdist workers (a session-scoped stack in a worker)."""
    start_failed: bool = False
    failures: int = 0
    """Failed reports (setup, call or teardown) of tests that used it."""
    bundle: Path | None = None
    """Where its forensics bundle was written, if it failed."""


@dataclass
class SessionState:
    options: SessionOptions
    project_name: str = field(default_factory=unique_project_name)
    """The session's own project name, for the stack the options configure."""
    current_item: pytest.Item | None = None
    """The test being set up: the first test using a stack says what of it starts."""
    stacks: list[StackInUse] = field(default_factory=list)
    """Every stack a fixture provided this session, in order, the ones taken down included."""
    _engine: Engine | None = None

    @property
    def engine(self) -> Engine:
        """Made on first use: a session that uses no stack never asks for it."""
        if self._engine is None:
            self._engine = make_engine()
        return self._engine

    def in_use(self, fixture: str) -> StackInUse | None:
        """The latest stack the fixture provided."""
        return next((used for used in reversed(self.stacks) if used.fixture == fixture), None)


STATE = pytest.StashKey[SessionState]()


def stacks_of(item: pytest.Item) -> list[StackInUse]:
    """The stacks a test uses, by the fixtures it asks for."""
    state = state_of(item.config)
    found = (state.in_use(fixture) for fixture in getattr(item, "fixturenames", ()))
    return [used for used in found if used is not None]


def state_of(config: pytest.Config) -> SessionState:
    """The session's state, made on first use; ConfigError for a bad option or ini value."""
    if STATE not in config.stash:
        config.stash[STATE] = SessionState(read_options(config))
    return config.stash[STATE]
