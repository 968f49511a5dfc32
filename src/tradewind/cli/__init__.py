"""Command-line entry points: thin wrappers over ``tradewind.services``."""
