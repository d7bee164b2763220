"""Benchmarks of the portal against the live dev IdP and a real Redis (``python bench/run.py``)."""
