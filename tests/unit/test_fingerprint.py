"""The fingerprint of a stack: .dockerignore rules, build context digests, the whole stack's digest."""

from __future__ import annotations

import hashlib
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from pytest_tel3sis_compose.core.fingerprint import DockerIgnore, build_context_digest, stack_fingerprint


def write(root: Path, relative: str, content: str = "x") -> Path:
    path = root / relative
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(content)
    return path


# -- DockerIgnore: matching ---------------------------------------------------------


def test_star_stays_within_one_path_element() -> None:
    ignore = DockerIgnore(["*.pyc", "docs/*.md"])

    assert ignore.excluded("module.pyc") is True
    assert ignore.excluded("pkg/module.pyc") is False
    assert ignore.excluded("docs/index.md") is True
    assert ignore.excluded("docs/api/index.md") is False
    assert ignore.excluded("module.py") is False


def test_double_star_slash_matches_at_any_depth_including_the_root() -> None:
    ignore = DockerIgnore(["**/secret.txt"])

    assert ignore.excluded("secret.txt") is True
    assert ignore.excluded("a/secret.txt") is True
    assert ignore.excluded("a/b/c/secret.txt") is True
    assert ignore.excluded("a/not-secret.txt") is False
    assert ignore.excluded("secret.txt.bak") is False


def test_a_pattern_matching_a_folder_excludes_what_is_in_it() -> None:
    ignore = DockerIgnore(["build", "/dist/"])

    assert ignore.excluded("build") is True
    assert ignore.excluded("build/lib/module.o") is True
    assert ignore.excluded("dist/pkg.whl") is True
    assert ignore.excluded("builder/module.o") is False  # a name merely starting with it
    assert ignore.excluded("src/build/module.o") is False  # patterns are anchored at the context


def test_negation_reincludes_and_the_last_matching_rule_wins() -> None:
    assert DockerIgnore(["*.md", "!README.md"]).excluded("README.md") is False
    assert DockerIgnore(["*.md", "!README.md"]).excluded("CHANGES.md") is True
    assert DockerIgnore(["*.md", "!README.md", "README.md"]).excluded("README.md") is True
    assert DockerIgnore(["!README.md", "*.md"]).excluded("README.md") is True
    # A negation naming a folder brings back what is in it.
    assert DockerIgnore(["*", "!stack/app/"]).excluded("stack/app/main.py") is False
    assert DockerIgnore(["*", "!stack/app/"]).excluded("stack/other.py") is True


def test_comments_and_blank_lines_are_ignored() -> None:
    ignore = DockerIgnore(["# secret.txt", "", "   ", "\t", "secret.key"])

    assert [pattern for _, _, pattern in ignore.rules] == ["secret.key"]
    assert ignore.excluded("secret.txt") is False
    assert ignore.excluded("secret.key") is True


def test_a_comment_starts_in_the_first_column_as_builds_read_it() -> None:
    ignore = DockerIgnore([" #notes.txt", "# secret.key"])

    assert ignore.excluded("#notes.txt") is True  # an indented `#` line is a rule
    assert ignore.excluded("secret.key") is False


def test_a_byte_order_mark_is_no_part_of_the_first_rule(tmp_path: Path) -> None:
    (tmp_path / ".dockerignore").write_text("\ufeffsecret.key\n")

    assert DockerIgnore.read(tmp_path).excluded("secret.key") is True


def test_no_rules_exclude_nothing() -> None:
    ignore = DockerIgnore([])

    assert ignore.rules == []
    assert ignore.excluded("anything/at/all.py") is False


# -- DockerIgnore: which excluded folders must still be walked ---------------------------


@pytest.mark.parametrize(
    ("patterns", "folder", "expected"),
    [
        (["*", "!stack/app/"], "stack", True),  # the negation is inside this folder
        (["*", "!stack/app/"], "other", False),
        (["*", "!stack/app/"], "stack/lib", False),
        (["*", "!stack/app/"], "stackx", False),  # a longer name, not the folder
        (["*", "!stack/app/", "stack/app/cache"], "stack/app/cache", False),
        (["build", "!build/keep.txt"], "build", True),
        (["*", "!stackx/app"], "stack", False),  # a folder whose name merely starts the same
        (["*", "!ap?/x.py"], "app", True),  # `?` could match the folder's name
        (["*", "![ab]pp/x.py"], "bpp", True),  # so could `[...]`
        (["*", "!*/keep.txt"], "other", True),
        (["*", "!**/keep.txt"], "deep/down", True),
        (["*"], "stack", False),  # no negation at all
        (["*", "stack/app"], "stack", False),  # a plain exclusion reincludes nothing
    ],
)
def test_may_reinclude_under(patterns: list[str], folder: str, expected: bool) -> None:
    assert DockerIgnore(patterns).may_reinclude_under(folder) is expected


# -- DockerIgnore: walking a real context ------------------------------------------------


@pytest.fixture
def app_context(tmp_path: Path) -> Path:
    """Only stack/app is sent, less its __pycache__ folders."""
    write(tmp_path, ".dockerignore", "*\n!stack/app/\n**/__pycache__\n")
    write(tmp_path, "Dockerfile", "FROM scratch\n")
    write(tmp_path, "README.md")
    write(tmp_path, "stack/app/main.py")
    write(tmp_path, "stack/app/pkg/mod.py")
    write(tmp_path, "stack/app/__pycache__/main.cpython-312.pyc")
    write(tmp_path, "stack/app/pkg/__pycache__/mod.cpython-312.pyc")
    write(tmp_path, "stack/other.py")
    write(tmp_path, "stack/lib/util.py")
    write(tmp_path, ".venv/lib/python3.12/site.py")
    write(tmp_path, "node_modules/left-pad/index.js")
    return tmp_path


def test_included_files_are_exactly_the_ones_a_build_sends(app_context: Path) -> None:
    ignore = DockerIgnore.read(app_context)

    assert sorted(ignore.included_files(app_context)) == ["stack/app/main.py", "stack/app/pkg/mod.py"]


def test_included_files_does_not_walk_into_folders_no_negation_can_reach(
    app_context: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    walk = os.walk
    visited: list[str] = []

    def recording_walk(top: Any, *args: Any, **kwargs: Any) -> Iterator[tuple[str, list[str], list[str]]]:
        for root, folders, files in walk(top, *args, **kwargs):
            visited.append(Path(root).relative_to(app_context).as_posix())
            yield root, folders, files  # the same list: pruning it still prunes the walk

    monkeypatch.setattr(os, "walk", recording_walk)

    files = sorted(DockerIgnore.read(app_context).included_files(app_context))

    assert files == ["stack/app/main.py", "stack/app/pkg/mod.py"]
    # `stack` is walked, for the `!stack/app/` inside it; .venv, node_modules, stack/lib
    # and the __pycache__ folders are not.
    assert sorted(visited) == [".", "stack", "stack/app", "stack/app/pkg"]


def test_dockerfile_specific_ignore_file_takes_precedence(tmp_path: Path) -> None:
    write(tmp_path, ".dockerignore", "*.log\n")
    write(tmp_path, "app.Dockerfile.dockerignore", "*.txt\n")
    write(tmp_path, "notes.txt")
    write(tmp_path, "debug.log")

    specific = DockerIgnore.read(tmp_path, "app.Dockerfile")
    assert specific.excluded("notes.txt") is True
    assert specific.excluded("debug.log") is False

    for general in (DockerIgnore.read(tmp_path), DockerIgnore.read(tmp_path, "other.Dockerfile")):
        assert general.excluded("notes.txt") is False
        assert general.excluded("debug.log") is True


def test_no_ignore_file_excludes_nothing(tmp_path: Path) -> None:
    write(tmp_path, "a.txt")
    write(tmp_path, "sub/b.txt")

    ignore = DockerIgnore.read(tmp_path, "Dockerfile")

    assert ignore.rules == []
    assert sorted(ignore.included_files(tmp_path)) == ["a.txt", "sub/b.txt"]


# -- build_context_digest ------------------------------------------------------------


@pytest.fixture
def context(tmp_path: Path) -> Path:
    root = tmp_path / "context"
    write(root, ".dockerignore", "*.log\nsecret/\nDockerfile\n")
    write(root, "Dockerfile", "FROM python:3.12\n")
    write(root, "app.py", "print('hello')\n")
    write(root, "lib/util.py", "X = 1\n")
    write(root, "debug.log", "old log\n")
    write(root, "secret/key", "hunter2\n")
    return root


def test_digest_is_a_stable_sha256(context: Path) -> None:
    first = build_context_digest(context)

    assert first == build_context_digest(context)
    assert len(first) == 64
    assert int(first, 16) >= 0


def test_digest_changes_with_an_included_files_content(context: Path) -> None:
    before = build_context_digest(context)
    write(context, "lib/util.py", "X = 2\n")

    assert build_context_digest(context) != before


def test_digest_changes_when_a_file_is_added(context: Path) -> None:
    before = build_context_digest(context)
    write(context, "lib/new.py", "")

    assert build_context_digest(context) != before


def test_digest_changes_when_a_file_is_renamed(context: Path) -> None:
    before = build_context_digest(context)
    (context / "app.py").rename(context / "b.py")  # same content, same place in the order

    assert build_context_digest(context) != before


def test_digest_changes_with_the_dockerfile_even_when_dockerignore_excludes_it(context: Path) -> None:
    before = build_context_digest(context)
    write(context, "Dockerfile", "FROM python:3.13\n")

    assert build_context_digest(context) != before


def test_digest_follows_the_named_dockerfile(context: Path) -> None:
    write(context, "docker/web.Dockerfile", "FROM node:22\n")
    before = build_context_digest(context, "docker/web.Dockerfile")
    write(context, "Dockerfile", "FROM python:3.13\n")  # not the one this build uses, and ignored

    assert build_context_digest(context, "docker/web.Dockerfile") == before

    write(context, "docker/web.Dockerfile", "FROM node:23\n")

    assert build_context_digest(context, "docker/web.Dockerfile") != before


def test_digest_ignores_changes_to_ignored_files(context: Path) -> None:
    before = build_context_digest(context)
    write(context, "debug.log", "new log\n")
    write(context, "secret/key", "correct horse\n")
    write(context, "secret/more/new-key", "battery staple\n")
    write(context, "another.log", "")

    assert build_context_digest(context) == before


def test_digest_uses_the_dockerfile_specific_ignore_file(context: Path) -> None:
    write(context, "web.Dockerfile", "FROM scratch\n")
    write(context, "web.Dockerfile.dockerignore", "lib/\n")
    before = build_context_digest(context, "web.Dockerfile")

    write(context, "lib/util.py", "X = 3\n")  # ignored by web.Dockerfile.dockerignore
    assert build_context_digest(context, "web.Dockerfile") == before

    write(context, "debug.log", "newer\n")  # ignored only by the general .dockerignore
    assert build_context_digest(context, "web.Dockerfile") != before


def test_dangling_symlink_does_not_raise_and_its_target_counts(context: Path) -> None:
    link = context / "current"
    link.symlink_to("releases/v1")  # no such file
    before = build_context_digest(context)

    link.unlink()
    link.symlink_to("releases/v2")

    assert build_context_digest(context) != before


def test_symlink_to_a_file_counts_as_the_link_not_its_target(context: Path) -> None:
    write(context, "real.txt", "one\n")
    (context / "alias.txt").symlink_to("real.txt")
    before = build_context_digest(context)
    (context / "alias.txt").unlink()
    write(context, "other.txt", "one\n")
    (context / "alias.txt").symlink_to("other.txt")  # same content behind it, another link

    assert build_context_digest(context) != before


def test_repointing_a_symlink_to_a_folder_changes_the_digest(context: Path) -> None:
    write(context, "releases/v1/app.py", "v1\n")
    write(context, "releases/v2/app.py", "v2\n")
    link = context / "current"
    link.symlink_to("releases/v1", target_is_directory=True)
    before = build_context_digest(context)

    link.unlink()
    link.symlink_to("releases/v2", target_is_directory=True)

    assert build_context_digest(context) != before


# -- stack_fingerprint -----------------------------------------------------------------


@pytest.fixture
def stack(tmp_path: Path) -> dict[str, Any]:
    """A `docker compose config` mapping: `web` built (with a folder as additional context), `db` pulled."""
    web = tmp_path / "web"
    write(web, "Dockerfile", "FROM python:3.12\n")
    write(web, "app.py", "print(1)\n")
    shared = tmp_path / "shared"
    write(shared, "common.py", "C = 1\n")
    return {
        "name": "unit",
        "services": {
            "web": {
                "build": {
                    "context": str(web),
                    "dockerfile": "Dockerfile",
                    "additional_contexts": {"shared": str(shared), "base": "docker-image://alpine:3"},
                },
                "image": "unit-web",
            },
            "db": {"image": "postgres:16"},
        },
    }


class Images:
    """The injected `image_id`: reference -> local image id, with the calls recorded."""

    def __init__(self, ids: dict[str, str] | None = None) -> None:
        self.ids = dict(ids or {})
        self.calls: list[str] = []

    def __call__(self, reference: str) -> str | None:
        self.calls.append(reference)
        return self.ids.get(reference)


def test_stack_fingerprint_is_stable_across_calls(stack: dict[str, Any]) -> None:
    images = Images({"postgres:16": "sha256:aaa"})

    first = stack_fingerprint(stack, images)

    assert stack_fingerprint(stack, images) == first
    assert len(first) == 16
    assert int(first, 16) >= 0
    # Only the pulled service's image is looked up: a built one is judged by its source.
    assert images.calls == ["postgres:16", "postgres:16"]


def test_stack_fingerprint_changes_with_the_config(stack: dict[str, Any]) -> None:
    images = Images({"postgres:16": "sha256:aaa"})
    before = stack_fingerprint(stack, images)
    stack["services"]["db"]["environment"] = {"POSTGRES_PASSWORD": "other"}

    assert stack_fingerprint(stack, images) != before


def test_stack_fingerprint_changes_with_a_pulled_images_id(stack: dict[str, Any]) -> None:
    before = stack_fingerprint(stack, Images({"postgres:16": "sha256:aaa"}))

    assert stack_fingerprint(stack, Images({"postgres:16": "sha256:aaa"})) == before
    assert stack_fingerprint(stack, Images({"postgres:16": "sha256:bbb"})) != before
    assert stack_fingerprint(stack, Images()) != before  # not pulled yet


def test_stack_fingerprint_changes_with_a_build_context(stack: dict[str, Any]) -> None:
    images = Images({"postgres:16": "sha256:aaa"})
    before = stack_fingerprint(stack, images)
    write(Path(stack["services"]["web"]["build"]["context"]), "app.py", "print(2)\n")

    assert stack_fingerprint(stack, images) != before


def test_stack_fingerprint_changes_with_an_additional_context_folder(stack: dict[str, Any]) -> None:
    images = Images({"postgres:16": "sha256:aaa"})
    before = stack_fingerprint(stack, images)
    write(Path(stack["services"]["web"]["build"]["additional_contexts"]["shared"]), "common.py", "C = 2\n")

    assert stack_fingerprint(stack, images) != before


def test_the_fingerprint_is_the_one_pure_python_yaml_gives_so_kept_stacks_stay_reusable() -> None:
    config = {
        "name": "p",
        "services": {
            "web": {
                "image": "x",
                "ports": [{"target": 3000, "host_ip": "127.0.0.1"}],
                "x-tel3sis-probe": None,
            },
            "db": {"image": "y", "environment": {"A": "1", "B": "multi\nline"}, "command": ["a", "b c"]},
        },
    }
    images = {"x": "sha256:1", "y": "sha256:2"}.get
    pure = hashlib.sha256(yaml.safe_dump(config, sort_keys=True).encode())
    for name, image in (("db", "y"), ("web", "x")):
        pure.update(f"\0image {name} {images(image)}".encode())

    assert stack_fingerprint(config, images) == pure.hexdigest()[:16]
