"""Helpers for the transfer-learning course."""
