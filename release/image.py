"""The published image: its name on a registry, its package page, and the OCI labels it carries."""

from __future__ import annotations

import re
from datetime import datetime, timezone

from release.versioning import ReleaseError, Version

#: The image's name below the owner, on GHCR and on the rehearsal's registry alike.
IMAGE_NAME = "tel3sis"
GHCR = "ghcr.io"
DESCRIPTION = "TEL3SIS reference services (FastAPI web, Celery worker)"

LICENSE = "MIT"

#: OCI annotations the workflow puts on the pushed image index (and on its manifest). BuildKit
#: makes an index when it adds SBOM and provenance, and GHCR's package page reads the index's
#: annotations, not the labels in the image config: without these it shows no description.
INDEX_ANNOTATIONS = (
    "org.opencontainers.image.description",
    "org.opencontainers.image.licenses",
    "org.opencontainers.image.source",
    "org.opencontainers.image.version",
)

#: Labels the rehearsal checks on the pulled image. docker/metadata-action sets the same keys in
#: the workflow (tests/release/test_workflow.py checks that it does).
REQUIRED_LABELS = (
    "org.opencontainers.image.created",
    "org.opencontainers.image.revision",
    "org.opencontainers.image.source",
    "org.opencontainers.image.title",
    "org.opencontainers.image.version",
)

_OWNER = re.compile(r"[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?")
_REPOSITORY = re.compile(r"[A-Za-z0-9-]+/[A-Za-z0-9._-]+")


def image_repository(owner: str, registry: str = GHCR) -> str:
    """``REGISTRY/<owner, lower-cased>/tel3sis``: image names must be lower case, owners need not be."""
    if _OWNER.fullmatch(owner) is None:
        raise ReleaseError(f"{owner!r} is not a GitHub owner name")
    return f"{registry}/{owner.lower()}/{IMAGE_NAME}"


def source_url(github_repository: str) -> str:
    """The repository's page, as metadata-action sets ``org.opencontainers.image.source``."""
    if _REPOSITORY.fullmatch(github_repository) is None:
        raise ReleaseError(f"{github_repository!r} is not OWNER/NAME")
    return f"https://github.com/{github_repository}"


def package_page(github_repository: str) -> str:
    """The image's package page on GitHub, where a pushed image linked to the repository shows.

    GHCR links a new package to the repository whose workflow pushed it, and to the repository
    named in ``org.opencontainers.image.source``.
    """
    return f"{source_url(github_repository)}/pkgs/container/{IMAGE_NAME}"


def oci_labels(
    version: Version, revision: str, github_repository: str, created: datetime | None = None
) -> dict[str, str]:
    """The OCI labels of a release image, keyed as metadata-action keys them."""
    when = (created or datetime.now(timezone.utc)).astimezone(timezone.utc)
    return {
        "org.opencontainers.image.created": when.strftime("%Y-%m-%dT%H:%M:%SZ"),
        "org.opencontainers.image.description": DESCRIPTION,
        "org.opencontainers.image.licenses": LICENSE,
        "org.opencontainers.image.revision": revision,
        "org.opencontainers.image.source": source_url(github_repository),
        "org.opencontainers.image.title": IMAGE_NAME,
        "org.opencontainers.image.url": source_url(github_repository),
        "org.opencontainers.image.version": str(version),
    }
