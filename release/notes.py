"""The release notes template: what a GitHub release of TEL3SIS says above GitHub's own notes.

The workflow renders it with ``python -m release notes`` and passes the file to
``gh release create --notes-file FILE --generate-notes``; GitHub puts the generated notes (merged
pull requests, contributors) after it. The rehearsal renders the same template for its registry.
"""

from __future__ import annotations

import re
from string import Template

from release.versioning import ReleaseError, Version, image_tags

_DIGEST = re.compile(r"sha256:[0-9a-f]{64}")

TEMPLATE = Template(
    """\
## Container image

`${reference}`

- Digest: `${digest}`
- Tags: ${tags}

```sh
docker pull ${image}@${digest}
```
${prerelease}${attestation}"""
)

PRERELEASE = """
This is a pre-release: it is tagged `${version}` and `${sha_tag}` only, so `latest` and the
`MAJOR.MINOR` tags stay where they were.
"""

ATTESTATION = """
The image carries an SBOM and build provenance; check where it was built with
`gh attestation verify oci://${image}@${digest} --repo ${repository}`.
"""


def render(
    image: str, version: Version, digest: str, revision: str, github_repository: str | None = None
) -> str:
    """Markdown notes for one release, headed by the image reference, digest and pull line.

    `image` is the repository without a tag (``ghcr.io/owner/tel3sis``). `github_repository`
    (OWNER/NAME) adds how to verify the attestation, which only the workflow makes.
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
    if github_repository:
        attestation = Template(ATTESTATION).substitute(
            image=image, digest=digest, repository=github_repository
        )
    return TEMPLATE.substitute(
        reference=f"{image}:{version}",
        image=image,
        digest=digest,
        tags=", ".join(f"`{tag}`" for tag in tags),
        prerelease=prerelease,
        attestation=attestation,
    )
