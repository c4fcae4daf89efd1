"""Trace: from any finding in the federation back to its origins (``GET /trace``)."""
