"""Alembic migration tree of the metastore (a package so installs ship env.py)."""
