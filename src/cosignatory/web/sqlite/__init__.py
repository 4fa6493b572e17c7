"""Django's SQLite backend, with the register's writers taking turns (see :mod:`.base`)."""
