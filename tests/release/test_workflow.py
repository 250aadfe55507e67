""".github/workflows/release.yml against the project's release rules.

The workflow writes the image tags in docker/metadata-action's syntax, which the project's Python
cannot call. So this file carries a small model of that syntax: the part the workflow uses, after
metadata-action's src/tag.ts (parsing, defaults, priorities) and src/meta.ts (semver, raw and sha
tags, the latest flavor, de-duplication). Anything outside that part fails the test rather than
being guessed at. The `${{ }}` expressions in the inputs are filled in from the real outputs of
`python -m release check-tag`, as GitHub fills them in from the check job.
"""

from __future__ import annotations

import csv
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import yaml

from release.__main__ import main
from release.image import DESCRIPTION, IMAGE_NAME, REQUIRED_LABELS
from release.versioning import Version, image_tags

WORKFLOW = Path(__file__).resolve().parents[2] / ".github" / "workflows" / "release.yml"
SHA = "89abcdef0123456789abcdef0123456789abcdef"
OWNER = "TEL3SIS-Org"

# --- a model of docker/metadata-action (v5), limited to what release.yml uses -------------------

#: node-semver's `valid` (loose enough for a leading "v" or "="), with build metadata.
_SEMVER = re.compile(
    r"^[v=]?(?P<major>0|[1-9]\d*)\.(?P<minor>0|[1-9]\d*)\.(?P<patch>0|[1-9]\d*)"
    r"(?:-(?P<prerelease>[0-9A-Za-z-]+(?:\.[0-9A-Za-z-]+)*))?(?:\+[0-9A-Za-z-]+(?:\.[0-9A-Za-z-]+)*)?$"
)
#: src/tag.ts DefaultPriorities: tags are processed highest first, so the first is the "main" one.
_PRIORITY = {"semver": 900, "raw": 200, "sha": 100}
#: {{...}} placeholders a semver pattern may use (src/meta.ts hands semver.parse() to handlebars).
_SEMVER_FIELDS = {"version", "major", "minor", "patch", "raw"}


@dataclass
class _Tag:
    type: str
    attrs: dict[str, str]


@dataclass
class _Meta:
    main: str | None = None
    partial: list[str] = field(default_factory=list)
    latest: bool | None = None


def _parse_tag(line: str) -> _Tag:
    """src/tag.ts Parse(): CSV fields of key=value (a bare field is the value), then defaults."""
    fields = next(csv.reader([line]))
    tag = _Tag(type="raw", attrs={})
    for item in fields:
        key, sep, value = item.partition("=")
        if not sep:
            tag.attrs["value"] = item.strip()
        elif key.strip().lower() == "type":
            tag.type = value.strip()
        else:
            tag.attrs[key.strip().lower()] = value.strip()
    if tag.type not in _PRIORITY:
        raise NotImplementedError(f"the model knows semver, raw and sha tags, not {tag.type!r}")
    if tag.type == "semver":
        assert "pattern" in tag.attrs, f"metadata-action: missing pattern attribute for {line}"
        tag.attrs.setdefault("value", "")
    elif tag.type == "raw":
        assert "value" in tag.attrs, f"metadata-action: missing value attribute for {line}"
    elif tag.type == "sha":
        tag.attrs.setdefault("prefix", "sha-")
        tag.attrs.setdefault("format", "short")
        assert tag.attrs["format"] in {"short", "long"}
    tag.attrs.setdefault("enable", "true")
    tag.attrs.setdefault("priority", str(_PRIORITY[tag.type]))
    return tag


def _handlebars(pattern: str, values: dict[str, str]) -> str:
    def field_value(match: re.Match[str]) -> str:
        name = match[1].strip()
        if name not in values:
            raise NotImplementedError(f"the model has no {{{{{name}}}}} placeholder")
        return values[name]

    return re.sub(r"\{\{([^}]*)\}\}", field_value, pattern)


def _set_version(meta: _Meta, value: str, latest: bool) -> None:
    """src/meta.ts setVersion(): the first tag is main, later distinct ones are partial."""
    if not value:
        return
    value = re.sub(r"[^a-zA-Z0-9._-]+", "-", value)
    if meta.main is None:
        meta.main = value
    elif value != meta.main:
        meta.partial.append(value)
    if meta.latest is None:
        meta.latest = latest


def metadata_tags(tags_input: str, flavor_input: str, *, ref: str, sha: str) -> list[str]:
    """The tags metadata-action outputs (without the image name) for a tag ref and commit."""
    flavor = dict(line.strip().split("=", 1) for line in flavor_input.splitlines() if line.strip())
    if set(flavor) - {"latest"}:
        raise NotImplementedError(f"the model knows the latest flavor only, not {sorted(flavor)}")
    latest_flavor = flavor.get("latest", "auto")
    assert latest_flavor in {"auto", "true", "false"}

    lines = [line.split("#", 1)[0].strip() for line in tags_input.splitlines()]
    tags = [_parse_tag(line) for line in lines if line]
    tags.sort(key=lambda tag: -int(tag.attrs["priority"]))  # stable, as Array.sort is in Node

    meta = _Meta()
    for tag in tags:
        enable = tag.attrs["enable"]
        assert enable in {"true", "false"}, f"metadata-action: invalid value for enable attribute: {enable}"
        if enable == "false":
            continue
        if "{{" in tag.attrs.get("value", "") or "{{" in tag.attrs.get("prefix", ""):
            raise NotImplementedError("the model has no global expressions in value or prefix")
        if tag.type == "semver":
            raw = tag.attrs["value"] or ref.removeprefix("refs/tags/")
            parsed = _SEMVER.match(raw)
            if parsed is None:
                continue  # metadata-action warns "is not a valid semver" and skips the tag
            fields = {name: parsed[name] for name in ("major", "minor", "patch")}
            fields["version"] = f"{fields['major']}.{fields['minor']}.{fields['patch']}"
            if parsed["prerelease"]:
                fields["version"] += f"-{parsed['prerelease']}"
            fields["raw"] = raw
            pattern = tag.attrs["pattern"]
            is_raw = pattern.replace(" ", "") == "{{raw}}"
            if parsed["prerelease"] and not is_raw:
                pattern = "{{version}}"  # a pre-release only ever gets its full version
            value = _handlebars(pattern, fields)
            latest = not parsed["prerelease"]
        elif tag.type == "raw":
            value, latest = tag.attrs["value"], False
        else:  # sha
            value, latest = (sha[:7] if tag.attrs["format"] == "short" else sha), False
        value = tag.attrs.get("prefix", "") + value + tag.attrs.get("suffix", "")
        _set_version(meta, value, latest if latest_flavor == "auto" else latest_flavor == "true")

    if meta.main is None:
        return []
    result = [meta.main, *dict.fromkeys(meta.partial)]
    if meta.latest:
        result.append("latest")
    return result


# --- the workflow -------------------------------------------------------------------------------

_EXPRESSION = re.compile(r"\$\{\{\s*(.*?)\s*\}\}")


Outputs = dict[str, dict[str, dict[str, str]]]


def fill_in(text: str, outputs: Outputs) -> str:
    """Fill in ``${{ needs.JOB.outputs.NAME }}`` and ``${{ steps.ID.outputs.NAME }}``, either
    alone or compared with ``== 'literal'`` / ``!= 'literal'``; nothing else."""

    def evaluate(match: re.Match[str]) -> str:
        expression = match[1]
        parsed = re.fullmatch(r"(needs|steps)\.(\w+)\.outputs\.(\w+)(?:\s*(==|!=)\s*'([^']*)')?", expression)
        if parsed is None:
            raise NotImplementedError(f"the model cannot evaluate ${{{{ {expression} }}}}")
        context, owner, name, operator, literal = parsed.groups()
        assert name in outputs[context][owner], f"{context}.{owner} has no output {name}"
        value = outputs[context][owner][name]
        if operator is None:
            return value
        return str((value == literal) == (operator == "==")).lower()

    return _EXPRESSION.sub(evaluate, text)


@pytest.fixture(scope="module")
def workflow() -> dict[str, Any]:
    data: dict[str, Any] = yaml.safe_load(WORKFLOW.read_text())
    data["on"] = data.pop(True, data.get("on"))  # YAML 1.1 reads the key `on` as true
    return data


def step(workflow: dict[str, Any], job: str, uses: str) -> dict[str, Any]:
    found = [s for s in workflow["jobs"][job]["steps"] if s.get("uses", "").startswith(uses + "@")]
    assert len(found) == 1, f"{job} should use {uses} once"
    return found[0]


def run_step(workflow: dict[str, Any], job: str, command: str) -> dict[str, Any]:
    found = [s for s in workflow["jobs"][job]["steps"] if command in s.get("run", "")]
    assert len(found) == 1, f"{job} should run {command!r} once"
    return found[0]


def check_job_outputs(workflow: dict[str, Any], tmp_path: Path, version: str) -> dict[str, str]:
    """The check job's outputs for tag v<version>, made by the real `python -m release check-tag`."""
    pyproject = tmp_path / "pyproject.toml"
    pyproject.write_text(f'[project]\nname = "x"\nversion = "{version}"\n')
    github_output = tmp_path / "github_output"
    github_output.unlink(missing_ok=True)
    status = main(
        ["check-tag", f"v{version}", "--pyproject", str(pyproject), "--owner", OWNER,
         "--revision", SHA, "--github-output", str(github_output)]
    )  # fmt: skip
    assert status == 0
    step_outputs = dict(line.split("=", 1) for line in github_output.read_text().splitlines())
    # The job's outputs are its check step's outputs, mapped as the workflow maps them.
    job_outputs = workflow["jobs"]["check"]["outputs"]
    return {name: fill_in(value, {"steps": {"check": step_outputs}}) for name, value in job_outputs.items()}


@pytest.mark.parametrize("version", ["1.4.2", "1.5.0-rc.1", "2.0.0", "0.1.0"])
def test_metadata_action_tags_are_the_release_rules(
    workflow: dict[str, Any], tmp_path: Path, version: str
) -> None:
    meta = step(workflow, "publish", "docker/metadata-action")["with"]
    needs = {"needs": {"check": check_job_outputs(workflow, tmp_path, version)}}

    tags = metadata_tags(
        fill_in(meta["tags"], needs), meta.get("flavor", ""), ref=f"refs/tags/v{version}", sha=SHA
    )

    assert meta["context"] == "git"  # ref and SHA from the tag's checkout, also for workflow_dispatch
    assert fill_in(meta["images"], needs) == f"ghcr.io/{OWNER.lower()}/{IMAGE_NAME}"
    assert tags == image_tags(Version.parse(version), SHA)


def test_the_model_follows_metadata_action_where_it_differs_from_the_rules() -> None:
    """Without `latest=false` metadata-action adds latest itself; {{major}}.{{minor}} of an rc is the rc."""
    tags = "type=semver,pattern={{version}}\ntype=semver,pattern={{major}}.{{minor}}\ntype=sha"

    assert metadata_tags(tags, "", ref="refs/tags/v1.4.2", sha=SHA) == [
        "1.4.2",
        "1.4",
        "sha-89abcde",
        "latest",
    ]
    assert metadata_tags(tags, "", ref="refs/tags/v1.5.0-rc.1", sha=SHA) == ["1.5.0-rc.1", "sha-89abcde"]
    with pytest.raises(NotImplementedError):
        metadata_tags("type=ref,event=tag", "", ref="refs/tags/v1.4.2", sha=SHA)


def test_labels_cover_what_the_rehearsal_checks(workflow: dict[str, Any]) -> None:
    meta = step(workflow, "publish", "docker/metadata-action")["with"]
    custom = dict(line.split("=", 1) for line in meta["labels"].splitlines() if line.strip())
    # metadata-action always sets these eight; the custom ones override by key.
    defaults = {
        f"org.opencontainers.image.{key}"
        for key in ("title", "description", "url", "source", "version", "created", "revision", "licenses")
    }

    assert set(REQUIRED_LABELS) <= defaults | set(custom)
    assert custom["org.opencontainers.image.title"] == IMAGE_NAME
    assert custom["org.opencontainers.image.description"] == DESCRIPTION
    build = step(workflow, "publish", "docker/build-push-action")["with"]
    assert build["labels"] == "${{ steps.meta.outputs.labels }}"
    assert build["tags"] == "${{ steps.meta.outputs.tags }}"


def test_triggers(workflow: dict[str, Any]) -> None:
    assert workflow["on"]["push"] == {"tags": ["v*"]}
    assert workflow["on"]["workflow_dispatch"]["inputs"]["tag"]["required"] is True


def test_the_version_check_and_notes_are_the_projects_code(workflow: dict[str, Any]) -> None:
    check = run_step(workflow, "check", "python -m release check-tag")
    notes = run_step(workflow, "release", "python -m release notes")
    create = run_step(workflow, "release", "gh release create")

    assert '"$TAG"' in check["run"]
    assert "--github-output" in check["run"]
    assert "--output" in notes["run"]
    for flag in ("--verify-tag", "--generate-notes", "--notes-file", "--prerelease"):
        assert flag in create["run"]
    assert create["env"]["PRERELEASE"] == "${{ needs.check.outputs.prerelease }}"
    assert create["env"]["GH_TOKEN"] == "${{ github.token }}"


def test_nothing_is_published_before_the_tests_pass(workflow: dict[str, Any]) -> None:
    jobs = workflow["jobs"]

    assert set(jobs["publish"]["needs"]) >= {"check", "lint", "unit", "compose"}
    assert "publish" in jobs["release"]["needs"]
    for job in ("lint", "unit", "compose"):
        assert jobs[job]["needs"] == "check"
    assert "make integration" in run_step(workflow, "compose", "make integration")["run"]
    assert "make unit" in run_step(workflow, "unit", "make unit")["run"]


def test_least_privilege(workflow: dict[str, Any]) -> None:
    jobs = workflow["jobs"]

    assert workflow["permissions"] == {}
    assert jobs["publish"]["permissions"] == {
        "contents": "read",
        "packages": "write",
        "id-token": "write",
        "attestations": "write",
    }
    assert jobs["release"]["permissions"] == {"contents": "write"}
    for name, job in jobs.items():
        if name not in {"publish", "release"}:
            assert job["permissions"] == {"contents": "read"}, name


def test_build_sbom_provenance_attestation_and_no_cache(workflow: dict[str, Any]) -> None:
    build = step(workflow, "publish", "docker/build-push-action")
    attest = step(workflow, "publish", "actions/attest-build-provenance")

    assert build["with"]["push"] is True
    assert build["with"]["sbom"] is True
    assert build["with"]["provenance"] == "mode=max"
    assert not {"cache-from", "cache-to"} & set(build["with"])
    assert attest["with"]["subject-digest"] == f"${{{{ steps.{build['id']}.outputs.digest }}}}"
    assert attest["with"]["subject-name"] == "${{ needs.check.outputs.image }}"
    for job in workflow["jobs"].values():
        for s in job["steps"]:
            assert not s.get("uses", "").startswith("actions/cache@")
            assert "cache" not in s.get("with", {}), s


def test_actions_are_pinned_to_commits_with_their_version() -> None:
    uses = re.findall(r"^\s*(?:-\s*)?uses:\s*(\S+)(.*)$", WORKFLOW.read_text(), re.MULTILINE)

    assert uses
    for action, comment in uses:
        assert re.fullmatch(r"[\w.-]+/[\w.-]+@[0-9a-f]{40}", action), action
        assert re.fullmatch(r"\s*# v\d+\.\d+\.\d+", comment), f"{action} needs a # vX.Y.Z comment"


def test_checkouts_keep_no_credentials_and_scripts_take_no_expressions(workflow: dict[str, Any]) -> None:
    for job in workflow["jobs"].values():
        for s in job["steps"]:
            if s.get("uses", "").startswith("actions/checkout@"):
                assert s["with"]["persist-credentials"] is False
            assert "${{" not in s.get("run", ""), f"pass values through env: {s.get('name')}"
