"""``python -m release``: the release rules as commands, for .github/workflows/release.yml.

    python -m release check-tag v1.4.2 [--owner OWNER] [--revision SHA] [--github-output FILE]
    python -m release tags 1.4.2 --revision SHA
    python -m release notes --image IMAGE --version 1.4.2 --revision SHA --digest sha256:... \
        --repository OWNER/NAME [--dist DIR] [--attested] [--output FILE]

Only the standard library: the workflow runs these before installing anything.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Sequence
from pathlib import Path

from release import notes
from release.image import image_repository
from release.versioning import ReleaseError, Version, check_tag, image_tags, read_package_version

DEFAULT_PYPROJECT = Path(__file__).resolve().parent.parent / "pyproject.toml"


def _check_tag(args: argparse.Namespace) -> int:
    package_version = read_package_version(args.pyproject)
    version = check_tag(args.tag, package_version)
    outputs = {
        "tag": version.tag,
        "version": str(version),
        "prerelease": "true" if version.is_prerelease else "false",
        "python-version": version.python,
    }
    if args.owner:
        outputs["image"] = image_repository(args.owner)
    if args.revision:
        outputs["revision"] = args.revision
        tags = image_tags(version, args.revision)
    kind = "pre-release" if version.is_prerelease else "release"
    print(f"{version.tag} is a {kind} of version {version}, the package version in {args.pyproject.name}")
    print(f"Python package version (PEP 440): {version.python}")
    if args.owner:
        print(f"image: {outputs['image']}")
    if args.revision:
        print(f"tags: {', '.join(tags)}")
    if args.github_output:
        with open(args.github_output, "a", encoding="utf-8") as handle:
            handle.writelines(f"{key}={value}\n" for key, value in outputs.items())
    return 0


def _tags(args: argparse.Namespace) -> int:
    for tag in image_tags(Version.parse(args.version), args.revision):
        print(tag)
    return 0


def _notes(args: argparse.Namespace) -> int:
    files = notes.distributions(args.dist) if args.dist else ()
    text = notes.render(
        args.image,
        Version.parse(args.version),
        args.digest,
        args.revision,
        args.repository,
        files=files,
        attested=args.attested,
    )
    if args.output:
        Path(args.output).write_text(text, encoding="utf-8")
    else:
        sys.stdout.write(text)
    return 0


def parser() -> argparse.ArgumentParser:
    top = argparse.ArgumentParser(prog="python -m release", description=__doc__.split("\n\n")[0])
    commands = top.add_subparsers(dest="command", required=True)

    check = commands.add_parser("check-tag", help="fail unless TAG is v + the package version")
    check.add_argument("tag", help="the git tag, such as v1.4.2")
    check.add_argument("--pyproject", type=Path, default=DEFAULT_PYPROJECT)
    check.add_argument("--owner", help="GitHub owner: adds image=ghcr.io/<owner, lower-cased>/tel3sis")
    check.add_argument("--revision", help="the commit built: adds revision= and prints the tags")
    check.add_argument("--github-output", help="append key=value outputs to this file ($GITHUB_OUTPUT)")
    check.set_defaults(run=_check_tag)

    tags = commands.add_parser("tags", help="the image tags a version gets")
    tags.add_argument("version")
    tags.add_argument("--revision", required=True)
    tags.set_defaults(run=_tags)

    render = commands.add_parser("notes", help="render the release notes")
    render.add_argument("--image", required=True, help="repository without tag: ghcr.io/owner/tel3sis")
    render.add_argument("--version", required=True)
    render.add_argument("--revision", required=True)
    render.add_argument("--digest", required=True)
    render.add_argument("--repository", required=True, help="OWNER/NAME: the package page's repository")
    render.add_argument(
        "--dist", type=Path, help="the folder of the wheel and sdist: lists them with SHA-256"
    )
    render.add_argument("--attested", action="store_true", help="add how to verify the attestation")
    render.add_argument("--output", help="write here instead of to standard output")
    render.set_defaults(run=_notes)
    return top


def _annotate(message: str) -> None:
    """An error annotation on the run's summary page, when running in GitHub Actions."""
    if os.environ.get("GITHUB_ACTIONS") == "true":
        escaped = message.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")
        print(f"::error title=Release check failed::{escaped}")


def main(argv: Sequence[str] | None = None) -> int:
    args = parser().parse_args(argv)
    try:
        status: int = args.run(args)
    except ReleaseError as exc:
        _annotate(str(exc))
        print(f"error: {exc}", file=sys.stderr)
        return 1
    return status


if __name__ == "__main__":
    sys.exit(main())
