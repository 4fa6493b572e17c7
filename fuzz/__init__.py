"""Fuzzing harnesses for every parser of outside data (see fuzz/README.md)."""
