"""int8 on the two kinds of ONNX Runtime integer kernel: exact (VNNI, AMX, ARM) and saturating (AVX2/AVX-512
without VNNI, vpmaddubsw).

Measures, on whatever CPU runs it:
- the built-in bundle's audio.onnx on the demo WAV's windows (and its text.onnx on the example prompts): embeddings
  from ONNX Runtime on this CPU, and from the graph rewritten to compute as each kernel kind does
  (`slap_edge.export.int8_kernels.emulate_integer_kernels`); cosine and top-prompt agreement between the paths.
  The bundle carries no fp32 graph, so the exact path is the reference there.
- with ``--test-model``: the ViT test student (student-vit-tiny, seed 0) exported to fp32 and quantized with
  full-range int8 weights (the old recipe) and with 7-bit weights (the new default), int8 vs fp32 on each path.
- with ``--qemu-cpu Haswell-noTSX``: the same int8 files run by ONNX Runtime under `qemu-x86_64 -cpu ...` (Debian
  package qemu-user), so MLAS really takes its AVX2 path (qemu's CPU has no AVX-512 and no VNNI): a measurement of
  that path, not an emulation. Slow (minutes per file).

    PYTHONPATH=. python benchmarks/bench_int8_kernels.py --test-model --qemu-cpu Haswell-noTSX \\
        --out benchmarks/results/int8-kernels
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
DEFAULT_BUNDLE = ROOT / "slap_edge" / "assets" / "default"
DEFAULT_WAV = ROOT / "slap_edge" / "assets" / "demo" / "two_speakers.wav"
DEFAULT_PROMPTS = sorted((ROOT / "runtime" / "prompts").glob("*.txt"))


def _session(path: Path) -> Any:
    import onnxruntime as ort

    options = ort.SessionOptions()
    options.intra_op_num_threads = 1
    options.log_severity_level = 3
    return ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])


def _run(path: Path, feeds: dict[str, np.ndarray]) -> np.ndarray:
    """First output of ``path``; text feeds are run one row at a time (their masks differ)."""
    session = _session(path)
    names = {i.name for i in session.get_inputs()}
    if "waveform" in names:
        return session.run(None, {"waveform": feeds["waveform"]})[0]
    rows = []
    for i in range(feeds["input_ids"].shape[0]):
        n = int(feeds["attention_mask"][i].sum())
        row = {k: v[i : i + 1, :n] for k, v in feeds.items() if k in names}
        rows.append(session.run(None, row)[0].reshape(-1))
    return np.stack(rows)


def _cos(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    a = a / np.linalg.norm(a, axis=1, keepdims=True)
    b = b / np.linalg.norm(b, axis=1, keepdims=True)
    return (a * b).sum(1)


def _summary(c: np.ndarray) -> dict[str, float]:
    return {"min_cosine": round(float(c.min()), 6), "mean_cosine": round(float(c.mean()), 6)}


def _under_qemu(cpu: str, model: Path, feeds: dict[str, np.ndarray], tmp: Path) -> np.ndarray:
    """Embeddings from ONNX Runtime running under qemu-x86_64 with CPU model ``cpu`` (this script's --worker)."""
    qemu = shutil.which("qemu-x86_64")
    if qemu is None:
        raise SystemExit("--qemu-cpu needs qemu-x86_64 (Debian: apt-get install qemu-user)")
    np.savez(tmp / "feeds.npz", **feeds)
    out = tmp / f"{model.stem}.qemu.npy"
    cmd = [qemu, "-cpu", cpu, sys.executable, __file__, "--worker", str(model), str(tmp / "feeds.npz"), str(out)]
    subprocess.run(cmd, check=True, stderr=subprocess.DEVNULL)
    return np.load(out)


def _paths(
    model: Path, feeds: dict[str, np.ndarray], tmp: Path, qemu_cpu: str | None
) -> tuple[dict[str, np.ndarray], dict[str, Any]]:
    """Embeddings of ``model`` natively, emulated exact and emulated saturating (and under qemu when asked)."""
    from slap_edge.export.int8_kernels import emulate_integer_kernels

    out = {"native": _run(model, feeds)}
    info: dict[str, Any] = {}
    for name, saturate in (("exact", False), ("saturating", True)):
        emulated = tmp / f"{model.stem}.{name}.onnx"
        report = emulate_integer_kernels(model, emulated, saturate=saturate)
        info["max_weight_abs"] = report.max_weight_abs
        info["rewritten_nodes"] = report.nodes
        out[f"emulated_{name}"] = _run(emulated, feeds)
    if qemu_cpu:
        out[f"qemu_{qemu_cpu}"] = _under_qemu(qemu_cpu, model, feeds, tmp)
    return out, info


def _demo_windows(bundle: Path, wav: Path) -> np.ndarray:
    from slap_edge.runtime.sources import read_audio

    manifest = json.loads((bundle / "manifest.json").read_text())
    rate, window, hop = manifest["audio"]["sample_rate"], manifest["audio"]["window_s"], manifest["audio"]["hop_s"]
    wave = read_audio(wav, rate)
    n, step = int(round(window * rate)), int(round(hop * rate))
    starts = range(0, max(1, wave.shape[0] - n + 1), step)
    return np.stack([np.pad(wave[s : s + n], (0, max(0, n - wave[s : s + n].shape[0]))) for s in starts]).astype(
        np.float32
    )


def _prompt_feeds(bundle: Path, prompt_files: list[Path]) -> tuple[dict[str, np.ndarray], list[str], list[str]]:
    from tokenizers import Tokenizer

    from slap_edge.prompts import load_prompts

    texts, sections = [], []
    for path in prompt_files:
        prompts = load_prompts(path)
        texts += prompts.texts
        sections += [f"{path.stem}/{s}" for s in prompts.section_of_prompt]
    tokenizer = Tokenizer.from_file(str(bundle / "tokenizer.json"))
    tokenizer.enable_padding()
    enc = tokenizer.encode_batch(texts)
    feeds = {
        "input_ids": np.array([e.ids for e in enc], np.int64),
        "attention_mask": np.array([e.attention_mask for e in enc], np.int64),
        "token_type_ids": np.array([e.type_ids for e in enc], np.int64),
    }
    return feeds, texts, sections


def _agreement(audio_a: np.ndarray, audio_b: np.ndarray, text: np.ndarray, sections: list[str]) -> float:
    """Share of (window, prompt section) decisions whose top prompt is the same for the two audio embeddings."""
    same, total = 0, 0
    for section in sorted(set(sections)):
        idx = [i for i, s in enumerate(sections) if s == section]
        top_a = (audio_a @ text[idx].T).argmax(1)
        top_b = (audio_b @ text[idx].T).argmax(1)
        same += int((top_a == top_b).sum())
        total += top_a.size
    return same / max(1, total)


def bench_bundle(bundle: Path, wav: Path, prompt_files: list[Path], tmp: Path, qemu_cpu: str | None) -> dict:
    waves = _demo_windows(bundle, wav)
    audio, info = _paths(bundle / "audio.onnx", {"waveform": waves}, tmp, qemu_cpu)
    result: dict[str, Any] = {"bundle": str(bundle.relative_to(ROOT)), "wav": str(wav.relative_to(ROOT))}
    result["audio"] = {"windows": int(waves.shape[0]), **info}
    ref = audio["emulated_exact"]
    result["audio"]["vs_emulated_exact"] = {
        k: _summary(_cos(v, ref)) for k, v in audio.items() if k != "emulated_exact"
    }
    result["audio"]["native_max_abs_diff_vs_emulated_exact"] = float(np.abs(audio["native"] - ref).max())
    if (bundle / "text.onnx").is_file():
        feeds, texts, sections = _prompt_feeds(bundle, prompt_files)
        text, tinfo = _paths(bundle / "text.onnx", feeds, tmp, None)
        tref = text["emulated_exact"]
        result["text"] = {
            "prompts": len(texts),
            **tinfo,
            "vs_emulated_exact": {k: _summary(_cos(v, tref)) for k, v in text.items() if k != "emulated_exact"},
        }
        result["top_prompt_agreement_with_exact"] = {
            "audio saturating, text exact": _agreement(audio["emulated_saturating"], ref, tref, sections),
            "audio and text saturating": _agreement(
                audio["emulated_saturating"], ref, text["emulated_saturating"], sections
            ),
            "audio native, text native": _agreement(audio["native"], ref, text["native"], sections),
        }
    return result


def bench_test_model(tmp: Path, qemu_cpu: str | None) -> dict:
    sys.path.insert(0, str(ROOT / "tests" / "export"))
    from export_testlib import student

    from slap_edge.export.onnx import audio_metadata, export_audio_onnx, speech_like_waveforms
    from slap_edge.export.quantize import quantize_audio_onnx

    model = student("student-vit-tiny")
    cfg = model.config
    meta = audio_metadata(
        model_name=cfg.name, model_id_="x", embed_dim=cfg.embed_dim, window_s=cfg.window_s, frontend=cfg.frontend
    )
    fp32 = export_audio_onnx(model.audio_export_module(), tmp / "vit.fp32.onnx", window_samples=48000, metadata=meta)
    waves = np.concatenate([speech_like_waveforms(3, 48000, seed=s).numpy() for s in (1, 2, 3)])
    if qemu_cpu:
        waves = waves[:3]  # qemu is slow; three windows per file
    ref = _run(fp32, {"waveform": waves})
    out: dict[str, Any] = {"model": "student-vit-tiny (torch seed 0, untrained)", "windows": int(waves.shape[0])}
    for graph, for_tensorrt, seed, count in (("dynamic", False, 5, 4), ("tensorrt_qdq", True, 6, 2)):
        calibration = list(speech_like_waveforms(count, 48000, seed=seed).numpy())
        for label, reduce_range in (("full_range_int8_weights", False), ("7bit_weights", True)):
            path = tmp / f"vit.{graph}.{label}.onnx"
            quantize_audio_onnx(
                fp32, path, calibration=calibration, for_tensorrt=for_tensorrt, reduce_range=reduce_range
            )
            emb, info = _paths(path, {"waveform": waves}, tmp, qemu_cpu)
            out[f"{graph}/{label}"] = {**info, "vs_fp32": {k: _summary(_cos(v, ref)) for k, v in emb.items()}}
            if qemu_cpu:
                measured = emb[f"qemu_{qemu_cpu}"]
                out[f"{graph}/{label}"]["qemu_max_abs_diff"] = {
                    k: float(np.abs(v - measured).max()) for k, v in emb.items() if not k.startswith("qemu")
                }
    return out


def _markdown(result: dict) -> str:
    lines = [
        "# int8 on the exact and the saturating ONNX Runtime kernels",
        "",
        f"- measured on: {result['measured_on']['describe']}",
        f"- commit {result['commit']}, {result['created_at']}; command: `{result['command']}`",
        "- `native`: ONNX Runtime on this CPU; `emulated_exact` / `emulated_saturating`: the int8 graph rewritten",
        "  to compute as VNNI/AMX/ARM kernels do, or as AVX2/AVX-512 kernels without VNNI do (16-bit saturating",
        "  pair sums); `qemu_*`: ONNX Runtime under qemu-x86_64 with that CPU model (a real AVX2 run).",
        "",
    ]
    b = result["bundle"]
    lines += [f"## Built-in bundle `{b['bundle']}` on `{b['wav']}` ({b['audio']['windows']} windows)", ""]
    lines += ["| audio.onnx vs emulated exact | min cosine | mean cosine |", "|---|---|---|"]
    lines += [
        f"| {k} | {v['min_cosine']:.6f} | {v['mean_cosine']:.6f} |" for k, v in b["audio"]["vs_emulated_exact"].items()
    ]
    lines += ["", f"max |int8 weight| {b['audio']['max_weight_abs']} (64 or less cannot saturate)", ""]
    if "text" in b:
        lines += ["| text.onnx vs emulated exact | min cosine | mean cosine |", "|---|---|---|"]
        lines += [
            f"| {k} | {v['min_cosine']:.6f} | {v['mean_cosine']:.6f} |"
            for k, v in b["text"]["vs_emulated_exact"].items()
        ]
        lines += ["", "| top prompt per window and section, agreement with the exact path | share |", "|---|---|"]
        lines += [f"| {k} | {v:.3f} |" for k, v in b["top_prompt_agreement_with_exact"].items()]
        lines.append("")
    if "test_model" in result:
        t = result["test_model"]
        lines += [f"## {t['model']}, int8 vs fp32 on {t['windows']} windows", ""]
        lines += ["| graph / weights | path | min cosine | mean cosine |", "|---|---|---|---|"]
        for key, entry in t.items():
            if isinstance(entry, dict):
                for path, v in entry["vs_fp32"].items():
                    lines.append(f"| {key} | {path} | {v['min_cosine']:.6f} | {v['mean_cosine']:.6f} |")
        lines.append("")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--bundle", type=Path, default=DEFAULT_BUNDLE)
    parser.add_argument("--wav", type=Path, default=DEFAULT_WAV)
    parser.add_argument("--prompts", type=Path, nargs="*", default=DEFAULT_PROMPTS)
    parser.add_argument("--test-model", action="store_true", help="also the ViT test student, old and new recipe")
    parser.add_argument("--qemu-cpu", default=None, help="also run ORT under qemu-x86_64 -cpu NAME (test model)")
    parser.add_argument("--out", type=Path, default=None, help="folder for int8-kernels.json and .md")
    parser.add_argument("--worker", nargs=3, metavar=("MODEL", "FEEDS", "OUT"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:  # inside qemu: only numpy and onnxruntime
        model, feeds, out = args.worker
        with np.load(feeds) as data:
            np.save(out, _run(Path(model), dict(data)))
        return

    from slap_edge.export.int8_kernels import int8_kernel_path

    path = int8_kernel_path()
    commit = subprocess.run(["git", "rev-parse", "HEAD"], cwd=ROOT, capture_output=True, text=True).stdout.strip()
    result: dict[str, Any] = {
        "measured_on": {**path.to_dict(), "describe": path.describe()},
        "commit": commit,
        "created_at": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"),
        "command": "python " + " ".join([str(Path(sys.argv[0]).resolve().relative_to(ROOT)), *sys.argv[1:]]),
    }
    with tempfile.TemporaryDirectory(prefix="bench-int8-") as tmp:
        result["bundle"] = bench_bundle(args.bundle.resolve(), args.wav.resolve(), args.prompts, Path(tmp), None)
        if args.test_model:
            result["test_model"] = bench_test_model(Path(tmp), args.qemu_cpu)
    text = _markdown(result)
    print(text)
    if args.out:
        args.out.mkdir(parents=True, exist_ok=True)
        (args.out / "int8-kernels.json").write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")
        (args.out / "int8-kernels.md").write_text(text, encoding="utf-8")


if __name__ == "__main__":
    main()
