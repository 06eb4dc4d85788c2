"""Alembic migrations of the audit log (run by ``flask --app example_app db upgrade``)."""
