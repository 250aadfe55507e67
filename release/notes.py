"""The release notes template: what a GitHub release of TEL3SIS says above GitHub's own notes.

The workflow renders it with ``python -m release notes`` and passes the file to
``gh release create --notes-file FILE --generate-notes``; GitHub puts the generated notes (merged
pull requests, contributors) after it. The rehearsal renders the same template for its registry.

The notes name what was tested and shipped: the image by its digest (the integration tests ran
against that digest before any tag pointed at it), with a link to its package page, and the
plugin's wheel and sdist by their SHA-256, with a link to the release on PyPI.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from string import Template

from release.image import package_page
from release.versioning import ReleaseError, Version, image_tags

_DIGEST = re.compile(r"sha256:[0-9a-f]{64}")

#: The plugin's name on PyPI ([project] name in pyproject.toml; tests/release checks they agree).
PYPI_NAME = "pytest-tel3sis-compose"

TEMPLATE = Template(
    """\
## Container image

[`${reference}`](${package_page})

- Digest: `${digest}`
- Tags: ${tags}
- Package page: ${package_page}

The integration tests ran against this digest before any tag pointed at it. Pull exactly it:

```sh
docker pull ${image}@${digest}
```
${prerelease}${attestation}
## Python package

[${pypi_name} ${python_version}](${pypi_url}) on PyPI, published from this workflow by trusted
publishing:

```sh
pip install ${pypi_name}==${python_version}
```
${files}"""
)

PRERELEASE = """
This is a pre-release: it is tagged `${version}` and `${sha_tag}` only, so `latest` and the
`MAJOR.MINOR` tags stay where they were.
"""

ATTESTATION = """
The image carries an SBOM and build provenance; check where it was built with
`gh attestation verify oci://${image}@${digest} --repo ${repository}`.
"""

FILES = """
The wheel and sdist attached to this release are the files uploaded to PyPI:

| file | SHA-256 |
|---|---|
${rows}
"""


@dataclass(frozen=True)
class Distribution:
    """A built file of the Python package, as the notes list it."""

    filename: str
    sha256: str

    @classmethod
    def of(cls, path: Path) -> Distribution:
        return cls(path.name, hashlib.sha256(path.read_bytes()).hexdigest())


def distributions(folder: Path) -> list[Distribution]:
    """The wheels and sdists in `folder` (``python -m build``'s output), sorted by name."""
    found = sorted(p for p in folder.iterdir() if p.name.endswith((".whl", ".tar.gz")))
    if not found:
        raise ReleaseError(f"{folder} holds no wheel or sdist")
    return [Distribution.of(path) for path in found]


def pypi_url(version: Version) -> str:
    return f"https://pypi.org/project/{PYPI_NAME}/{version.python}/"


def render(
    image: str,
    version: Version,
    digest: str,
    revision: str,
    github_repository: str,
    *,
    files: Sequence[Distribution] = (),
    attested: bool = False,
) -> str:
    """Markdown notes for one release, headed by the image reference, digest and pull line.

    `image` is the repository without a tag (``ghcr.io/owner/tel3sis``); `github_repository`
    (OWNER/NAME) gives the package page. `files` lists the attached distributions; `attested`
    adds how to verify the provenance attestation, which only the workflow makes.
    """
    if _DIGEST.fullmatch(digest) is None:
        raise ReleaseError(f"{digest!r} is not an image digest (sha256:<64 hex>)")
    if ":" in image.rsplit("/", 1)[-1] or "@" in image:
        raise ReleaseError(f"{image!r} must be an image repository without a tag or digest")
    tags = image_tags(version, revision)
    prerelease = ""
    if version.is_prerelease:
        prerelease = Template(PRERELEASE).substitute(version=version, sha_tag=tags[-1])
    attestation = ""
    if attested:
        attestation = Template(ATTESTATION).substitute(
            image=image, digest=digest, repository=github_repository
        )
    listed = ""
    if files:
        rows = "\n".join(f"| `{item.filename}` | `{item.sha256}` |" for item in files)
        listed = Template(FILES).substitute(rows=rows)
    return TEMPLATE.substitute(
        reference=f"{image}:{version}",
        image=image,
        digest=digest,
        tags=", ".join(f"`{tag}`" for tag in tags),
        package_page=package_page(github_repository),
        prerelease=prerelease,
        attestation=attestation,
        pypi_name=PYPI_NAME,
        python_version=version.python,
        pypi_url=pypi_url(version),
        files=listed,
    )
