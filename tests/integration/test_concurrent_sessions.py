"""Several pytest sessions on one machine, with the same compose files, at the same time."""

from __future__ import annotations

import os
import secrets
import subprocess
import sys
from pathlib import Path

from tests.integration.conftest import leftovers

REPO = Path(__file__).resolve().parents[2]


def test_three_concurrent_sessions_on_the_reference_stack_all_pass() -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("COVERAGE_PROCESS")}
    projects = [f"concurrent-{secrets.token_hex(3)}-{n}" for n in range(3)]
    sessions = [
        subprocess.Popen(
            [
                sys.executable,
                "-m",
                "pytest",
                "-p",
                "no:cacheprovider",
                "-q",
                "tests/integration/test_reference_stack.py",
                "--compose-project-name",
                project,
            ],
            cwd=REPO,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        for project in projects
    ]
    outputs = [session.communicate(timeout=600)[0] for session in sessions]

    for session, output in zip(sessions, outputs, strict=True):
        assert session.returncode == 0, output
        assert "6 passed" in output
    assert [leftovers(project) for project in projects] == [[], [], []]
