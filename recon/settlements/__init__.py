"""Providers' settlement reports and bank statements: import, profiles, fetch."""
