"""Benchmarks of Cosignatory's log against pymerkle, run with ``python -m bench``.

Benchmarks are never timed assertions in the tests: machines are shared and noisy, so
every figure here is printed beside a baseline measured in the same run on the same
machine. See docs/performance.md for the command and the latest figures.
"""
