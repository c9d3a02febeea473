"""Replay the hostile-user cases of issue 23 (items 1 and 4-7) through the real command line, before and after.

Each case runs `slap-edge` as a user would (built-in bundle, a kiosk prompts file), with the package taken from
``--code`` (a checkout: its folder goes first on PYTHONPATH), and records the exit status, the first line of stderr,
whether an input file was changed, and whether bare NaN reached the JSON output. Kiosk-install cases run with the
base venv's python (no torch, no scikit-learn, no data extra).

    python benchmarks/kiosk_hardening_repro.py --code /work/main --label main \\
        --code . --label branch --out benchmarks/results/kiosk-hardening/repro
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import platform
import shutil
import subprocess
import sys
import tarfile
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import soundfile as sf

PROMPTS = "[gender]\nfemale = a woman is speaking\nmale = a man is speaking\n"
SR = 16000


@dataclasses.dataclass
class Case:
    item: str
    name: str
    run: Callable[[Path, Path, dict], dict]  # (work folder, bundle copy, env) -> outcome
    kiosk: bool = False


def _tone(path: Path, seconds: float, stereo_anti: bool = False) -> Path:
    t = np.arange(int(seconds * SR)) / SR
    x = 0.3 * np.sin(2 * np.pi * 180 * t) * (1 + 0.5 * np.sin(2 * np.pi * 3 * t))
    sf.write(str(path), np.stack([x, -x], axis=1) if stereo_anti else x, SR, subtype="PCM_16")
    return path


def _cli(python: str, args: list[str], env: dict, stdin: bytes | None = None) -> subprocess.CompletedProcess:
    # `python -m` puts the working folder first on sys.path: run from the case's folder, so PYTHONPATH decides.
    return subprocess.run(
        [python, "-m", "slap_edge.cli", *args],
        input=stdin,
        capture_output=True,
        env=env,
        timeout=600,
        cwd=env["CASE_DIR"],
    )


def _outcome(res: subprocess.CompletedProcess, **extra: object) -> dict:
    err = res.stderr.decode(errors="replace").strip().splitlines()
    first = next((line for line in err if line.startswith(("error", "Error", "Traceback", "WARNING"))), "")
    if not first and err:
        first = err[-1]
    out = res.stdout.decode(errors="replace")
    return {
        "exit": res.returncode,
        "stderr": first[:200],
        "traceback": any(line.startswith("Traceback") for line in err),
        "bare_nan_in_output": "NaN" in out,
        **extra,
    }


def _listen(w: Path, env: dict, py: str, *args: str, stdin: bytes | None = None) -> subprocess.CompletedProcess:
    return _cli(py, ["listen", "-p", str(w / "p.txt"), "-f", "jsonl", *args], env, stdin)


def cases(py: str, kiosk_py: str | None) -> list[Case]:
    def out_is_input(w: Path, b: Path, env: dict) -> dict:
        wav = _tone(w / "x.wav", 2.0)
        before = wav.read_bytes()
        res = _listen(w, env, py, "-i", str(wav), "--fast", "--out", str(wav))
        return _outcome(res, input_intact=wav.read_bytes() == before)

    def out_is_prompts(w: Path, b: Path, env: dict) -> dict:
        res = _listen(w, env, py, "-i", str(_tone(w / "x.wav", 2.0)), "--fast", "--out", str(w / "p.txt"))
        return _outcome(res, input_intact=(w / "p.txt").read_text() == PROMPTS)

    def unclosed(w: Path, b: Path, env: dict) -> dict:
        (w / "bad.txt").write_text("[gender\nfemale = a woman is speaking\nmale = a man is speaking\n")
        return _outcome(_cli(py, ["prompts", "check", str(w / "bad.txt")], env))

    def scale(value: str) -> Callable[[Path, Path, dict], dict]:
        def run(w: Path, b: Path, env: dict) -> dict:
            m = (b / "manifest.json").read_text()
            m = json.dumps({**json.loads(m), "scoring": {"logit_scale": "@@"}}).replace('"@@"', value)
            (b / "manifest.json").write_text(m)
            verify = _cli(py, ["bundle", "verify", str(b)], env)
            res = _listen(w, env, py, "-b", str(b), "-i", str(_tone(w / "x.wav", 2.0)), "--fast", "--no-gate")
            return _outcome(res, bundle_verify_exit=verify.returncode)

        return run

    def smoothing_nan(w: Path, b: Path, env: dict) -> dict:
        return _outcome(
            _listen(w, env, py, "-i", str(_tone(w / "x.wav", 2.0)), "--fast", "--no-gate", "--smoothing", "nan")
        )

    def truncated_tar(w: Path, b: Path, env: dict) -> dict:
        with tarfile.open(w / "b.tar.gz", "w:gz") as tf:
            tf.add(b, arcname="b")
        data = (w / "b.tar.gz").read_bytes()
        (w / "cut.tar.gz").write_bytes(data[: len(data) // 2])
        return _outcome(_cli(py, ["bundle", "verify", str(w / "cut.tar.gz")], env))

    def corrupt_bank(w: Path, b: Path, env: dict) -> dict:
        (w / "bank.npz").write_bytes(b"PK\x03\x04" + os.urandom(200))
        return _outcome(_cli(py, ["listen", "--bank", str(w / "bank.npz"), "-i", str(_tone(w / "x.wav", 1.0))], env))

    def missing_file(w: Path, b: Path, env: dict) -> dict:
        return _outcome(_listen(w, env, py, "-i", str(w / "none.wav"), "--fast"))

    def closed_stdin(w: Path, b: Path, env: dict) -> dict:
        return _outcome(_listen(w, env, py, "-i", "-", stdin=b""))

    def short_clip(w: Path, b: Path, env: dict) -> dict:
        res = _listen(w, env, py, "-i", str(_tone(w / "s.wav", 0.3)), "--fast")
        return _outcome(res, lines=len(res.stdout.splitlines()))

    def long_hop(w: Path, b: Path, env: dict) -> dict:
        return _outcome(_listen(w, env, py, "-i", str(_tone(w / "x.wav", 2.0)), "--fast", "--hop", "10"))

    def rate_one(w: Path, b: Path, env: dict) -> dict:
        return _outcome(_listen(w, env, py, "-i", "-", "--rate", "1", stdin=b"\x00\x01" * 8000))

    def flac_stdin(w: Path, b: Path, env: dict) -> dict:
        wav = _tone(w / "x.wav", 2.0)
        x, _ = sf.read(str(wav))
        sf.write(str(w / "x.flac"), x, SR)
        return _outcome(_listen(w, env, py, "-i", "-", stdin=(w / "x.flac").read_bytes()))

    def anti_phase(w: Path, b: Path, env: dict) -> dict:
        return _outcome(_listen(w, env, py, "-i", str(_tone(w / "a.wav", 2.0, stereo_anti=True)), "--fast"))

    out = [
        Case("1", "listen --out = the input wav", out_is_input),
        Case("1", "listen --out = the prompts file", out_is_prompts),
        Case("4", "prompts check on an unclosed [gender", unclosed),
        Case("5", "manifest logit_scale NaN (verify, then listen)", scale("NaN")),
        Case("5", "manifest logit_scale 1e300 (verify, then listen)", scale("1e300")),
        Case("5", "listen --smoothing nan", smoothing_nan),
        Case("6", "bundle verify on a truncated .tar.gz", truncated_tar),
        Case("6", "listen --bank corrupt .npz", corrupt_bank),
        Case("6", "listen -i missing.wav", missing_file),
        Case("7", "listen -i - with stdin closed", closed_stdin),
        Case("7", "listen on a 0.3 s clip", short_clip),
        Case("7", "listen --hop 10 (window 3 s)", long_hop),
        Case("7", "listen -i - --rate 1", rate_one),
        Case("7", "listen -i - fed FLAC bytes", flac_stdin),
        Case("7", "listen on anti-phase stereo", anti_phase),
    ]
    if kiosk_py:

        def doctor(w: Path, b: Path, env: dict) -> dict:
            res = _cli(kiosk_py, ["doctor"], {**env, "COLUMNS": "250"})
            return _outcome(res, shows_train_extra="slap-edge[train]" in res.stdout.decode())

        def bench_torch(w: Path, b: Path, env: dict) -> dict:
            t0 = time.monotonic()
            res = _cli(kiosk_py, ["bench", "--backend", "torch", "--no-peers", "--seconds", "5"], env)
            return _outcome(res, seconds=round(time.monotonic() - t0, 1))

        def eval_probe(w: Path, b: Path, env: dict) -> dict:
            root = w / "suite"
            (root / "audio").mkdir(parents=True)
            task = {"name": "g", "category": "x", "classes": {"female": ["a woman"], "male": ["a man"]}}
            (root / "suite.json").write_text(json.dumps({"name": "t", "version": 1, "tasks": [task]}))
            lines = []
            for i in range(4):
                _tone(root / "audio" / f"{i}.wav", 1.0)
                lines.append(
                    {"path": f"audio/{i}.wav", "task": "g", "label": ["female", "male"][i % 2], "speaker": str(i)}
                )
            (root / "clips.jsonl").write_text("".join(json.dumps(x) + "\n" for x in lines))
            return _outcome(_cli(kiosk_py, ["eval", "--model", "default", "--suite", str(root)], env))

        def synth(w: Path, b: Path, env: dict) -> dict:
            res = _cli(kiosk_py, ["data", "synth", "--out", str(w / "c"), "--clips", "20"], env)
            return _outcome(res, error_lines=res.stderr.decode(errors="replace").count("rror"))

        out += [
            Case("6", "kiosk: doctor table", doctor, kiosk=True),
            Case("6", "kiosk: bench --backend torch", bench_torch, kiosk=True),
            Case("6", "kiosk: eval (probe on by default)", eval_probe, kiosk=True),
            Case("7", "kiosk: data synth --clips 20", synth, kiosk=True),
        ]
    return out


def run(code: Path, python: str, kiosk_python: str | None) -> list[dict]:
    from slap_edge.bundle_reader import default_bundle_path

    results = []
    for case in cases(python, kiosk_python):
        with tempfile.TemporaryDirectory(prefix="slap-repro-") as tmp:
            w = Path(tmp)
            (w / "p.txt").write_text(PROMPTS)
            bundle = w / "bundle"
            shutil.copytree(default_bundle_path(), bundle)
            env = {
                **os.environ,
                "PYTHONPATH": str(code.resolve()),
                "SLAP_EDGE_CACHE": str(w / "cache"),
                "CASE_DIR": tmp,
            }
            t0 = time.monotonic()
            outcome = case.run(w, bundle, env)
            outcome["wall_s"] = round(time.monotonic() - t0, 1)
            results.append({"item": case.item, "case": case.name, **outcome})
            print(f"[{code}] {case.name}: {outcome}", file=sys.stderr, flush=True)
    return results


def _cpu_name() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def _git(code: Path, *args: str) -> str:
    return subprocess.run(["git", "-C", str(code), *args], capture_output=True, text=True).stdout.strip()


def render_markdown(report: dict) -> str:
    labels = list(report["runs"])
    md = [f"# {report['what']}", "", f"`{report['command']}`", "", f"Machine: {report['machine']}", ""]
    for label in labels:
        md.append(f"- {label}: commit {report['runs'][label]['commit'][:12]}")
    md += [
        "",
        "Each cell: exit status, flags (input_intact: the input file is unchanged afterwards; bare_nan_in_output: "
        "`NaN` in the JSON lines), and the first error or warning line of stderr (else its last line).",
        "",
        "| item | case | " + " | ".join(labels) + " |",
        "|---|---|" + "---|" * len(labels),
    ]
    for row in zip(*(report["runs"][label]["results"] for label in labels), strict=True):
        cells = []
        for r in row:
            extra = {k: v for k, v in r.items() if k not in ("item", "case", "exit", "stderr", "wall_s", "traceback")}
            flags = ", ".join(f"{k}={v}" for k, v in extra.items())
            cells.append(f"exit {r['exit']}{' TRACEBACK' if r['traceback'] else ''}; {flags}; `{r['stderr'][:110]}`")
        md.append(f"| {row[0]['item']} | {row[0]['case']} | " + " | ".join(c.replace("|", "/") for c in cells) + " |")
    return "\n".join(md) + "\n"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--code", type=Path, action="append", required=True, help="A checkout to test (repeatable).")
    ap.add_argument("--label", action="append", required=True, help="A name for each --code.")
    ap.add_argument("--python", default=sys.executable, help="Python with every extra (the full venv).")
    ap.add_argument("--kiosk-python", default=None, help="Python of a base-only venv (kiosk install).")
    ap.add_argument("--out", type=Path, required=True, help="Writes OUT.json and OUT.md.")
    args = ap.parse_args()
    report = {
        "what": "issue 23 items 1, 4-7 replayed through the CLI (built-in bundle)",
        "command": " ".join(sys.argv),
        "machine": f"{_cpu_name()}, {os.cpu_count()} cores, {platform.platform()}",
        "runs": {},
    }
    for code, label in zip(args.code, args.label, strict=True):
        report["runs"][label] = {
            "commit": _git(code, "rev-parse", "HEAD"),
            "dirty": bool(_git(code, "status", "--porcelain", "--untracked-files=no")),
            "results": run(code, args.python, args.kiosk_python),
        }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.with_suffix(".json").write_text(json.dumps(report, indent=1) + "\n")
    args.out.with_suffix(".md").write_text(render_markdown(report))
    print(f"wrote {args.out.with_suffix('.json')} and .md", file=sys.stderr)


if __name__ == "__main__":
    main()
