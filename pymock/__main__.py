"""``python -m pymock``: the same command line as ``pymock`` and ``mock_server.py``."""

import sys

from .cli import main

sys.exit(main())
