"""The same DAG gives byte-identical text: across processes, hash seeds and repeated imports."""

from __future__ import annotations

import json
import os
import subprocess
import sys

from tradewind import serialization

from .dag_files import DAG_FILES, EXAMPLE_FILES, all_dags, import_dags

_PRINT_HASHES = """
import json, sys
from pathlib import Path
from tradewind import serialization
from tradewind.dag_processing.importer import import_dag_file
hashes = {}
for name in sys.argv[1:]:
    for dag in import_dag_file(Path(name)).dags:
        hashes[dag.dag_id] = serialization.content_hash(serialization.dumps(dag))
print(json.dumps(hashes))
"""


def _hashes_in_subprocess(seed: str) -> dict[str, str]:
    env = {**os.environ, "PYTHONHASHSEED": seed}
    files = [str(path) for path in DAG_FILES + EXAMPLE_FILES]
    completed = subprocess.run(
        [sys.executable, "-c", _PRINT_HASHES, *files],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    return json.loads(completed.stdout)


def test_text_is_identical_in_processes_with_other_hash_seeds() -> None:
    here = {
        dag.dag_id: serialization.content_hash(serialization.dumps(dag))
        for path in DAG_FILES + EXAMPLE_FILES
        for dag in import_dags(path)
    }
    assert len(here) == len(all_dags()) + sum(len(import_dags(path)) for path in EXAMPLE_FILES)
    assert _hashes_in_subprocess("0") == here
    assert _hashes_in_subprocess("4242") == here


def test_importing_the_file_again_gives_the_same_text() -> None:
    for path in DAG_FILES:
        first = {dag.dag_id: serialization.dumps(dag) for dag in import_dags(path)}
        second = {dag.dag_id: serialization.dumps(dag) for dag in import_dags(path)}
        assert first == second


def test_dumps_is_canonical_and_hash_is_sha256() -> None:
    dag = all_dags()["groups"]
    text = serialization.dumps(dag)
    assert text == json.dumps(
        json.loads(text), sort_keys=True, separators=(",", ":"), ensure_ascii=True
    )
    assert serialization.dumps(serialization.serialize_dag(dag)) == text
    digest = serialization.content_hash(text)
    assert len(digest) == 64 and int(digest, 16) >= 0
    assert serialization.content_hash(text + " ") != digest


def test_text_is_ascii_even_for_odd_strings() -> None:
    data = serialization.serialize_dag(all_dags()["sensors"])
    data["description"] = "Größe \udc80 ☃"
    text = serialization.dumps(data)
    assert text.isascii()
    serialization.content_hash(text)
    assert serialization.deserialize_dag(text).description == "Größe \udc80 ☃"


def test_a_changed_dag_changes_the_hash() -> None:
    data = serialization.serialize_dag(all_dags()["sensors"])
    changed = json.loads(json.dumps(data))
    changed["tasks"][0]["retries"] = 9
    assert serialization.content_hash(serialization.dumps(changed)) != serialization.content_hash(
        serialization.dumps(data)
    )
