"""Executing one try of one task instance: context, templates, the operator, XCom, outcome.

The same code runs a task inside ``tradewind dags test`` and inside a task process started
by an executor; only the ``XComStore`` and the lookups for variables and connections differ.
"""
