"""Record real traffic into a replayable config.

    python recorder.py --target https://api.example.com --out recordings.json [--port 8080]

Runs a recording proxy (it prints ``listening on http://HOST:PORT`` first). On SIGTERM or
SIGINT, ``POST /__admin/recordings/stop`` or every ``--every`` seconds it writes a config that
``python mock_server.py --config recordings.json`` replays. ``--help`` lists the options
(match conditions, redaction, de-duplication, sequences). Thin: everything lives in
``pymock.recording``, standard library only.
"""

import sys

from pymock.recording import main

if __name__ == "__main__":
    sys.exit(main())
