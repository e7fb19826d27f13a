"""Offline benchmarks: synthetic workloads with ground truth and their runners."""
