"""A DAG file that cannot be imported, so the DAG list shows its import error."""

from tradewind import DAG  # noqa: F401

raise RuntimeError("this DAG file is broken on purpose")
