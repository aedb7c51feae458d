"""Benchmarks: `make bench` (python -m bench) measures and writes bench/RESULTS.md."""
