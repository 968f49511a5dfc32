"""Tradewind."""
