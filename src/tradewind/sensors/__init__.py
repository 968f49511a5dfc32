"""Sensors: tasks that wait for a condition."""
