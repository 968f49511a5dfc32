"""Operators: the kinds of work a task can do."""
