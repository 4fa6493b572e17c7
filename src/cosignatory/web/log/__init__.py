"""The transparency log, stored in the Django database and served under ``/log/``."""
