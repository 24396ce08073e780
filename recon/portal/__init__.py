"""The National Public Service Portal (Cổng Dịch vụ công quốc gia): its daily transaction lists
(:mod:`recon.portal.importer`) and the three-way comparison portal ↔ provider ↔ recon
(:mod:`recon.engine.portal`, read by :mod:`recon.engine.portal_load`). See docs/portal.md."""
