"""Which files of the DAG folder are DAG files: ignore files, safe mode."""

from __future__ import annotations

import os
from pathlib import Path

from tradewind.dag_processing import discovery

DAG_TEXT = "from tradewind import DAG\n"


def found(folder: Path, *, safe_mode: bool = True) -> list[str]:
    return sorted(
        path.relative_to(folder).as_posix()
        for path in discovery.find_dag_files(folder, safe_mode=safe_mode)
    )


def make(folder: Path, *names: str, text: str = DAG_TEXT) -> None:
    for name in names:
        path = folder / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)


def test_tradewindignore_patterns_apply_to_their_folder_and_below(tmp_path: Path) -> None:
    make(
        tmp_path,
        "keep.py",
        "scratch_one.py",
        "sub/keep.py",
        "sub/scratch_two.py",
        "sub/deeper/local_only.py",
        "sub/deeper/kept.py",
        "vendor/lib.py",
        "other/vendor/lib.py",
        "notes/readme.py",
        "tests/test_x.py",
    )
    (tmp_path / ".tradewindignore").write_text(
        "# comment lines and blank lines are ignored\n\nscratch_*\n/vendor/\nnotes\n**/tests/\n"
    )
    (tmp_path / "sub" / "deeper" / ".tradewindignore").write_text("local_only.py\n")
    assert found(tmp_path) == [
        "keep.py",
        "other/vendor/lib.py",
        "sub/deeper/kept.py",
        "sub/keep.py",
    ]


def test_ignore_file_in_a_subfolder_does_not_reach_siblings(tmp_path: Path) -> None:
    make(tmp_path, "a/etl.py", "b/etl.py")
    (tmp_path / "a" / ".tradewindignore").write_text("etl.py\n")
    assert found(tmp_path) == ["b/etl.py"]


def test_negated_pattern_keeps_a_file(tmp_path: Path) -> None:
    make(tmp_path, "draft_one.py", "draft_keep.py")
    (tmp_path / ".tradewindignore").write_text("draft_*.py\n!draft_keep.py\n")
    assert found(tmp_path) == ["draft_keep.py"]


def test_airflowignore_is_honoured_too(tmp_path: Path) -> None:
    make(tmp_path, "a.py", "b.py")
    (tmp_path / ".airflowignore").write_text("b.py\n")
    assert found(tmp_path) == ["a.py"]


def test_safe_mode_skips_files_without_dag_and_tradewind_or_airflow(tmp_path: Path) -> None:
    make(tmp_path, "tradewind_dag.py", text="from tradewind import DAG\n")
    make(tmp_path, "airflow_dag.py", text="from airflow import DAG  # upper case counts: Dag\n")
    make(tmp_path, "helper.py", text="def helper():\n    return 1\n")
    make(tmp_path, "no_dag_word.py", text="import tradewind\n")
    make(tmp_path, "no_product_word.py", text="dag = None\n")
    make(tmp_path, "data.txt", text="from tradewind import DAG\n")
    assert found(tmp_path) == ["airflow_dag.py", "tradewind_dag.py"]
    assert found(tmp_path, safe_mode=False) == [
        "airflow_dag.py",
        "helper.py",
        "no_dag_word.py",
        "no_product_word.py",
        "tradewind_dag.py",
    ]


def test_hidden_folders_and_pycache_are_skipped(tmp_path: Path) -> None:
    make(tmp_path, ".git/hooks/x.py", "__pycache__/y.py", "z.py")
    assert found(tmp_path) == ["z.py"]


def test_a_symlink_loop_does_not_hang_discovery(tmp_path: Path) -> None:
    make(tmp_path, "sub/dag.py")
    os.symlink(tmp_path, tmp_path / "sub" / "loop")
    assert found(tmp_path) == ["sub/dag.py"]


def test_a_single_file_or_a_missing_folder(tmp_path: Path) -> None:
    make(tmp_path, "one.py")
    assert discovery.find_dag_files(tmp_path / "one.py") == [tmp_path / "one.py"]
    assert discovery.find_dag_files(tmp_path / "missing") == []
