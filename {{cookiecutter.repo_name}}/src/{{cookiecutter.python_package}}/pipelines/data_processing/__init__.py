"""Cleans the raw orders and customers and joins them into the order table."""

from .pipeline import create_pipeline

__all__ = ["create_pipeline"]
