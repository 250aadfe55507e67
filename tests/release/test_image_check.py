"""The image check's guards, without an engine."""

from __future__ import annotations

import pytest

from release.image_check import ImageCheckError, run


@pytest.mark.parametrize(
    "reference",
    [
        "ghcr.io/owner/tel3sis:1.4.2",  # a tag can move; only a digest names what was pushed
        "ghcr.io/owner/tel3sis",
        "ghcr.io/owner/tel3sis@sha256:abc",
        "",
    ],
)
def test_only_a_reference_by_digest_is_accepted(reference: str) -> None:
    with pytest.raises(ImageCheckError, match="not an image reference by digest"):
        run(reference)
