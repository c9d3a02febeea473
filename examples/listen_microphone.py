"""Listen to the default microphone and print each event (a section's decision changing) as it happens.

    python examples/listen_microphone.py [--device 2] [--prompts demographics] [--seconds 30]
    python examples/listen_microphone.py --input talk.wav     # the same loop on a file, for a machine without one

Ctrl-C stops. `slap-edge devices` lists the input devices.
"""

from __future__ import annotations

import argparse
import threading

import slap_edge


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--prompts", default="demographics", help="a built-in set's name or a prompts.txt")
    parser.add_argument("--device", default=None, help="input device index or name (default: the system's)")
    parser.add_argument("--seconds", type=float, default=None, help="stop after this long (default: Ctrl-C)")
    parser.add_argument("--input", default=None, help="read this sound file in real time instead of a microphone")
    args = parser.parse_args()

    listener = slap_edge.create_listener(prompts=args.prompts)
    if args.seconds is not None:
        threading.Timer(args.seconds, listener.stop).start()  # stop() is safe from another thread
    if args.input:
        results = listener.listen_file(args.input, realtime=True)
    else:
        device = int(args.device) if args.device is not None and args.device.isdigit() else args.device
        results = listener.listen_microphone(device=device)
    try:
        for result in results:
            if isinstance(result, slap_edge.Event):
                was = f" (was {result.previous})" if result.previous else ""
                print(f"{result.t:7.2f} s  {result.section}: {result.label}  p={result.prob:.2f}{was}", flush=True)
    except KeyboardInterrupt:
        pass
    print(listener.summary().describe())


if __name__ == "__main__":
    main()
