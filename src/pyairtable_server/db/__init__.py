"""Persistence: SQLAlchemy models, the engine wrapper and Alembic migrations."""
