"""`make demo`: listen with the built-in model, from the microphone when one works, else from a demo recording.

Runs in the kiosk install (no torch). The demo recording (`assets/demo/two_speakers.wav`) has a man, then a woman.
"""

from __future__ import annotations

import sys
from pathlib import Path

DEMO_RECORDING = Path(__file__).resolve().parent / "assets" / "demo" / "two_speakers.wav"
DEMO_PROMPTS = "demographics"  # a built-in prompt set (slap_edge/assets/prompts/demographics.txt)


def microphone_available() -> bool:
    """True when PortAudio loads and the default input device opens (headless machines usually have none)."""
    try:
        import sounddevice as sd

        with sd.InputStream(samplerate=16000, channels=1, blocksize=1600):
            pass
    except Exception:  # noqa: BLE001 - any failure means "use the recording instead"
        return False
    return True


def demo_arguments(use_microphone: bool) -> list[str]:
    args = ["listen", "--prompts", DEMO_PROMPTS]
    if not use_microphone:
        args += ["--input", str(DEMO_RECORDING)]
    return args


def main(argv: list[str] | None = None) -> None:
    from slap_edge.cli import app

    use_mic = microphone_available() if "--file" not in (argv or sys.argv[1:]) else False
    where = "the default microphone (Ctrl-C stops)" if use_mic else f"the demo recording {DEMO_RECORDING.name}"
    print(
        f"slap-edge demo: built-in model, the built-in prompt set demographics, listening to {where}", file=sys.stderr
    )
    app(demo_arguments(use_mic), prog_name="slap-edge")


if __name__ == "__main__":
    main()
