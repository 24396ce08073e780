"""Packaging: everything declarative lives in setup.cfg; this adds the one thing it cannot say.

The Alembic scripts stay in the top-level ``migrations/`` folder of the repository, and ship
inside the package as ``recon/migrations`` (``recon.db.migrations_dir`` finds them in either
place), so an installed recon can run ``recon db upgrade`` from anywhere.
"""

from setuptools import find_namespace_packages, setup

MIGRATIONS = {"recon.migrations": "migrations", "recon.migrations.versions": "migrations/versions"}

setup(
    packages=[*find_namespace_packages(include=["recon", "recon.*", "adapters", "adapters.*"],
                                       exclude=["*.__pycache__"]),
              *MIGRATIONS],
    package_dir=MIGRATIONS,
)
