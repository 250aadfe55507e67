"""The version check and the image tag rules, for the release workflow and the rehearsal alike."""

from __future__ import annotations

import re
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

#: Semantic Versioning 2.0.0 (semver.org's own pattern), without build metadata: a ``+`` is not
#: allowed in a Docker tag, so a version with one could not be published as its own tag.
_SEMVER = re.compile(
    r"(?P<major>0|[1-9]\d*)\.(?P<minor>0|[1-9]\d*)\.(?P<patch>0|[1-9]\d*)"
    r"(?:-(?P<prerelease>(?:0|[1-9]\d*|\d*[a-zA-Z-][0-9a-zA-Z-]*)"
    r"(?:\.(?:0|[1-9]\d*|\d*[a-zA-Z-][0-9a-zA-Z-]*))*))?"
)
_REVISION = re.compile(r"[0-9a-f]{7,64}")
#: The pre-release parts that also name a Python pre-release (PEP 440): alpha, beta and release
#: candidates, numbered or not (``rc.1``, ``rc1``, ``beta``). The plugin goes to PyPI under the
#: same version as the image, so a pre-release that PEP 440 cannot spell cannot be released.
_PYTHON_PRERELEASE = re.compile(r"(?P<kind>a|alpha|b|beta|c|rc|pre|preview)[.-]?(?P<number>0|[1-9]\d*)?")
_PEP440_KIND = {
    "a": "a",
    "alpha": "a",
    "b": "b",
    "beta": "b",
    "c": "rc",
    "rc": "rc",
    "pre": "rc",
    "preview": "rc",
}
SHORT_SHA_LENGTH = 7
TAG_PREFIX = "v"


class ReleaseError(Exception):
    """A release rule is not met; the message says which and what to do."""


class TagMismatchError(ReleaseError):
    """The git tag does not name the package version."""


@dataclass(frozen=True)
class Version:
    """A release version: ``MAJOR.MINOR.PATCH`` with an optional ``-pre.release`` part."""

    major: int
    minor: int
    patch: int
    prerelease: str = ""

    @classmethod
    def parse(cls, text: str) -> Version:
        match = _SEMVER.fullmatch(text)
        if match is None:
            raise ReleaseError(
                f"{text!r} is not a release version: expected MAJOR.MINOR.PATCH with an optional "
                "pre-release part, such as 1.4.2 or 1.5.0-rc.1 (semver.org, no build metadata)"
            )
        prerelease = match["prerelease"] or ""
        if prerelease and _PYTHON_PRERELEASE.fullmatch(prerelease.lower()) is None:
            raise ReleaseError(
                f"{text!r} has a pre-release part Python packages cannot carry (PEP 440): "
                "use alpha.N, beta.N or rc.N, such as 1.5.0-rc.1"
            )
        return cls(
            major=int(match["major"]),
            minor=int(match["minor"]),
            patch=int(match["patch"]),
            prerelease=prerelease,
        )

    @property
    def is_prerelease(self) -> bool:
        return bool(self.prerelease)

    @property
    def python(self) -> str:
        """The same version as PEP 440 spells it (``1.5.0-rc.1`` is ``1.5.0rc1``): the wheel's and
        PyPI's version."""
        core = f"{self.major}.{self.minor}.{self.patch}"
        match = _PYTHON_PRERELEASE.fullmatch(self.prerelease.lower())
        if match is None:
            return core
        return f"{core}{_PEP440_KIND[match['kind']]}{match['number'] or 0}"

    @property
    def tag(self) -> str:
        """The git tag that releases this version."""
        return f"{TAG_PREFIX}{self}"

    def __str__(self) -> str:
        core = f"{self.major}.{self.minor}.{self.patch}"
        return f"{core}-{self.prerelease}" if self.prerelease else core


if sys.version_info >= (3, 11):
    import tomllib

    def read_toml(path: Path) -> dict[str, Any]:
        with path.open("rb") as handle:
            return tomllib.load(handle)

else:  # pragma: no cover - the release tools run on 3.11+ (CI and the workflow use 3.11)

    def read_toml(path: Path) -> dict[str, Any]:
        raise ReleaseError("the release tools need Python 3.11 or later (they read TOML with tomllib)")


def read_package_version(pyproject: Path) -> str:
    """The ``[project] version`` of a pyproject.toml, as written there."""
    try:
        data = read_toml(pyproject)
    except FileNotFoundError:
        raise ReleaseError(f"{pyproject} does not exist") from None
    version = data.get("project", {}).get("version")
    if not isinstance(version, str) or not version:
        raise ReleaseError(f"{pyproject} has no [project] version")
    return version


def check_tag(tag: str, package_version: str) -> Version:
    """The version a git tag releases; fails unless the tag is ``v`` + the package version exactly."""
    if not tag.startswith(TAG_PREFIX):
        raise ReleaseError(
            f"tag {tag!r} is not a release tag: release tags are {TAG_PREFIX}<version>, "
            f"such as {TAG_PREFIX}{package_version}"
        )
    version = Version.parse(tag[len(TAG_PREFIX) :])
    if str(version) != package_version:
        raise TagMismatchError(
            f"tag {tag} does not match the package version {package_version} "
            f'([project] version in pyproject.toml). Either set version = "{version}" in '
            f"pyproject.toml and tag that commit, or release {TAG_PREFIX}{package_version}."
        )
    return version


def short_sha(revision: str) -> str:
    if _REVISION.fullmatch(revision) is None:
        raise ReleaseError(f"{revision!r} is not a commit SHA (7 to 64 lower-case hex digits)")
    return revision[:SHORT_SHA_LENGTH]


def image_tags(version: Version, revision: str) -> list[str]:
    """The tags one release pushes, most specific first.

    ``X.Y.Z``, ``X.Y`` and ``latest`` for a release; only ``X.Y.Z-pre`` for a pre-release, which
    must not move the tags people follow. Both get ``sha-<7 hex>`` of the commit built.
    """
    tags = [str(version)]
    if not version.is_prerelease:
        tags += [f"{version.major}.{version.minor}", "latest"]
    tags.append(f"sha-{short_sha(revision)}")
    return tags
