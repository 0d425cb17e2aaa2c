"""Credentials: password hashing, access tokens, refresh tokens."""
