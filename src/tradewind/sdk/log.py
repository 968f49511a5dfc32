"""Logging helpers for task code; Airflow DAG files import them from ``airflow.sdk.log``.

``mask_secret(value)`` hides ``value`` from the task log and the rendered template fields.
"""

from __future__ import annotations

from tradewind.sdk.secrets_masker import mask_secret

__all__ = ["mask_secret"]
