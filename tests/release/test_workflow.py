""".github/workflows/release.yml against the project's release rules.

The workflow writes the image tags in docker/metadata-action's syntax, which the project's Python
cannot call. So this file carries a small model of that syntax: the part the workflow uses, after
metadata-action's src/tag.ts (parsing, defaults, priorities) and src/meta.ts (semver, raw and sha
tags, the latest flavor, de-duplication). Anything outside that part fails the test rather than
being guessed at. The `${{ }}` expressions in the inputs are filled in from the real outputs of
`python -m release check-tag`, as GitHub fills them in from the check job.

The rest checks the workflow's structure: the order of its jobs (nothing is published before the
tests pass, no tag names a digest before the integration tests ran against it, the release page
comes last), who may sign and publish, and that the image is built once and the package built once.
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
from release.image import DESCRIPTION, IMAGE_NAME, INDEX_ANNOTATIONS, LICENSE, REQUIRED_LABELS
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
        parsed = re.fullmatch(
            r"(needs|steps)\.([\w-]+)\.outputs\.([\w-]+)(?:\s*(==|!=)\s*'([^']*)')?", expression
        )
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


#: The metadata-action defaults for these OCI keys (src/meta.ts getOCIAnnotationsWithCustoms):
#: labels and annotations alike get them; custom values override by key.
_OCI_DEFAULTS = {
    f"org.opencontainers.image.{key}"
    for key in ("title", "description", "url", "source", "version", "created", "revision", "licenses")
}


def key_values(text: str) -> dict[str, str]:
    return dict(line.split("=", 1) for line in text.splitlines() if line.strip())


def ancestors(workflow: dict[str, Any], job: str) -> set[str]:
    """Every job `job` waits for, directly or through others."""
    needs = workflow["jobs"][job].get("needs", [])
    direct = {needs} if isinstance(needs, str) else set(needs)
    return direct.union(*(ancestors(workflow, name) for name in direct))


@pytest.mark.parametrize("version", ["1.4.2", "1.5.0-rc.1", "2.0.0", "0.1.0"])
def test_metadata_action_tags_are_the_release_rules(
    workflow: dict[str, Any], tmp_path: Path, version: str
) -> None:
    meta = step(workflow, "image", "docker/metadata-action")["with"]
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


def test_the_check_job_passes_on_the_python_version(workflow: dict[str, Any], tmp_path: Path) -> None:
    outputs = check_job_outputs(workflow, tmp_path, "1.5.0-rc.1")

    assert outputs["python-version"] == "1.5.0rc1"
    pypi = workflow["jobs"]["pypi"]["environment"]
    assert fill_in(pypi["url"], {"needs": {"check": outputs}}) == (
        "https://pypi.org/project/pytest-tel3sis-compose/1.5.0rc1/"
    )


def test_labels_cover_what_the_rehearsal_checks(workflow: dict[str, Any]) -> None:
    meta = step(workflow, "image", "docker/metadata-action")["with"]
    custom = key_values(meta["labels"])

    assert set(REQUIRED_LABELS) <= _OCI_DEFAULTS | set(custom)
    assert custom["org.opencontainers.image.title"] == IMAGE_NAME
    assert custom["org.opencontainers.image.description"] == DESCRIPTION
    assert custom["org.opencontainers.image.licenses"] == LICENSE
    build = step(workflow, "image", "docker/build-push-action")["with"]
    assert build["labels"] == "${{ steps.meta.outputs.labels }}"


def test_the_image_index_carries_the_annotations_the_package_page_reads(workflow: dict[str, Any]) -> None:
    meta = step(workflow, "image", "docker/metadata-action")
    custom = key_values(meta["with"]["annotations"])
    build = step(workflow, "image", "docker/build-push-action")["with"]

    # Not only on the manifest (metadata-action's default level): on the index too.
    assert "index" in meta["env"]["DOCKER_METADATA_ANNOTATIONS_LEVELS"].split(",")
    assert build["annotations"] == "${{ steps.meta.outputs.annotations }}"
    assert set(INDEX_ANNOTATIONS) <= _OCI_DEFAULTS | set(custom)
    # The defaults for these come from the repository's settings, which may be empty.
    assert custom["org.opencontainers.image.description"] == DESCRIPTION
    assert custom["org.opencontainers.image.licenses"] == LICENSE
    assert custom["org.opencontainers.image.title"] == IMAGE_NAME


def test_triggers(workflow: dict[str, Any]) -> None:
    assert workflow["on"]["push"] == {"tags": ["v*"]}
    assert workflow["on"]["workflow_dispatch"]["inputs"]["tag"]["required"] is True


def test_the_version_check_and_notes_are_the_projects_code(workflow: dict[str, Any]) -> None:
    check = run_step(workflow, "check", "python -m release check-tag")
    notes = run_step(workflow, "release", "python -m release notes")
    create = run_step(workflow, "release", "gh release create")

    assert '"$TAG"' in check["run"]
    assert "--github-output" in check["run"]
    for flag in ("--output", "--repository", "--dist dist", "--attested"):
        assert flag in notes["run"]
    assert notes["env"]["DIGEST"] == "${{ needs.image.outputs.digest }}"
    for flag in ("--verify-tag", "--generate-notes", "--notes-file", "--prerelease"):
        assert flag in create["run"]
    assert create["run"].rstrip().endswith("dist/*")  # the wheel and sdist, attached
    assert create["env"]["PRERELEASE"] == "${{ needs.check.outputs.prerelease }}"
    assert create["env"]["GH_TOKEN"] == "${{ github.token }}"


def test_nothing_is_published_before_the_tests_pass(workflow: dict[str, Any]) -> None:
    jobs = workflow["jobs"]
    gates = {"check", "lint", "unit", "compose", "dist"}

    for job in ("lint", "unit", "compose", "dist"):
        assert jobs[job]["needs"] == "check"
    for publishing in ("image", "attest", "promote", "pypi", "release"):
        assert gates <= ancestors(workflow, publishing), publishing
    assert "make integration" in run_step(workflow, "compose", "make integration")["run"]
    assert "make unit" in run_step(workflow, "unit", "make unit")["run"]
    assert "make lint" in run_step(workflow, "lint", "make lint")["run"]
    assert "make dist" in run_step(workflow, "dist", "make dist")["run"]


def test_the_compose_gate_runs_every_shard(workflow: dict[str, Any]) -> None:
    compose = workflow["jobs"]["compose"]
    shards = compose["strategy"]["matrix"]["shard"]
    integration = run_step(workflow, "compose", "make integration")

    assert shards == list(range(1, len(shards) + 1))
    assert integration["env"]["SHARD"] == "${{ matrix.shard }}/${{ strategy.job-total }}"
    assert compose["strategy"].get("fail-fast", True) is True  # one failing shard stops the release


def test_tests_run_once(workflow: dict[str, Any]) -> None:
    """make unit already runs tests/release; no other step runs those tests again."""
    commands = [s.get("run", "") for job in workflow["jobs"].values() for s in job["steps"]]

    assert [c for c in commands if "tests/release" in c or "pytest" in c] == []
    assert sum("make unit" in c for c in commands) == 1
    assert sum("make integration" in c for c in commands) == 1


def test_the_integration_tests_run_against_the_pushed_digest_before_any_tag(workflow: dict[str, Any]) -> None:
    jobs = workflow["jobs"]
    check = run_step(workflow, "image-test", "make image-check")
    commands = " ".join(s.get("run", "") for s in jobs["image-test"]["steps"])

    assert (
        check["env"]["TEL3SIS_IMAGE"] == "${{ needs.check.outputs.image }}@${{ needs.image.outputs.digest }}"
    )
    assert 'TEL3SIS_IMAGE="$TEL3SIS_IMAGE"' in check["run"]
    # Pulled, not built: nothing in the job builds an image.
    assert not any(
        s.get("uses", "").startswith("docker/build-push-action@") for s in jobs["image-test"]["steps"]
    )
    assert "make image " not in commands + " "
    assert "docker build" not in commands
    # Only then are tags given, the PyPI upload made and the release page created.
    for job in ("promote", "pypi", "release"):
        assert "image-test" in ancestors(workflow, job), job
    assert {"promote", "pypi"} <= ancestors(workflow, "release")


def test_the_image_is_built_once_and_pushed_by_digest_alone(workflow: dict[str, Any]) -> None:
    builds = [
        (name, s)
        for name, job in workflow["jobs"].items()
        for s in job["steps"]
        if s.get("uses", "").startswith("docker/build-push-action@")
    ]

    assert [name for name, _ in builds] == ["image"]
    build = builds[0][1]["with"]
    outputs = dict(item.split("=", 1) for item in build["outputs"].split(","))
    assert outputs["type"] == "image"
    assert outputs["name"] == "${{ needs.check.outputs.image }}"
    assert outputs["push-by-digest"] == "true"
    assert outputs["push"] == "true"
    assert "tags" not in build  # no tag names the digest before image-test passed
    assert build["sbom"] is True
    assert build["provenance"] == "mode=max"
    assert build["no-cache"] is True
    assert not {"cache-from", "cache-to"} & set(build)
    assert (
        workflow["jobs"]["image"]["outputs"]["digest"]
        == f"${{{{ steps.{builds[0][1]['id']}.outputs.digest }}}}"
    )


def test_promote_tags_the_tested_digest_with_the_metadata_tags(workflow: dict[str, Any]) -> None:
    promote = run_step(workflow, "promote", "imagetools create")

    assert workflow["jobs"]["image"]["outputs"]["tags"] == "${{ steps.meta.outputs.tags }}"
    assert promote["env"]["TAGS"] == "${{ needs.image.outputs.tags }}"
    assert promote["env"]["DIGEST"] == "${{ needs.image.outputs.digest }}"
    assert '"$IMAGE@$DIGEST"' in promote["run"]
    assert "imagetools inspect" in promote["run"]  # every tag read back


def test_attestation_is_of_the_pushed_digest(workflow: dict[str, Any]) -> None:
    attest = step(workflow, "attest", "actions/attest")["with"]

    assert attest["subject-digest"] == "${{ needs.image.outputs.digest }}"
    assert attest["subject-name"] == "${{ needs.check.outputs.image }}"
    assert attest["push-to-registry"] is True


def test_the_python_package_is_built_once_and_published_by_trusted_publishing(
    workflow: dict[str, Any],
) -> None:
    jobs = workflow["jobs"]
    upload = step(workflow, "dist", "actions/upload-artifact")["with"]
    publish = step(workflow, "pypi", "pypa/gh-action-pypi-publish")
    commands = [s.get("run", "") for job in jobs.values() for s in job["steps"]]
    builders = ("make dist", "release.dist", "python -m build", "pip wheel", "setup.py")

    # Only make dist builds it (python -m build inside); pypi and release take its files.
    assert [c for c in commands if any(b in c for b in builders)] == ["make dist"]
    assert upload["name"] == "dist"
    assert upload["path"] == "dist/"
    for job in ("pypi", "release"):
        download = step(workflow, job, "actions/download-artifact")["with"]
        assert download == {"name": "dist", "path": "dist"}, job
    assert "password" not in publish.get("with", {})  # a token exchanged for the OIDC one, no secret
    assert publish["with"]["packages-dir"] == "dist/"


def test_least_privilege(workflow: dict[str, Any]) -> None:
    jobs = workflow["jobs"]

    assert workflow["permissions"] == {}
    assert jobs["image"]["permissions"] == {"contents": "read", "packages": "write"}
    assert jobs["attest"]["permissions"] == {
        "id-token": "write",
        "attestations": "write",
        "packages": "write",
        "artifact-metadata": "write",
    }
    assert jobs["image-test"]["permissions"] == {"contents": "read", "packages": "read"}
    assert jobs["promote"]["permissions"] == {"packages": "write"}
    assert jobs["pypi"]["permissions"] == {"id-token": "write"}
    assert jobs["release"]["permissions"] == {"contents": "write"}
    for name, job in jobs.items():
        if name not in {"image", "attest", "image-test", "promote", "pypi", "release"}:
            assert job["permissions"] == {"contents": "read"}, name


def test_only_the_signing_jobs_get_an_oidc_token_and_they_run_no_project_code(
    workflow: dict[str, Any],
) -> None:
    signing = {
        name for name, job in workflow["jobs"].items() if job["permissions"].get("id-token") == "write"
    }

    assert signing == {"attest", "pypi"}
    for name in signing:
        for s in workflow["jobs"][name]["steps"]:
            assert "run" not in s, f"{name} runs a script"
            assert not s["uses"].startswith("actions/checkout@"), f"{name} checks out the project"


def test_publishing_jobs_run_in_an_environment(workflow: dict[str, Any]) -> None:
    environments = {name: job.get("environment") for name, job in workflow["jobs"].items()}

    assert environments.pop("pypi")["name"] == "pypi"
    for name in ("image", "attest", "promote", "release"):
        assert environments.pop(name) == "release", name
    assert set(environments.values()) == {None}  # the test jobs need no approval


def test_no_cache_is_restored(workflow: dict[str, Any]) -> None:
    for job in workflow["jobs"].values():
        for s in job["steps"]:
            assert not s.get("uses", "").startswith("actions/cache@")
            assert "cache" not in s.get("with", {}), s


def test_checkouts_keep_no_credentials_and_scripts_take_no_expressions(workflow: dict[str, Any]) -> None:
    for job in workflow["jobs"].values():
        for s in job["steps"]:
            if s.get("uses", "").startswith("actions/checkout@"):
                assert s["with"]["persist-credentials"] is False
            assert "${{" not in s.get("run", ""), f"pass values through env: {s.get('name')}"
