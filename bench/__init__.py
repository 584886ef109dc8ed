"""Benchmarks: each ``bench/pN_*.py`` measures one thing side by side in one run and prints JSON."""
