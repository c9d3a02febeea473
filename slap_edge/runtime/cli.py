"""CLI commands of the runtime stage: `listen`, `devices`, `prompts embed` (no torch anywhere here)."""

from __future__ import annotations

import enum
import json
import logging
import math
import signal
import sys
from pathlib import Path
from typing import Any

import typer

from slap_edge.cli_support import fail as _fail
from slap_edge.output_files import AtomicTextFile, OutputPathError, check_not_input

log = logging.getLogger("slap_edge.runtime")

prompts_app = typer.Typer(help="Prompt files and prompt banks.", no_args_is_help=True)


class OutputFormat(str, enum.Enum):
    live = "live"
    jsonl = "jsonl"


def _check_numbers(
    finite: dict[str, float | None], positive: dict[str, float | None], nonnegative: dict[str, float]
) -> None:
    """Refuse NaN and inf in numeric options (typer parses "nan" as a float, and NaN passes every range check), and
    values out of range, naming the option."""
    for name, value in {**finite, **positive, **nonnegative}.items():
        if value is not None and not math.isfinite(value):
            raise _fail(f"{name} {value}: expected a finite number")
    for name, value in positive.items():
        if value is not None and value <= 0:
            raise _fail(f"{name} {value}: expected a positive number of seconds")
    for name, value in nonnegative.items():
        if value < 0:
            raise _fail(f"{name} {value}: expected a number of seconds >= 0")


def _raise_interrupt(signum: int, frame: Any) -> None:
    # SIGTERM (systemd stop) takes the same clean path as Ctrl-C.
    raise KeyboardInterrupt


def listen(
    bundle: str | None = typer.Option(
        None, "--bundle", "-b", help="Bundle folder or .tar.gz (spec/bundle.md). Default: the built-in model."
    ),
    prompts: str | None = typer.Option(
        None,
        "--prompts",
        "-p",
        help="prompts.txt (spec/prompts.md), or a built-in set's name (`slap-edge prompts list`), e.g. demographics.",
    ),
    bank: str | None = typer.Option(
        None, "--bank", help="Precomputed prompt bank (.npz from `prompts embed`, or a bundled bank's name)."
    ),
    heads: Path | None = typer.Option(
        None, "--heads", help="Adapted heads (.npz from `slap-edge adapt`): replace or add sections, calibrated."
    ),
    input_: str | None = typer.Option(
        None, "--input", "-i", help="Audio file, or '-' for raw s16le PCM on stdin. Default: the microphone."
    ),
    device: str | None = typer.Option(None, "--device", "-d", help="Input device index or name (`slap-edge devices`)."),
    rate: int = typer.Option(16000, "--rate", help="Sample rate of raw PCM on stdin."),
    channels: int = typer.Option(1, "--channels", help="Channels of raw PCM on stdin."),
    fast: bool = typer.Option(False, "--fast", help="Read --input as fast as possible instead of in real time."),
    fmt: OutputFormat | None = typer.Option(
        None, "--format", "-f", help="live (terminal table) or jsonl. Default: live on a terminal, else jsonl."
    ),
    out: Path | None = typer.Option(None, "--out", "-o", help="Write JSON lines here instead of stdout."),
    webhook: str | None = typer.Option(None, "--webhook", help="POST events to this http(s) URL."),
    mqtt: str | None = typer.Option(None, "--mqtt", help="Publish events to mqtt://HOST[:PORT]/TOPIC (extra 'mqtt')."),
    heartbeat_s: float = typer.Option(30.0, "--heartbeat", help="Seconds between MQTT heartbeats."),
    outbox_path: Path | None = typer.Option(
        None, "--outbox", help="Durable outbox for --webhook/--mqtt (default ~/.local/state/slap-edge/outbox.sqlite3)."
    ),
    outbox_max: int = typer.Option(10000, "--outbox-max", help="Undelivered messages kept per sink (oldest dropped)."),
    webhook_timeout_s: float = typer.Option(5.0, "--webhook-timeout", help="Seconds to wait for a webhook answer."),
    mqtt_timeout_s: float = typer.Option(10.0, "--mqtt-timeout", help="Seconds to wait for a broker's PUBACK."),
    retry_max_s: float = typer.Option(30.0, "--retry-max", help="Longest wait between delivery retries (s)."),
    drain_s: float = typer.Option(2.0, "--drain", help="At exit, seconds to keep delivering before leaving the rest."),
    hop_s: float | None = typer.Option(None, "--hop", help="Seconds between scores (default: the bundle's hop)."),
    threads: int = typer.Option(1, "--threads", help="ONNX Runtime intra-op threads."),
    frame_cache: bool = typer.Option(
        True,
        "--frame-cache/--no-frame-cache",
        help="Keep log-mel frames from hop to hop, so only new audio goes through the front end; --no-frame-cache "
        "runs audio.onnx whole every hop, bit for bit as `eval` does.",
    ),
    gate_kind: str = typer.Option(
        "vad", "--gate", help="Speech gate: vad (Silero VAD, the default), energy (loudness only) or off."
    ),
    vad_threshold: float = typer.Option(0.5, "--vad-threshold", help="--gate vad: speech probability of a frame."),
    vad_min_speech_s: float = typer.Option(
        0.3, "--vad-min-speech", help="--gate vad: seconds of speech frames a window needs to be scored."
    ),
    vad_recent_s: float = typer.Option(
        1.0, "--vad-recent", help="--gate vad: a scored window has speech in its last this many seconds."
    ),
    vad_noise_check: bool = typer.Option(
        True,
        "--vad-noise-check/--no-vad-noise-check",
        help="--gate vad: loud, unvoiced, dark frames (bangs, rumble) are not speech, whatever Silero says.",
    ),
    gate_db: float = typer.Option(-45.0, "--gate-db", help="--gate energy: frame energy threshold in dBFS."),
    no_gate: bool = typer.Option(False, "--no-gate", help="Score every window, speech or not (= --gate off)."),
    smoothing_s: float = typer.Option(0.75, "--smoothing", help="Time constant of the probability smoothing (s)."),
    min_dwell_s: float = typer.Option(0.5, "--min-dwell", help="A new decision must hold this long (s)."),
    verbose: bool = typer.Option(False, "--verbose", "-v", help="Log reconnects and other details to stderr."),
) -> None:
    """Listen to a microphone, a file or a pipe and say who is speaking, in the prompts' words."""
    from slap_edge.bundle_reader import BundleError
    from slap_edge.prompts import PromptsError
    from slap_edge.runtime.decision import DecisionConfig
    from slap_edge.runtime.engine import EngineError
    from slap_edge.runtime.gate import create_gate
    from slap_edge.runtime.listener import create_listener
    from slap_edge.runtime.outbox import Outbox, OutboxError, default_outbox_path, new_stream_id
    from slap_edge.runtime.outputs import JsonlSink, LiveSink, MqttSink, WebhookSink
    from slap_edge.runtime.sources import AudioSourceError, FileSource, MicSource, StdinSource

    logging.basicConfig(level=logging.INFO if verbose else logging.WARNING, format="%(levelname)s %(message)s")
    if prompts is None and bank is None and heads is None:
        raise _fail(
            "give --prompts prompts.txt or a built-in set such as demographics (or --bank bank.npz or --heads site.npz)"
        )
    _check_numbers(
        finite={"--gate-db": gate_db},
        positive={"--hop": hop_s, "--heartbeat": heartbeat_s},
        nonnegative={"--smoothing": smoothing_s, "--min-dwell": min_dwell_s},
    )
    if out is not None:
        try:
            check_not_input(out, [input_, prompts, bank, heads, bundle if bundle != "default" else None])
        except OutputPathError as exc:
            raise _fail(str(exc)) from exc
    try:
        decision = DecisionConfig(smoothing_s=smoothing_s, min_dwell_s=min_dwell_s)
        gate = create_gate(
            "off" if no_gate else gate_kind,
            threshold_db=gate_db,
            vad_threshold=vad_threshold,
            vad_min_speech_s=vad_min_speech_s,
            vad_recent_s=vad_recent_s,
            vad_noise_check=vad_noise_check,
        )
    except ValueError as exc:
        raise _fail(str(exc)) from exc
    fmt = fmt or (OutputFormat.live if sys.stdout.isatty() and out is None else OutputFormat.jsonl)
    sinks: list[Any] = []
    out_file: AtomicTextFile | None = None
    try:
        listener = create_listener(
            bundle,
            prompts,
            bank=bank,
            threads=threads,
            hop_s=hop_s,
            decision=decision,
            gate=gate,
            heads=heads,
            frame_cache=frame_cache,
        )
        if heads is not None:
            typer.echo(f"sections: {listener.engine.describe_sections()}", err=True)
        sr = listener.sample_rate
        if input_ is None:
            dev: int | str | None = int(device) if device is not None and device.isdigit() else device
            source: Any = MicSource(sr, device=dev)
        elif input_ == "-":
            source = StdinSource(sr, rate=rate, channels=channels)
        else:
            source = FileSource(input_, sr, realtime=not fast)
        if out is not None:
            # Lines go to OUT.XXXX.partial (flushed per line, so it can be followed) and replace OUT when the run
            # ends; a run that fails to start leaves OUT as it was (docs/kiosk-hardening.md).
            out_file = AtomicTextFile(out)
            sinks.append(JsonlSink(out_file, close_file=True))
            log.info("writing %s (renamed to %s when the run ends)", out_file.partial, out)
        elif fmt is OutputFormat.jsonl:
            sinks.append(JsonlSink(sys.stdout))
        if fmt is OutputFormat.live:
            sinks.append(LiveSink())
        if webhook or mqtt:
            outbox = Outbox(outbox_path or default_outbox_path(), max_messages=outbox_max)
            stream_id = new_stream_id()
        if webhook:
            sinks.append(
                WebhookSink(
                    webhook, outbox, stream_id, timeout_s=webhook_timeout_s, backoff_max_s=retry_max_s, drain_s=drain_s
                )
            )
        if mqtt:
            mqtt_sink = MqttSink(
                mqtt,
                outbox,
                stream_id,
                heartbeat_s=heartbeat_s,
                ack_timeout_s=mqtt_timeout_s,
                backoff_max_s=retry_max_s,
                drain_s=drain_s,
            )
            sinks.append(mqtt_sink)
            listener.on_scores = lambda _msg: mqtt_sink.update_stats(
                {"hops": listener.stream.hops, "dropped": listener.stream.dropped, "overflows": listener.overflows}
            )
    except (
        BundleError,
        PromptsError,
        EngineError,
        AudioSourceError,
        OutboxError,
        ValueError,
        ImportError,
        OSError,
    ) as exc:
        if out_file is not None:
            out_file.discard()
        for sink in sinks:
            sink.close()
        raise _fail(str(exc)) from exc
    listener.sinks = sinks
    previous = signal.signal(signal.SIGTERM, _raise_interrupt)
    try:
        summary = listener.run(source)
    except (AudioSourceError, EngineError, ValueError) as exc:  # ValueError: a message JSON cannot carry (NaN)
        raise _fail(str(exc)) from exc
    finally:
        signal.signal(signal.SIGTERM, previous)
    typer.echo(summary.describe(), err=True)
    if summary.hops == 0 and not summary.interrupted:
        # The source ended before a single hop: say so (and exit 2, as for an empty file) instead of printing nothing.
        name = "stdin" if input_ == "-" else (input_ or "the microphone")
        if summary.audio_s == 0:
            raise _fail(f"{name}: no audio arrived (the input ended before its first sample)")
        raise _fail(
            f"{name}: {summary.audio_s:.2f} s of audio is shorter than the shortest window scored "
            f"({summary.first_hop_s:.2f} s); nothing was scored"
        )


def devices(as_json: bool = typer.Option(False, "--json", help="Print JSON instead of a list.")) -> None:
    """List the input devices PortAudio sees (use the index or name with `listen --device`)."""
    from slap_edge.runtime.sources import AudioSourceError, describe_devices, list_input_devices

    try:
        found = list_input_devices()
    except AudioSourceError as exc:
        raise _fail(str(exc)) from exc
    typer.echo(json.dumps(found, indent=1) if as_json else describe_devices(found))


@prompts_app.command("list")
def prompts_list() -> None:
    """Show the prompt sets that ship with slap-edge (use the name with --prompts), their files and sections."""
    from slap_edge.prompt_sets import builtin_prompt_sets
    from slap_edge.prompts import load_prompts

    sets = builtin_prompt_sets()
    if not sets:
        raise _fail("this install has no built-in prompt sets (slap_edge/assets/prompts/ is missing)")
    for name, path in sets.items():
        sections = ", ".join(f"[{s.name}] {len(s.texts)}" for s in load_prompts(path).sections)
        typer.echo(f"{name:<16} {sections}\n{'':<16} {path}")


@prompts_app.command("show")
def prompts_show(name: str = typer.Argument(..., help="A built-in set's name (`slap-edge prompts list`).")) -> None:
    """Print a built-in prompt set, to start your own from it: `slap-edge prompts show demographics > prompts.txt`."""
    from slap_edge.prompt_sets import builtin_prompt_path
    from slap_edge.prompts import PromptsError

    try:
        typer.echo(builtin_prompt_path(name).read_text(encoding="utf-8"), nl=False)
    except PromptsError as exc:
        raise _fail(str(exc)) from exc


@prompts_app.command("embed")
def prompts_embed(
    prompts: str = typer.Argument(..., help="prompts.txt to embed, or a built-in set's name."),
    bundle: Path = typer.Option(..., "--bundle", "-b", help="A bundle with text.onnx."),
    out: Path = typer.Option(..., "--out", "-o", help="Where to write the bank (.npz)."),
    threads: int = typer.Option(1, "--threads", help="ONNX Runtime intra-op threads."),
) -> None:
    """Precompute a prompt bank, for devices whose bundle ships without text.onnx."""
    from slap_edge.bundle_reader import BundleError, load_bundle
    from slap_edge.prompt_sets import resolve_prompts
    from slap_edge.prompts import PromptsError
    from slap_edge.runtime.text import embed_prompts

    try:
        check_not_input(out, [prompts, bundle])
        b = load_bundle(bundle)
        prompt_set = resolve_prompts(prompts)
        bank = embed_prompts(b, prompt_set, threads=threads)
        bank.save(out)
    except (BundleError, PromptsError, OutputPathError, OSError) as exc:
        raise _fail(str(exc)) from exc
    sections = ", ".join(f"[{s.name}] {len(s.texts)}" for s in prompt_set.sections)
    typer.echo(f"wrote {out}: {len(prompt_set)} prompts ({sections}), model {b.model_id}, dim {bank.embed_dim}")


@prompts_app.command("check")
def prompts_check(prompts: str = typer.Argument(..., help="prompts.txt to check, or a built-in set's name.")) -> None:
    """Parse a prompts file and show its sections (errors name the file and line)."""
    from slap_edge.prompt_sets import resolve_prompts
    from slap_edge.prompts import PromptsError

    try:
        prompt_set = resolve_prompts(prompts)
    except PromptsError as exc:
        raise _fail(str(exc)) from exc
    for s in prompt_set.sections:
        typer.echo(f"[{s.name}]")
        for label, text in zip(s.labels, s.texts, strict=True):
            typer.echo(f"  {label} = {text}")


def register(app: typer.Typer) -> None:
    """Add this stage's commands to `app`."""
    app.command("listen")(listen)
    app.command("devices")(devices)
    app.add_typer(prompts_app, name="prompts")
