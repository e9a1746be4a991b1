"""Measurements of the system: ``python -m bench.run`` (``make bench``)."""
