"""Run the pymock server: ``python mock_server.py [config.json] [--port 8080]``.

Thin on purpose: everything lives in the ``pymock`` package next to this file, so copying
this file and ``pymock/`` into another repository is the whole install.
"""

import sys

from pymock.cli import main

if __name__ == "__main__":
    sys.exit(main())
