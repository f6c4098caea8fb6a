"""Reproducible benchmarks that print a table (`make bench`). Not part of the service."""
