"""``python -m convmem.cli``: the same command line as the ``convmem`` script."""

import os

from convmem.cli.main import app

os.environ.setdefault("PYTHONUNBUFFERED", "1")
app()
