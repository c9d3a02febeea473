"""Two microphones, one model: an `Engine` is loaded once and shared; each microphone gets its own `Stream`.

The engine holds no per-stream state (ONNX Runtime sessions are safe to call from several threads), so one loaded
model serves any number of inputs; each stream keeps its own ring buffer, smoothing and event sequence.

    python examples/two_microphones_one_engine.py --device 1 --device 2 [--seconds 30]
    python examples/two_microphones_one_engine.py --input a.wav --input b.wav    # files instead of microphones
"""

from __future__ import annotations

import argparse
import threading
from pathlib import Path

import slap_edge


def run_stream(name: str, engine: slap_edge.Engine, source: slap_edge.AudioSource, lock: threading.Lock) -> None:
    stream = engine.create_stream()
    try:
        for chunk in source.chunks():
            if isinstance(chunk, slap_edge.Gap):
                stream.skip(chunk.samples, chunk.dropped)
                continue
            stream.accept_waveform(chunk)  # the sources already deliver the engine's sample rate
            for result in stream.process():
                if isinstance(result, slap_edge.Event):
                    with lock:
                        print(f"[{name}] {result.t:7.2f} s  {result.section}: {result.label}  p={result.prob:.2f}")
    finally:
        source.close()
    with lock:
        print(f"[{name}] done: {stream.hops} hops, {stream.gated} without speech, {stream.dropped} dropped")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--device", action="append", default=[], help="input device index or name (twice)")
    parser.add_argument("--input", action="append", default=[], help="a sound file instead of a device (twice)")
    parser.add_argument("--prompts", default="demographics", help="a built-in set's name or a prompts.txt")
    parser.add_argument("--seconds", type=float, default=None, help="stop the microphones after this long")
    args = parser.parse_args()
    if len(args.device) + len(args.input) < 1:
        parser.error("give --device (or --input) once per microphone, e.g. --device 1 --device 2")

    engine = slap_edge.Engine.from_bundle("default", args.prompts)  # loaded once
    sources: list[tuple[str, slap_edge.AudioSource]] = []
    for dev in args.device:
        device = int(dev) if dev.isdigit() else dev
        sources.append((f"mic {dev}", slap_edge.MicSource(engine.sample_rate, device=device)))
    for path in args.input:
        sources.append((Path(path).name, slap_edge.FileSource(path, engine.sample_rate, realtime=False)))

    lock = threading.Lock()
    threads = [threading.Thread(target=run_stream, args=(n, engine, s, lock), name=n) for n, s in sources]
    if args.seconds is not None:
        for _, source in sources:
            threading.Timer(args.seconds, source.stop).start()
    for t in threads:
        t.start()
    try:
        for t in threads:
            t.join()
    except KeyboardInterrupt:
        for _, source in sources:
            source.stop()


if __name__ == "__main__":
    main()
