"""Release tooling for TEL3SIS: one place for the release rules, used by CI and by the rehearsal.

* `release.versioning`: the tag check (a tag must be ``v`` + the ``[project] version`` in
  pyproject.toml) and the image tag rules (``X.Y.Z``, ``X.Y``, ``latest``, ``sha-<short>``;
  a pre-release gets only its own version and ``sha-<short>``).
* `release.image`: the image's name on a registry and its OCI labels.
* `release.notes`: the release notes template (image reference, digest, ``docker pull`` line).
* ``python -m release``: the command line `.github/workflows/release.yml` calls.
* ``python -m release.rehearse``: the whole release, rehearsed against a registry on loopback.

Everything `.github/workflows/release.yml` runs needs only the standard library (Python 3.11+),
so the workflow's first job calls it before anything is installed.
"""
