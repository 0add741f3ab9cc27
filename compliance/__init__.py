"""Compliance reporting engine for AI agent deployments."""

__version__ = "0.1.0"
