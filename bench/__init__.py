"""Zentra benchmarks: data generators, harnesses and baselines; results as JSON."""
