"""What every workflow pins, and who keeps the pins current.

Hosted runners no longer provide Node 20. Which release of an action first runs on Node 24 was read
from each action's own action.yml (``runs.using``) at its release tags, and for the composite and
Docker actions from the actions they call; NODE24_SINCE records it. A pin below its entry, or an
action without one, fails here until someone has checked it the same way.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import yaml

from release.versioning import read_toml

ROOT = Path(__file__).resolve().parents[2]
WORKFLOWS = sorted((ROOT / ".github" / "workflows").glob("*.yml"))
DEPENDABOT = ROOT / ".github" / "dependabot.yml"

#: The first release of each action whose action.yml (and every action it calls) runs on Node 24.
#: actions/attest-build-provenance is absent on purpose: it is only a wrapper over actions/attest.
NODE24_SINCE = {
    "actions/checkout": (5, 0, 0),
    "actions/setup-python": (6, 0, 0),
    "actions/upload-artifact": (6, 0, 0),
    "actions/download-artifact": (7, 0, 0),
    "actions/attest": (3, 0, 0),
    "docker/setup-buildx-action": (4, 0, 0),
    "docker/login-action": (4, 0, 0),
    "docker/metadata-action": (6, 0, 0),
    "docker/build-push-action": (7, 0, 0),
    # A composite action: a Docker container action, and actions/setup-python, v6 since 1.14.1.
    "pypa/gh-action-pypi-publish": (1, 14, 1),
}

#: Tools a release waits on (lint, the workflow checks, building and checking the package): a new
#: release of one of them must come through a pull request, not stop a tag from publishing.
RELEASE_TOOLS = ("ruff", "mypy", "zizmor", "check-jsonschema", "build", "twine")

_USES = re.compile(r"^\s*(?:-\s*)?uses:\s*(?P<action>[^@\s]+)@(?P<ref>\S+)(?P<comment>.*)$", re.MULTILINE)


def pins() -> list[tuple[str, str, str, str]]:
    """(workflow, action, ref, comment) for every `uses:` line of every workflow."""
    found = []
    for workflow in WORKFLOWS:
        for match in _USES.finditer(workflow.read_text()):
            found.append((workflow.name, match["action"], match["ref"], match["comment"].strip()))
    return found


def test_there_are_workflows_and_pins() -> None:
    assert {w.name for w in WORKFLOWS} >= {"ci.yml", "release.yml"}
    assert len(pins()) > 20


@pytest.mark.parametrize(("workflow", "action", "ref", "comment"), pins())
def test_each_action_is_pinned_to_a_commit_of_a_release_that_runs_on_node_24(
    workflow: str, action: str, ref: str, comment: str
) -> None:
    assert re.fullmatch(r"[0-9a-f]{40}", ref), f"{workflow}: {action} must be pinned to a full commit SHA"
    version = re.fullmatch(r"# v(\d+)\.(\d+)\.(\d+)", comment)
    assert version, f"{workflow}: {action}@{ref[:7]} needs a '# vX.Y.Z' comment naming its release"
    assert action in NODE24_SINCE, f"{action}: check its action.yml for Node 24, then add it to NODE24_SINCE"
    since = "v" + ".".join(map(str, NODE24_SINCE[action]))
    assert tuple(int(part) for part in version.groups()) >= NODE24_SINCE[action], (
        f"{workflow}: {action} {comment[2:]} runs on Node 20; Node 24 since {since}"
    )


def test_an_action_is_pinned_alike_everywhere() -> None:
    seen: dict[str, set[tuple[str, str]]] = {}
    for _workflow, action, ref, comment in pins():
        seen.setdefault(action, set()).add((ref, comment))

    assert {action: refs for action, refs in seen.items() if len(refs) > 1} == {}
    assert "actions/attest-build-provenance" not in seen  # actions/attest itself


def test_dependabot_keeps_the_actions_and_the_python_dependencies_current() -> None:
    config = yaml.safe_load(DEPENDABOT.read_text())
    updates = {update["package-ecosystem"]: update for update in config["updates"]}

    assert config["version"] == 2
    assert set(updates) == {"github-actions", "pip"}
    assert updates["github-actions"]["directory"] == "/"
    assert {"/", "/stack"} <= set(updates["pip"]["directories"])  # pyproject.toml, stack/requirements.txt
    for update in updates.values():
        assert update["schedule"]["interval"] in {"daily", "weekly"}
        assert update["cooldown"]["default-days"] >= 1  # a new release settles before it is proposed


def test_the_tools_that_gate_a_release_are_pinned() -> None:
    dev = read_toml(ROOT / "pyproject.toml")["project"]["optional-dependencies"]["dev"]
    pinned = {match[1] for d in dev if (match := re.fullmatch(r"([\w-]+)==[\w.]+", d))}

    assert set(RELEASE_TOOLS) <= set(pinned), f"pin each of {RELEASE_TOOLS} with =="
    groups = yaml.safe_load(DEPENDABOT.read_text())["updates"]
    release_group = next(u for u in groups if u["package-ecosystem"] == "pip")["groups"]["release-tools"]
    assert set(release_group["patterns"]) == set(RELEASE_TOOLS)
