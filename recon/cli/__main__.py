"""`python -m recon.cli` runs the `recon` command."""

from recon.cli import main

main()
