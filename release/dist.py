"""The plugin's Python package: built once, checked, installed into a fresh venv and run, then shipped.

    python -m release.dist --outdir dist          # from this checkout (CI: the tag's checkout)
    python -m release.dist --clone                # from a fresh git clone of HEAD, kept nowhere

1. build the sdist, and the wheel from that sdist, with ``python -m build`` (PEP 517, isolated);
2. check them: ``twine check --strict`` (what PyPI renders and accepts), the file names carry the
   version, and the wheel holds every module of the package, its ``py.typed`` and the
   ``pytest11`` entry point that registers the plugin;
3. create a fresh virtual environment and ``pip install`` the wheel into it (nothing of this
   checkout is importable there); check that pytest lists the plugin (``pytest -VV``) and shows
   its options in ``pytest --help`` with no conftest; run one test that starts a real stack
   (Redis) with ``compose_stack`` through the installed plugin, and check it left nothing behind.

The release workflow publishes exactly the files this wrote, to PyPI and to the release page.
"""

from __future__ import annotations

import argparse
import configparser
import os
import re
import secrets
import shlex
import shutil
import subprocess
import sys
import tempfile
import textwrap
import time
import zipfile
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from release.versioning import ReleaseError, Version, read_package_version, read_toml

ROOT = Path(__file__).resolve().parent.parent
PACKAGE = "pytest_tel3sis_compose"
#: An image the engine bootstrap guarantees (a local stand-in where no registry is reachable).
REDIS_IMAGE = "redis:7-bookworm"

Log = Callable[[str], None]

COMPOSE = f"""\
services:
  cache:
    image: {REDIS_IMAGE}
    user: redis
    command: ["redis-server", "--protected-mode", "no", "--save", "", "--appendonly", "no"]
    healthcheck:
      test: ["CMD", "redis-cli", "ping"]
      interval: 1s
      retries: 30
    ports: ["127.0.0.1::6379"]
"""

STACK_TEST = """\
import socket


def test_redis_answers_through_the_installed_plugin(compose_stack):
    host, port = compose_stack.endpoint("cache")
    with socket.create_connection((host, port), timeout=5) as connection:
        connection.sendall(b"PING\\r\\n")
        assert connection.recv(16) == b"+PONG\\r\\n"
"""


class DistError(ReleaseError):
    """A build, check or install step of the Python package failed; the message shows its output."""


def _log(message: str) -> None:
    print(f"[dist] {message}", file=sys.stderr, flush=True)


@dataclass(frozen=True)
class Distributions:
    wheel: Path
    sdist: Path

    @property
    def files(self) -> list[Path]:
        return [self.wheel, self.sdist]


@dataclass(frozen=True)
class Exercise:
    """What the fresh environment showed of the installed wheel."""

    registered: str  # pytest -VV's line for the plugin
    summary: str  # the stack test's summary line
    seconds: float


def _clean_env(**extra: str) -> dict[str, str]:
    """This process's environment without what would leak this checkout into a fresh one."""
    dropped = ("COVERAGE_", "PYTEST_", "PYTHONPATH", "VIRTUAL_ENV", "PIP_REQUIRE_VIRTUALENV")
    env = {key: value for key, value in os.environ.items() if not key.startswith(dropped)}
    env["PIP_DISABLE_PIP_VERSION_CHECK"] = "1"
    return {**env, **extra}


def _run(argv: Sequence[str | Path], *, cwd: Path | None = None, timeout: float = 600, what: str = "") -> str:
    command = [str(arg) for arg in argv]
    try:
        result = subprocess.run(
            command, cwd=cwd, env=_clean_env(), capture_output=True, text=True, timeout=timeout, check=False
        )
    except subprocess.TimeoutExpired:
        raise DistError(f"{what or shlex.join(command)} did not finish within {timeout:.0f} s") from None
    output = (result.stdout + result.stderr).strip()
    if result.returncode != 0:
        tail = "\n".join(output.splitlines()[-40:])
        raise DistError(f"{what or shlex.join(command)} failed (exit {result.returncode}):\n{tail}")
    return output


def _git(root: Path, *args: str) -> str:
    return _run(["git", "-C", root, *args], what=f"git {' '.join(args)}")


def clone(root: Path, dest: Path) -> Path:
    """A fresh clone of `root`'s HEAD: the committed tree only, as CI checks it out."""
    _run(["git", "clone", "--quiet", "--no-hardlinks", root, dest], what="git clone")
    return dest


def copy_tree(root: Path, dest: Path) -> Path:
    """The files a commit of the working tree would hold: tracked and new files, not ignored ones."""
    listed = _git(root, "ls-files", "-z", "--cached", "--others", "--exclude-standard")
    for name in filter(None, listed.split("\0")):
        source = root / name
        if source.is_file():  # a tracked file deleted in the working tree is not copied
            target = dest / name
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, target)
    return dest


def set_version(tree: Path, version: str) -> None:
    """Rewrite ``[project] version`` in `tree`'s pyproject.toml (the rehearsal's other versions)."""
    pyproject = tree / "pyproject.toml"
    text = pyproject.read_text()
    start = text.index("[project]\n")
    end = text.find("\n[", start + 1)
    end = len(text) if end == -1 else end
    section, count = re.subn(
        r'^version = "[^"]*"$', f'version = "{version}"', text[start:end], count=1, flags=re.MULTILINE
    )
    if count != 1:
        raise DistError(f"{pyproject} has no version line in [project]")
    pyproject.write_text(text[:start] + section + text[end:])


def build(tree: Path, outdir: Path, version: Version, log: Log = _log) -> Distributions:
    """``python -m build``: the sdist, then the wheel built from that sdist (so the sdist is complete)."""
    started = time.monotonic()
    outdir.mkdir(parents=True, exist_ok=True)
    _run([sys.executable, "-m", "build", "--outdir", outdir, tree], what="python -m build")
    stem = f"{PACKAGE}-{version.python}"
    wheel, sdist = outdir / f"{stem}-py3-none-any.whl", outdir / f"{stem}.tar.gz"
    made = sorted(path.name for path in outdir.iterdir())
    if sorted([wheel.name, sdist.name]) != made:
        raise DistError(f"python -m build made {made} in {outdir}; expected {wheel.name} and {sdist.name}")
    log(f"built {sdist.name} and {wheel.name} in {time.monotonic() - started:.1f} s")
    return Distributions(wheel=wheel, sdist=sdist)


def check(dists: Distributions, tree: Path, version: Version, log: Log = _log) -> None:
    """twine check, and the wheel against the source tree it was built from."""
    _run([sys.executable, "-m", "twine", "check", "--strict", *dists.files], what="twine check --strict")
    log(f"twine check --strict: {dists.wheel.name} and {dists.sdist.name} pass")

    with zipfile.ZipFile(dists.wheel) as wheel:
        names = set(wheel.namelist())
        info = f"{PACKAGE}-{version.python}.dist-info"
        metadata = wheel.read(f"{info}/METADATA").decode()
        entry_points = wheel.read(f"{info}/entry_points.txt").decode()
    modules = {path.relative_to(tree).as_posix() for path in (tree / PACKAGE).rglob("*.py")}
    missing = sorted(modules - names)
    if f"{PACKAGE}/py.typed" not in names:
        missing.append(f"{PACKAGE}/py.typed")
    if missing:
        raise DistError(f"{dists.wheel.name} lacks {', '.join(missing)}")
    if f"\nVersion: {version.python}\n" not in metadata:
        raise DistError(f"{dists.wheel.name}'s METADATA does not say Version: {version.python}")
    declared = read_toml(tree / "pyproject.toml")["project"]["entry-points"]["pytest11"]
    registered = configparser.ConfigParser()
    registered.read_string(entry_points)
    if not registered.has_section("pytest11") or dict(registered["pytest11"]) != declared:
        raise DistError(f"{dists.wheel.name} does not register the pytest11 entry points {declared}")
    log(f"the wheel holds all {len(modules)} modules, py.typed and the pytest11 entry point")


def leftovers(project: str) -> list[str]:
    """Containers, networks and volumes Compose labelled with `project`."""
    label = f"label=com.docker.compose.project={project}"
    found = []
    for kind, command in (("container", ["ps", "-aq"]), ("network", ["network", "ls", "-q"])):
        found += [f"{kind} {name}" for name in _run(["docker", *command, "--filter", label]).split()]
    found += [f"volume {name}" for name in _run(["docker", "volume", "ls", "-q", "--filter", label]).split()]
    return found


def exercise(wheel: Path, workdir: Path, version: Version, log: Log = _log) -> Exercise:
    """Install `wheel` alone into a fresh venv under `workdir` and run a real stack test with it."""
    started = time.monotonic()
    venv, project = workdir / "venv", workdir / "project"
    _run([sys.executable, "-m", "venv", venv], what="python -m venv")
    python = venv / "bin" / "python"
    _run([python, "-m", "pip", "install", "--quiet", wheel], what=f"pip install {wheel.name}")
    _run([python, "-m", "pip", "check"], what="pip check")
    project.mkdir()
    where = _run([python, "-c", f"import {PACKAGE}; print({PACKAGE}.__file__)"], cwd=project)
    if not Path(where).resolve().is_relative_to(venv.resolve()):
        raise DistError(f"the fresh venv imported {PACKAGE} from {where}, not from the installed wheel")
    log(f"installed {wheel.name} into a fresh venv; {PACKAGE} imports from its site-packages")

    # No conftest and no ini file in `project`: only the entry point can bring the plugin in.
    plugins = _run([python, "-m", "pytest", "-VV"], cwd=project)
    registered = [line.strip() for line in plugins.splitlines() if "pytest-tel3sis-compose-" in line]
    if not any(line.startswith(f"pytest-tel3sis-compose-{version.python} ") for line in registered):
        raise DistError(f"pytest -VV does not list pytest-tel3sis-compose-{version.python}:\n{plugins}")
    usage = _run([python, "-m", "pytest", "--help"], cwd=project)
    absent = [option for option in ("--compose-file", "--compose-no-build") if option not in usage]
    if absent:
        raise DistError(f"pytest --help in the fresh venv does not show {', '.join(absent)}")
    log(f"pytest -VV lists {registered[0]}; pytest --help shows --compose-file")

    (project / "docker-compose.yml").write_text(COMPOSE)
    (project / "test_stack.py").write_text(STACK_TEST)
    name = f"wheel-check-{secrets.token_hex(4)}"
    try:
        output = _run(
            [python, "-m", "pytest", "-p", "no:cacheprovider", "-q", "test_stack.py",
             "--compose-file", "docker-compose.yml", "--compose-project-name", name],
            cwd=project, what="the stack test with the installed plugin",
        )  # fmt: skip
    finally:
        left = leftovers(name)
    summary = output.splitlines()[-1] if output else ""
    if not re.search(r"\b1 passed\b", summary):
        raise DistError(f"the stack test did not pass:\n{output}")
    if left:
        raise DistError(f"the stack test left {', '.join(left)} behind")
    elapsed = time.monotonic() - started
    log(f"the installed plugin started {REDIS_IMAGE}, the test passed ({summary}), nothing left behind")
    return Exercise(registered=registered[0], summary=summary, seconds=elapsed)


def build_check_exercise(
    tree: Path, outdir: Path, version: Version, workdir: Path, log: Log = _log
) -> Distributions:
    """The three steps, in order; raises DistError on the first that fails."""
    dists = build(tree, outdir, version, log)
    check(dists, tree, version, log)
    exercise(dists.wheel, workdir, version, log)
    return dists


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m release.dist", description=textwrap.dedent(__doc__ or "").split("\n\n")[0]
    )
    parser.add_argument("--clone", action="store_true", help="build from a fresh git clone of HEAD")
    parser.add_argument("--version", help="build as if pyproject.toml said this version (a rehearsal)")
    parser.add_argument("--outdir", type=Path, help="keep the wheel and sdist here (default: nowhere)")
    args = parser.parse_args(argv)
    started = time.monotonic()
    try:
        with tempfile.TemporaryDirectory(prefix="tel3sis-dist-") as scratch:
            work = Path(scratch)
            if args.clone:
                tree = clone(ROOT, work / "source")
                _log(f"cloned HEAD ({_git(tree, 'rev-parse', '--short', 'HEAD')}) into a temporary folder")
            elif args.version:
                tree = copy_tree(ROOT, work / "source")
            else:
                tree = ROOT
            version = Version.parse(args.version or read_package_version(tree / "pyproject.toml"))
            if args.version:
                set_version(tree, str(version))
            outdir = (args.outdir or work / "dist").resolve()
            if outdir.exists() and any(outdir.iterdir()):
                raise DistError(f"{outdir} is not empty; remove it first")
            (work / "exercise").mkdir()
            dists = build_check_exercise(tree, outdir, version, work / "exercise")
            for path in dists.files:
                print(path if args.outdir else path.name)
    except ReleaseError as exc:
        _log(f"FAILED: {exc}")
        return 1
    _log(f"done in {time.monotonic() - started:.1f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
