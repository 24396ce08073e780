"""Dossiers in: the one-stop software's pushes, file imports, agencies."""
