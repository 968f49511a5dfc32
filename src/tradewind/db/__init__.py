"""The metastore: engine and transactions (``engine``), ORM models (``models``), column
types (``types``) and schema migrations (``migrate``, Alembic tree in ``migrations/``)."""
