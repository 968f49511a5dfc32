"""``{{ macros.* }}``: helpers available in every template, with Airflow's names."""

from __future__ import annotations

import datetime as _datetime_module
import json
import random
import time
import uuid
from datetime import datetime, timedelta

__all__ = ["datetime", "ds_add", "ds_format", "json", "random", "time", "timedelta", "uuid"]

dateutil = None  # not bundled; kept so `macros.dateutil` fails clearly rather than oddly
datetime_module = _datetime_module


def ds_add(ds: str, days: int) -> str:
    """``ds_add('2024-01-05', -4)`` -> ``'2024-01-01'``."""
    if not days:
        return str(ds)
    value = datetime.strptime(str(ds), "%Y-%m-%d") + timedelta(days=days)
    return value.strftime("%Y-%m-%d")


def ds_format(ds: str, input_format: str, output_format: str) -> str:
    """``ds_format('2024-01-05', '%Y-%m-%d', '%m-%d-%y')`` -> ``'01-05-24'``."""
    return datetime.strptime(str(ds), input_format).strftime(output_format)
