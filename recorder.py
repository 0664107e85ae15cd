"""Record real traffic into a replayable config: ``python recorder.py --target URL --out FILE``.

Thin entry point for record/replay (``pymock.recording``). Not built yet: it explains that and
exits 2 rather than pretending to record.
"""

import sys


def main(argv=None) -> int:
    try:
        from pymock.recording import main as recording_main
    except ImportError:
        print("recorder.py: recording is not available in this version of pymock yet "
              "(planned: proxy to --target and write a config that mock_server.py replays)",
              file=sys.stderr)
        return 2
    return recording_main(argv)


if __name__ == "__main__":
    sys.exit(main())
