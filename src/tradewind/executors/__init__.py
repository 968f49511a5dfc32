"""Executors: start task processes and report how they end."""
