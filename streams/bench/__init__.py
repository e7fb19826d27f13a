"""Benchmarks (``make bench``, ``make bench-forecast``, ``make bench-dispatch``): synthetic
workloads with ground truth and their runners.

May import any package of ``streams`` but the CLI.
"""
