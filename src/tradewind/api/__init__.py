"""The API server: Airflow-compatible REST API under ``/api/v2`` and the web UI, one ASGI app."""
