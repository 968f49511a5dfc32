"""Finding DAG files and importing them: the only place user DAG code is imported."""
