"""The WSGI entry point for production servers: ``gunicorn 'recon.wsgi:app'``.

Settings come from the ``RECON_*`` environment of each worker (README, Configuration). Unlike
``recon serve``, this entry point is for production: ``RECON_ENV`` defaults to ``production``
here, so a forgotten variable fails loudly (no dev-only secret key, no dev-only provider
secrets) instead of quietly running a development configuration.
"""

from __future__ import annotations

import os

from recon import create_app

os.environ.setdefault("RECON_ENV", "production")
app = create_app()
