"""`recon vietqr ...` (placeholder until the VietQR issue lands)."""

from __future__ import annotations

import click

COMMANDS: list[click.Command] = []
