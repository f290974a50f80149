"""Shared by the benchmarks (a package, so that `make bench`, which runs bench/*.py, does not run it)."""
