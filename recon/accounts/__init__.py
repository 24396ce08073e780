"""Users, API tokens, passwords and login limits."""
