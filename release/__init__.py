"""Release tooling for TEL3SIS: one place for the release rules, used by CI and by the rehearsal.

* `release.versioning`: the tag check (a tag must be ``v`` + the ``[project] version`` in
  pyproject.toml, and a version PyPI can carry too) and the image tag rules (``X.Y.Z``, ``X.Y``,
  ``latest``, ``sha-<short>``; a pre-release gets only its own version and ``sha-<short>``).
* `release.image`: the image's name on a registry, its package page, its OCI labels and annotations.
* `release.notes`: the release notes template (package page, digest, ``docker pull`` line, the
  Python package on PyPI and its files).
* `release.dist`: the plugin's wheel and sdist, built once, checked, installed into a fresh venv
  and run there.
* `release.image_check`: the reference stack's integration tests against an image pulled by digest.
* ``python -m release``: the command line `.github/workflows/release.yml` calls.
* ``python -m release.rehearse``: the whole release, rehearsed against a registry on loopback.

``python -m release`` (check-tag, tags, notes) needs only the standard library (Python 3.11+), so
the workflow calls it before anything is installed; the other modules run in the project's venv.
"""
