"""Turns the order table into revenue reports."""

from .pipeline import create_pipeline

__all__ = ["create_pipeline"]
