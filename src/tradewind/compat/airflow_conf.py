"""``airflow.configuration.conf``: Tradewind's settings, read-only, under Airflow's section and
key names, for DAG files that read a setting (``conf.get("core", "dags_folder")``).

A setting Tradewind has is answered from its settings (``config.load``, so ``TRADEWIND__`` and
``AIRFLOW__`` variables apply); one it does not have gives the caller's ``fallback``, or an
error naming it. Nothing can be set: Tradewind reads its settings at start-up only.
"""

from __future__ import annotations

from typing import Any

from tradewind import config
from tradewind.exceptions import ConfigError

_NO_FALLBACK: Any = object()
_TRUE = {"true", "t", "1", "yes", "y", "on"}
_FALSE = {"false", "f", "0", "no", "n", "off", ""}


class AirflowConfigView:
    """What DAG files call on Airflow's ``conf``."""

    def __init__(self) -> None:
        self._settings: config.Settings | None = None

    def _value(self, section: str, key: str) -> Any:
        if self._settings is None:
            self._settings = config.load()
        section, key = section.lower(), key.lower()
        target = config.AIRFLOW_NAMES.get((section, key), (section, key))
        if target not in config.OPTIONS:
            raise KeyError((section, key))
        if target == ("core", "dags_folder"):
            return str(self._settings.dags_folder)
        if target == ("logging", "base_log_folder"):
            return str(self._settings.log_folder)
        if target == ("database", "url"):
            return self._settings.database_url
        return self._settings.get(*target)

    def get(self, section: str, key: str, fallback: Any = _NO_FALLBACK, **_: Any) -> Any:
        try:
            value = self._value(section, key)
        except KeyError:
            if fallback is not _NO_FALLBACK:
                return fallback
            raise ConfigError(
                f"[{section}] {key} is not a setting Tradewind has (give fallback=...)"
            ) from None
        return None if value is None else str(value)

    def getboolean(self, section: str, key: str, fallback: Any = _NO_FALLBACK, **_: Any) -> Any:
        value = self.get(section, key, fallback=fallback)
        if value is fallback or isinstance(value, bool):
            return value
        text = str(value).strip().lower()
        if text in _TRUE:
            return True
        if text in _FALSE:
            return False
        raise ConfigError(f"[{section}] {key} is {value!r}, not a boolean")

    def getint(self, section: str, key: str, fallback: Any = _NO_FALLBACK, **_: Any) -> Any:
        value = self.get(section, key, fallback=fallback)
        return value if value is fallback else int(float(value))

    def getfloat(self, section: str, key: str, fallback: Any = _NO_FALLBACK, **_: Any) -> Any:
        value = self.get(section, key, fallback=fallback)
        return value if value is fallback else float(value)

    def has_option(self, section: str, key: str) -> bool:
        try:
            self._value(section, key)
        except KeyError:
            return False
        return True

    def set(self, section: str, key: str, value: Any) -> None:
        raise ConfigError(
            f"conf.set({section!r}, {key!r}, ...): Tradewind's settings are read-only in DAG "
            "files; set TRADEWIND__SECTION__KEY in the environment instead"
        )


conf = AirflowConfigView()
