"""A DAG file that cannot be imported (it names tradewind and DAG, so it is scanned): it must show
up as an import error."""

from tradewind import DAG  # noqa: F401

raise RuntimeError("this DAG file is broken on purpose")
