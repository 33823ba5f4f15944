"""Tests of the ReconBench generator, metrics and baselines."""
