"""Score a sound file with the built-in model and print one JSON line per hop and per event.

python examples/listen_file.py talk.wav [--prompts demographics]
"""

from __future__ import annotations

import argparse

import slap_edge


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("audio", help="WAV, FLAC or OGG; any sample rate, any number of channels")
    parser.add_argument("--prompts", default="demographics", help="a built-in set's name or a prompts.txt")
    args = parser.parse_args()

    listener = slap_edge.create_listener(prompts=args.prompts)
    for result in listener.listen_file(args.audio):
        print(result.to_json())


if __name__ == "__main__":
    main()
