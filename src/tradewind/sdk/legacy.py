"""Airflow 2 spellings that DAG files still use everywhere: they work, and each warns once.

The warning (``LegacySpellingWarning``, a ``UserWarning`` so Python shows it) names the spelling
and what Airflow 3 and Tradewind say instead; it lands in the file's parse log.
"""

from __future__ import annotations

import warnings

_warned: set[str] = set()


class LegacySpellingWarning(UserWarning):
    """An Airflow 2 spelling, accepted as Airflow 2 meant it."""


def warn_once(spelling: str, instead: str, *, stacklevel: int = 3) -> None:
    """Warn about ``spelling`` the first time this process meets it."""
    if spelling in _warned:
        return
    _warned.add(spelling)
    warnings.warn(
        f"{spelling} is an Airflow 2 spelling; use {instead}",
        LegacySpellingWarning,
        stacklevel=stacklevel,
    )
