"""ReconBench: reconciliation quality and throughput of Zentra against baselines (README.md)."""
