"""``python -m runner.sandbox.salesforce --state DIR``: serve the org emulator until ^C."""

from __future__ import annotations

import argparse
import json
import signal
import sys
import threading
from pathlib import Path

from mappings.errors import MappingError
from runner.errors import RunnerError
from runner.sandbox.salesforce.server import start_emulator


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m runner.sandbox.salesforce",
                                     description="Serve the local Salesforce org emulator.")
    parser.add_argument("--state", required=True, type=Path, help="state directory")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--reset", action="store_true", help="start with an empty org")
    parser.add_argument("--faults", default=None, help="e.g. latency=50ms,error503=0.1,seed=7")
    parser.add_argument("--metadata", action="append", type=Path, default=[],
                        help="org metadata overlay file (repeatable)")
    parser.add_argument("--daily-api-limit", type=int, default=15000)
    parser.add_argument("--connected-app", action="append", type=Path, default=[],
                        help="a connected app in ConnectedApp metadata JSON (consumerKey, "
                             "callbackUrl, scopes), beside the sandbox's own (repeatable)")
    args = parser.parse_args(argv)
    try:
        apps = [json.loads(path.read_text(encoding="utf-8")) for path in args.connected_app]
        handle = start_emulator(args.state, host=args.host, port=args.port, reset=args.reset,
                                faults=args.faults, metadata=args.metadata,
                                daily_api_limit=args.daily_api_limit, connected_apps=apps)
    except (RunnerError, MappingError, OSError, ValueError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    print(json.dumps(handle.as_json()), flush=True)
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    try:
        stop.wait()
    except KeyboardInterrupt:
        pass
    finally:
        handle.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
