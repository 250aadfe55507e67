"""A stack's fingerprint: what must be unchanged for a kept stack to be reused.

It covers the resolved compose configuration, the image of every service
that pulls one, and for every service built from source, the files its build
would send (the context, less what .dockerignore excludes) and its Dockerfile.
Building is what this saves, so the fingerprint must see what a build would.
"""

from __future__ import annotations

import hashlib
import os
import re
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from typing import Any

import yaml

# libyaml's safe dumper where PyYAML has it: the same text (so the same fingerprints), a quarter of the CPU.
_YAML_DUMPER = getattr(yaml, "CSafeDumper", yaml.SafeDumper)


def stack_fingerprint(config: Mapping[str, Any], image_id: Callable[[str], str | None]) -> str:
    digest = hashlib.sha256(yaml.dump(dict(config), Dumper=_YAML_DUMPER, sort_keys=True).encode())
    for name, service in sorted(dict(config.get("services") or {}).items()):
        build = service.get("build")
        if build:
            context = Path(build.get("context", "."))
            digest.update(f"\0build {name} {build_context_digest(context, build.get('dockerfile'))}".encode())
            for extra, location in sorted((build.get("additional_contexts") or {}).items()):
                if Path(str(location)).is_dir():  # a folder; other kinds (images, URLs) are in the config
                    digest.update(f"\0context {extra} {build_context_digest(Path(location))}".encode())
        elif service.get("image"):
            digest.update(f"\0image {name} {image_id(service['image'])}".encode())
    return digest.hexdigest()[:16]


def build_context_digest(context: Path, dockerfile: str | None = None) -> str:
    """sha256 over the context's files a build would send, and over the Dockerfile."""
    digest = hashlib.sha256()
    ignore = DockerIgnore.read(context, dockerfile)
    for path in sorted(ignore.included_files(context)):
        digest.update(b"\0" + path.encode() + b"\0")
        digest.update(_file_digest(context / path))
    dockerfile_path = context / (dockerfile or "Dockerfile")
    if dockerfile_path.is_file():
        digest.update(b"\0Dockerfile\0" + _file_digest(dockerfile_path))
    return digest.hexdigest()


def _file_digest(path: Path) -> bytes:
    if path.is_symlink():  # the link itself is what the build sends
        return hashlib.sha256(b"link:" + str(path.readlink()).encode()).digest()
    try:
        return hashlib.sha256(path.read_bytes()).digest()
    except OSError as exc:  # unreadable: the build would fail on it too; count the failure
        return hashlib.sha256(f"unreadable:{exc.errno}".encode()).digest()


class DockerIgnore:
    """The .dockerignore rules that decide which context files a build sends.

    Patterns are matched against slash-separated paths relative to the
    context; `*` stays within one path element, `**` spans any number; a
    pattern that matches a folder excludes what is in it; `!` re-includes;
    the last matching pattern wins.
    """

    def __init__(self, patterns: list[str]) -> None:
        self.rules: list[tuple[bool, re.Pattern[str], str]] = []
        for number, raw in enumerate(patterns):
            if number == 0:
                raw = raw.removeprefix("\ufeff")  # a byte order mark is no part of the rule
            if raw.startswith("#"):  # a comment only from the first column: " #x" is a rule
                continue
            line = raw.strip()
            if not line:
                continue
            negated = line.startswith("!")
            pattern = os.path.normpath(line[1:].strip() if negated else line).lstrip("/")
            self.rules.append((negated, re.compile(_translate(pattern)), pattern))

    @classmethod
    def read(cls, context: Path, dockerfile: str | None = None) -> DockerIgnore:
        # BuildKit reads <Dockerfile>.dockerignore, where there is one, instead.
        candidates = [context / f"{dockerfile}.dockerignore"] if dockerfile else []
        for path in [*candidates, context / ".dockerignore"]:
            if path.is_file():
                return cls(path.read_text().splitlines())
        return cls([])

    def excluded(self, relative: str) -> bool:
        parts = relative.split("/")
        prefixes = ["/".join(parts[: i + 1]) for i in range(len(parts))]
        verdict = False
        for negated, regex, _ in self.rules:
            if any(regex.fullmatch(prefix) for prefix in prefixes):
                verdict = not negated
        return verdict

    def may_reinclude_under(self, folder: str) -> bool:
        """Whether a `!` rule could bring back something inside an excluded folder."""
        return any(
            negated and (pattern.startswith(folder + "/") or any(char in pattern for char in "*?["))
            for negated, _, pattern in self.rules
        )

    def included_files(self, context: Path) -> Iterator[str]:
        for root, folders, files in os.walk(context):
            base = Path(root).relative_to(context).as_posix()
            base = "" if base == "." else base + "/"
            # Skip excluded folders unless a `!` rule could reach inside them:
            # walking a large ignored tree (a virtualenv) would cost seconds.
            # A link to a folder is sent as the link: count it as a file, never walk it.
            links = [f for f in folders if Path(root, f).is_symlink()]
            folders[:] = [
                f
                for f in folders
                if f not in links and (not self.excluded(base + f) or self.may_reinclude_under(base + f))
            ]
            for name in [*files, *links]:
                if not self.excluded(base + name):
                    yield base + name


def _translate(pattern: str) -> str:
    out = []
    i = 0
    while i < len(pattern):
        char = pattern[i]
        if pattern.startswith("**/", i):
            out.append("(?:.*/)?")  # any number of folders, none included
            i += 3
            continue
        if pattern.startswith("**", i):
            out.append(".*")
            i += 2
            continue
        if char == "*":
            out.append("[^/]*")
        elif char == "?":
            out.append("[^/]")
        elif char == "[":
            end = pattern.find("]", i)
            if end == -1:
                out.append(re.escape(char))
            else:
                out.append(pattern[i : end + 1])
                i = end
        else:
            out.append(re.escape(char))
        i += 1
    return "".join(out)
