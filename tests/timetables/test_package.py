from __future__ import annotations

import subprocess
import sys

import tradewind.timetables


def test_all_is_sorted_and_importable():
    assert tradewind.timetables.__all__ == sorted(tradewind.timetables.__all__)
    for name in tradewind.timetables.__all__:
        assert hasattr(tradewind.timetables, name)


def test_importing_timetables_does_not_import_croniter():
    code = "import sys, tradewind.timetables; print('croniter' in sys.modules)"
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    )
    assert result.stdout.strip() == "False"


def test_building_a_cron_timetable_is_enough_to_need_croniter():
    code = (
        "import sys, tradewind.timetables as t; t.create_timetable('@daily', 'UTC'); "
        "print('croniter' in sys.modules)"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    )
    assert result.stdout.strip() == "True"
