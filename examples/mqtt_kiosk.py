"""A kiosk: the microphone in, events out to an MQTT broker (needs `pip install 'slap-edge[mqtt]'`).

Events go to TOPIC/event, a heartbeat to TOPIC/heartbeat, and TOPIC/status says online/offline (retained).

    python examples/mqtt_kiosk.py --broker mqtt://localhost:1883/kiosk/1
    python examples/mqtt_kiosk.py --broker mqtt://localhost:1883/kiosk/1 --input talk.wav   # a file, not a mic
"""

from __future__ import annotations

import argparse
import signal
import sys
from typing import Any

import slap_edge


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--broker", required=True, help="mqtt://HOST[:PORT]/TOPIC")
    parser.add_argument("--prompts", default="demographics", help="a built-in set's name or a prompts.txt")
    parser.add_argument("--heartbeat", type=float, default=30.0, help="seconds between heartbeats")
    parser.add_argument("--input", default=None, help="a sound file instead of the microphone")
    parser.add_argument("--outbox", default=None, help="the on-disk outbox (default: the user's state folder)")
    args = parser.parse_args()

    from slap_edge.runtime.outbox import Outbox, default_outbox_path
    from slap_edge.runtime.outputs import MqttSink

    # Events wait in a durable outbox until the broker acknowledges them (QoS 1): nothing is lost to an outage.
    outbox = Outbox(args.outbox or default_outbox_path())
    mqtt = MqttSink(args.broker, outbox, heartbeat_s=args.heartbeat)
    if not mqtt.connected.wait(timeout=10):
        mqtt.close()
        sys.exit(f"no MQTT broker answered at {args.broker} within 10 s")
    listener = slap_edge.create_listener(prompts=args.prompts, sinks=[mqtt])

    def stop(signum: int, frame: Any) -> None:  # systemd stops services with SIGTERM
        listener.stop()

    signal.signal(signal.SIGTERM, stop)
    source = (
        slap_edge.FileSource(args.input, listener.sample_rate, realtime=False)
        if args.input
        else slap_edge.MicSource(listener.sample_rate)
    )
    summary = listener.run(source)  # runs to the end of the input, Ctrl-C or SIGTERM; then closes the sink
    print(summary.describe())


if __name__ == "__main__":
    main()
