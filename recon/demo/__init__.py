"""`recon demo`: the Huế centre's catalogue, a quarter of dossiers and payments."""
