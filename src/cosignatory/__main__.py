"""``python -m cosignatory``: the same as the ``cosignatory`` command."""

from cosignatory.cli.main import run

run()
