"""Child-process entry of the bench: ``python -m slap_edge.bench.worker KIND SPEC.json OUT.json``.

Each backend and peer runs in a fresh interpreter, so its imports, peak memory and cold start are its own. The
result (or the reason it could not run) is written as JSON to OUT; the exit status is 0 either way, except for a
crash, whose traceback the parent reports.
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path

from slap_edge.bench.process import process_start_epoch


def main(argv: list[str]) -> int:
    if len(argv) != 3 or argv[0] not in ("listen", "peer"):
        print("usage: python -m slap_edge.bench.worker {listen|peer} SPEC.json OUT.json", file=sys.stderr)
        return 2
    kind, spec_path, out_path = argv
    spec_dict = json.loads(Path(spec_path).read_text(encoding="utf-8"))
    started = process_start_epoch()
    if kind == "listen":
        from slap_edge.bench.listen_path import BackendUnavailableError, ListenPathSpec, measure_listen_path

        unavailable: tuple[type[Exception], ...] = (BackendUnavailableError,)
        spec = ListenPathSpec(**spec_dict)
        run = lambda: measure_listen_path(spec)  # noqa: E731
    else:
        from slap_edge.bench.peers import PeerSpec, PeerUnavailableError, measure_peer

        unavailable = (PeerUnavailableError,)
        pspec = PeerSpec(**spec_dict)
        run = lambda: measure_peer(pspec)  # noqa: E731
    try:
        result = {"status": "ok", **run()}
    except unavailable as exc:
        result = {"status": "unavailable", "reason": str(exc)}
    result["process_start_epoch"] = started
    result["finished_epoch"] = time.time()
    Path(out_path).write_text(json.dumps(result), encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
