"""The ``twinfed`` command line: one entry point over the site node, the federation and the twin."""

__version__ = "0.1.0"
