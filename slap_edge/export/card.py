"""The model card (MODEL_CARD.md of a bundle), written here and nowhere else.

`export_bundle` writes the card of what it measured while exporting (`model_card`, `write_model_card`); sections
measured afterwards (training data and recipe, the record, held-out evaluation tables, latency) are made from the
run folders and the JSON reports of `slap-edge eval` and `slap-edge bench` (`main`, `build_record`) and appended by
`slap-edge bundle card BUNDLE --append FILE` (`append_model_card`, which keeps the manifest's checksums true).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, Any

from slap_edge.bundle_reader import MANIFEST, MODEL_CARD, load_bundle
from slap_edge.eval.report import report_markdown
from slap_edge.export.onnx import ExportError
from slap_edge.fingerprints import HASH_FORMATS, sha256_file, sha256_json, suite_fingerprint
from slap_edge.train.soup import read_soup

if TYPE_CHECKING:
    from slap_edge.export.bundle_writer import ExportReport


def model_card(manifest: dict[str, Any], report: ExportReport, params_audio: int, params_text: int) -> str:
    """MODEL_CARD.md as `export_bundle` writes it: the model, what was measured while exporting, the limits."""
    model, audio = manifest["model"], manifest["audio"]
    fe = audio["frontend"]
    lines = [
        f"# {model['name']} ({model['precision']})",
        "",
        "Zero-shot speaker description: the audio tower maps a waveform window to an embedding that is compared",
        "with embeddings of plain-language prompts about the speaker (sex, age, language, pitch, rate, voice",
        "quality). Made by `slap-edge export`.",
        "",
        "## Model",
        f"- id: `{model['id']}`; embedding size {model['embed_dim']}; "
        f"logit scale {manifest['scoring']['logit_scale']:.3f}",
        f"- audio tower: {params_audio / 1e6:.3f} M parameters; input {audio['sample_rate']} Hz mono waveform,",
        f"  window {audio['window_s']} s, hop {audio['hop_s']} s; log-mel front end inside audio.onnx "
        f"({fe['n_mels']} mels, n_fft {fe['n_fft']}, hop {fe['hop_length']} samples)",
    ]
    if params_text:
        lines.append(f"- text tower (text.onnx): {params_text / 1e6:.3f} M parameters (all-MiniLM-L6-v2 + projection)")
    lines.append(f"- teacher: {model['teacher'] or 'none (trained directly)'}")
    data = model["training_data"]
    lines.append(
        "- training data: " + (", ".join(f"{k} {v}" for k, v in data.items()) if data else "not recorded in the run")
    )
    lines += ["", "## Measured while exporting", f"- audio fp32 ONNX vs PyTorch: {report.audio_fp32.describe()}"]
    if report.audio_int8 is not None:
        lines.append(f"- audio int8 ONNX vs fp32 ONNX: {report.audio_int8.describe()}")
        if report.int8_paths is not None:
            lines.append(f"- int8 kernel paths: {report.int8_paths.describe()}")
        lines.append(f"- quantization: {report.quantization}")
    if report.text is not None:
        lines.append(f"- text ONNX vs PyTorch: {report.text.describe()}")
    if report.zero_shot is not None:
        z = report.zero_shot
        lines.append(
            f"- zero-shot on suite `{z.suite}` ({z.clips} clips, {z.tasks} tasks, scored as `slap-edge eval`): "
            f"mean macro-F1 PyTorch {z.f1_torch:.3f}, fp32 ONNX {z.f1_fp32:.3f} "
            f"(same prediction as PyTorch on {z.agreement_fp32_torch:.1%} of clips)"
            + (
                f", int8 ONNX {z.f1_int8:.3f} (same as fp32 on {z.agreement_int8_fp32:.1%})"
                if z.f1_int8 is not None
                else ""
            )
            + (
                f", int8 as AVX2 CPUs without VNNI compute it (emulated) {z.f1_int8_saturating:.3f} "
                f"(same as fp32 on {z.agreement_int8_saturating_fp32:.1%})"
                if z.f1_int8_saturating is not None and z.agreement_int8_saturating_fp32 is not None
                else ""
            )
        )
        if z.unreadable:
            lines.append(f"- unreadable suite clips: {len(z.unreadable)} ({'; '.join(z.unreadable[:3])})")
    else:
        lines.append("- zero-shot agreement: not measured (export without --suite)")
    lines.append("- file sizes: " + ", ".join(f"{k} {v / 1e6:.2f} MB" for k, v in sorted(report.sizes.items())))
    lines += [
        "",
        "## Limits",
        "- Speaker attributes are inferred from voice alone and are often wrong for individuals; use for aggregate",
        "  or assistive behaviour, never to deny a service or identify a person.",
        "- Trained on the data above; accents, languages and recording channels outside it are less reliable.",
        "- Latency: measure on the target with `slap-edge bench` (depends on the CPU and thread count).",
        "",
    ]
    return "\n".join(lines)


def write_model_card(bundle_dir: Path, text: str) -> Path:
    """Write MODEL_CARD.md into a bundle folder being built (its checksum is taken when the manifest is written)."""
    path = Path(bundle_dir) / MODEL_CARD
    path.write_text(text, encoding="utf-8")
    return path


def append_model_card(bundle_dir: str | Path, sections: list[str], record: dict[str, Any] | None = None) -> Path:
    """Append markdown ``sections`` (measured after export: evaluation tables, latency) to a bundle folder's
    MODEL_CARD.md and update its checksum in manifest.json, so the bundle still verifies. ``record`` (commit, hashes
    of recipes and configs, corpus fingerprint, suites; `slap_edge.export.card.build_record`) is stored as the
    manifest's ``record``. Both files are replaced atomically; the bundle is checked with the kiosk's loader
    afterwards."""
    root = Path(bundle_dir)
    manifest_path, card_path = root / MANIFEST, root / MODEL_CARD
    if not manifest_path.is_file() or not card_path.is_file():
        raise ExportError(f"{root}: not a bundle folder with {MANIFEST} and {MODEL_CARD}")
    load_bundle(root)  # refuse to touch a bundle that does not verify as it is
    text = card_path.read_text(encoding="utf-8").rstrip("\n")
    text += "\n\n" + "\n\n".join(s.strip("\n") for s in sections) + "\n"
    tmp_card = card_path.with_name(card_path.name + ".tmp")
    tmp_card.write_text(text, encoding="utf-8")
    manifest = json.loads(manifest_path.read_text(encoding="utf-8"))
    manifest["files"][MODEL_CARD] = {"sha256": sha256_file(tmp_card), "size": tmp_card.stat().st_size}
    if record is not None:
        manifest["record"] = record
    tmp_manifest = manifest_path.with_name(manifest_path.name + ".tmp")
    tmp_manifest.write_text(json.dumps(manifest, indent=2) + "\n", encoding="utf-8")
    tmp_card.replace(card_path)
    tmp_manifest.replace(manifest_path)
    load_bundle(root)
    return card_path


def run_stages(label: str, run: Path) -> list[tuple[str, Path, dict[str, Any] | None]]:
    """``(label, run folder, init.json or None)`` of a run and of every run it started from (``--init-from``), last
    stage first: a student distilled on in a second stage names its first stage too."""
    stages: list[tuple[str, Path, dict[str, Any] | None]] = []
    inputs = read_soup(run)
    if inputs is not None:
        # A weight-space average of runs (slap_edge.train.soup): the soup, then each input's own stages.
        stages.append((label, run, None))
        for i, (source, weight) in enumerate(inputs, 1):
            if source.is_dir():
                stages += run_stages(f"{label} (soup input {i}, weight {weight:g})", source)
        return stages
    seen: set[Path] = set()
    while run.resolve() not in seen:
        seen.add(run.resolve())
        init_path = run / "init.json"
        init = json.loads(init_path.read_text()) if init_path.is_file() else None
        stages.append((label, run, init))
        if init is None or not Path(init["init_from"]).is_dir():
            break
        label, run = f"{label} (stage {len(stages) + 1} back)", Path(init["init_from"])
    return stages


def _train_records(data: str | Path) -> list[Any]:
    """The train split of a run's data folder (empty when it is not on disk here)."""
    from slap_edge.data.manifest import iter_manifest

    manifest = Path(data) / "manifest.jsonl"
    return [r for r in iter_manifest(Path(data)) if r.split == "train"] if manifest.is_file() else []


def training_section(teacher_run: Path, student_run: Path, corpus: Path, holdout: Path | None) -> str:
    """Where the weights came from: corpus (synthetic engines, licences), recipes, seeds, steps, held-out voices."""
    from slap_edge.data.manifest import iter_manifest

    engines: dict[str, dict[str, Any]] = {}
    clips = 0
    hours = 0.0
    for rec in iter_manifest(corpus):
        clips += 1
        hours += rec.duration / 3600
        entry = engines.setdefault(rec.engine or rec.source, {"clips": 0, "licence": rec.licence, "voices": set()})
        entry["clips"] += 1
        entry["voices"].add(rec.voice)
    synth = json.loads((corpus / "synth.json").read_text()) if (corpus / "synth.json").is_file() else {}
    lines = ["## Training", ""]
    inputs = read_soup(student_run)
    if inputs is not None:
        parts = []
        for source, weight in inputs:
            src = source / "from_bundle.json"
            origin = ""
            if src.is_file():
                fb = json.loads(src.read_text())
                origin = f": {fb['model_id']} rebuilt from `{fb['bundle']}`, distilled from `{fb['teacher']}`"
            parts.append(f"`{source.name}` (weight {weight:g}{origin})")
        lines.append(
            "- student: the weight-space average (`python -m slap_edge.train.soup`) of " + ", ".join(parts) + "; "
            "its inputs' stages follow"
        )
    lines.append(
        f"- corpus: `{corpus.name}`, {clips} clips, {hours:.1f} h"
        + (f" (`slap-edge data synth --clips {synth.get('clips')} --seed {synth.get('seed')}`)" if synth else "")
    )
    for name, entry in sorted(engines.items()):
        lines.append(f"  - {name}: {entry['clips']} clips, {len(entry['voices'])} voices, licence {entry['licence']}")
    from slap_edge.train.checkpoint import read_run_config, read_state

    for label, run, init in [
        st for pair in (("teacher", teacher_run), ("student", student_run)) for st in run_stages(*pair)
    ]:
        config, step = read_run_config(run), read_state(run).get("step")
        recipe = config.recipe
        lines.append(
            f"- {label}: `{config.model.name}`, task `{recipe.task}`, {step} steps of batch {recipe.batch_size}, "
            f"lr {recipe.lr}, seed {recipe.seed}"
            + (f", held-out voices excluded: {', '.join(config.exclude)}" if config.exclude else "")
        )
        if str(config.data).startswith("bundle:"):
            lines.append(f"  - rebuilt from the float32 graph of `{Path(str(config.data)[7:]).name}` (`from_bundle`)")
        elif Path(config.data).resolve() != corpus.resolve():
            train = _train_records(config.data)
            kinds: dict[str, int] = {}
            for rec in train:
                kinds[rec.engine or rec.source] = kinds.get(rec.engine or rec.source, 0) + 1
            lines.append(
                f"  - trained on `{Path(config.data).name}` (train split {len(train)} clips: "
                + ", ".join(f"{k} {n}" for k, n in sorted(kinds.items()))
                + ")"
            )
        if init is not None:
            lines.append(
                f"  - started from run `{Path(init['init_from']).name}` ({init['step']} steps; weights sha256 "
                f"`{init['sha256'][:16]}`)"
            )
    if holdout is not None and holdout.is_file():
        info = json.loads(holdout.read_text())
        lines.append(f"- voices never heard in training (the held-out-voice suite): {', '.join(info['patterns'])}")
    return "\n".join(lines)


# What each training source's licence allows for a model trained on it, as a device maker needs to read it.
LICENCE_TERMS = {
    "MBROLA-voice-licence": "non-commercial use only (and no military use): a bundle trained on MBROLA voices may "
    "not be shipped in a commercial product; build one without them with `make reproduce-default VOICES=espeak`",
    "GPL-3.0": "the GPL governs espeak-ng the program; the FSF's GPL FAQ holds that a program's output is not covered "
    "unless it copies parts of the program, so speech it rendered restricts no use of a model trained on it, "
    "commercial included (not legal advice: check with your counsel)",
    # The real-voice training speech (docs/real-voices.md): recordings, not program output, under copyleft licences.
    "GPL-2+": "recordings under the GPL (KLettres' sounds): whether a model trained on them is a work based on them "
    "is not settled; if it is, the GPL's terms (source and the same licence to everyone you give the model to) reach "
    "the bundle, so check with your counsel before a closed product, or build without them "
    "(`make reproduce-default STUDENT2_DATA=intonation`)",
    "GFDL-1.3": "recordings under the GNU Free Documentation Licence (Hedgewars' voice packs): whether a model trained "
    "on them is a modified version of them is not settled; if it is, it must be released under the GFDL too, so check "
    "with your counsel before a closed product, or build without them (`make reproduce-default "
    "STUDENT2_DATA=intonation`)",
}


def licence_terms(licence: str) -> str:
    """What ``licence`` (a manifest's licence string) allows for a trained model; unknown licences say so."""
    for prefix, terms in LICENCE_TERMS.items():
        if licence.startswith(prefix):
            return terms
    return "not assessed by slap-edge: read the source's licence before shipping a model trained on it"


def _means(report: dict[str, Any]) -> dict[str, float | None]:
    """Zero-shot and probe means of a `slap-edge eval --json` report (the probe is absent with --no-probe)."""
    probe = report.get("linear_probe") or {}
    return {"zero_shot_mean": report["zero_shot"]["mean_macro_f1"], "probe_mean": probe.get("mean_macro_f1")}


def build_record(
    teacher_run: Path,
    student_run: Path,
    corpus: Path,
    recipes: list[Path],
    evals: list[tuple[str, Path, Path]],
    teacher_evals: list[Path],
) -> dict[str, Any]:
    """The provenance of a bundle: commit, hashes of recipes and model configs, corpus fingerprint, suites, scores."""
    import platform

    from slap_edge.config import to_dict
    from slap_edge.data.manifest import iter_manifest
    from slap_edge.provenance import git_commit
    from slap_edge.train.checkpoint import read_run_config, read_state

    sources: dict[str, dict[str, Any]] = {}
    counted: set[str] = set()

    def count(rec: Any) -> None:
        counted.add(rec.id)
        entry = sources.setdefault(rec.licence or "unknown", {"clips": 0, "engines": set()})
        entry["clips"] += 1
        entry["engines"].add(rec.engine or rec.source)

    for rec in iter_manifest(corpus):
        count(rec)
    runs = {}
    for label, run, init in [
        st for pair in (("teacher", teacher_run), ("student", student_run)) for st in run_stages(*pair)
    ]:
        config = read_run_config(run)
        runs[label] = {
            "model": config.model.name,
            "model_config_sha256": sha256_json(to_dict(config.model)),
            "recipe_sha256": sha256_json(to_dict(config.recipe)),
            "steps": read_state(run).get("step"),
            "recipe_steps": config.recipe.steps,
            "held_out": list(config.exclude),
        }
        if Path(config.data).resolve() != corpus.resolve():
            # Training data beyond the corpus (e.g. real speech merged in): its train split counts for the licences.
            manifest = Path(config.data) / "manifest.jsonl"
            runs[label]["data"] = {
                "name": Path(config.data).name,
                "manifest_sha256": sha256_file(manifest) if manifest.is_file() else None,
            }
            for rec in _train_records(config.data):
                if rec.id not in counted:
                    count(rec)
        if init is not None:
            runs[label]["init"] = {k: init[k] for k in ("step", "weights", "sha256")} | {
                "run": Path(init["init_from"]).name
            }
    cpu = "unknown"
    cpuinfo = Path("/proc/cpuinfo")
    if cpuinfo.is_file():
        cpu = next((ln.split(":", 1)[1].strip() for ln in cpuinfo.read_text().splitlines() if "model name" in ln), cpu)
    teacher_scores = {}
    for path in teacher_evals:
        report = json.loads(path.read_text())
        teacher_scores[report["suite"]] = _means(report)
    suites = []
    for title, suite, report_path in evals:
        report = json.loads(report_path.read_text())
        entry = {
            "title": title,
            "suite": report["suite"],
            "suite_sha256": suite_fingerprint(suite),
            "clips": report.get("n_clips"),
            "bundle": _means(report),
        }
        if report["suite"] in teacher_scores:
            entry["teacher"] = teacher_scores[report["suite"]]
            entry["student_gap_zero_shot"] = round(
                teacher_scores[report["suite"]]["zero_shot_mean"] - entry["bundle"]["zero_shot_mean"], 4
            )
        suites.append(entry)
    return {
        "hash_formats": HASH_FORMATS,
        "git_commit": git_commit(),
        "machine": f"{platform.machine()}, {cpu}, {len(__import__('os').sched_getaffinity(0))} cores",
        "recipes": {str(p): sha256_file(p) for p in recipes},
        "runs": runs,
        "corpus": {
            "name": corpus.name,
            "manifest_sha256": sha256_file(corpus / "manifest.jsonl"),
            "synth_sha256": sha256_file(corpus / "synth.json") if (corpus / "synth.json").is_file() else None,
        },
        "licences": {
            name: {"clips": e["clips"], "engines": sorted(e["engines"]), "allows": licence_terms(name)}
            for name, e in sorted(sources.items())
        },
        "suites": suites,
    }


def record_section(record: dict[str, Any]) -> str:
    """The record as model-card markdown: what may be shipped, then what made the bundle."""
    lines = ["## Licences of the training data: what you may ship", ""]
    for name, entry in record["licences"].items():
        lines.append(f"- **{name}** ({entry['clips']} clips, {', '.join(entry['engines'])}): {entry['allows']}.")
    lines += ["", "## Record", "", f"- git commit: `{record['git_commit']}`", f"- built on: {record['machine']}"]
    for path, digest in record["recipes"].items():
        lines.append(f"- recipe `{path}`: sha256 `{digest[:16]}`")
    for label, run in record["runs"].items():
        lines.append(
            f"- {label} `{run['model']}`: model config sha256 `{run['model_config_sha256'][:16]}`, "
            f"{run['steps']} of {run['recipe_steps']} steps"
        )
    corpus = record["corpus"]
    lines.append(f"- corpus `{corpus['name']}`: manifest sha256 `{corpus['manifest_sha256'][:16]}`")
    lines += [
        "",
        "| suite | sha256 | bundle zero-shot | bundle probe | teacher zero-shot | gap |",
        "|---|---|---:|---:|---:|---:|",
    ]
    for s in record["suites"]:
        teacher = s.get("teacher", {})
        zs, pr, tz = s["bundle"]["zero_shot_mean"], s["bundle"]["probe_mean"], teacher.get("zero_shot_mean")
        lines.append(
            f"| {s['title']} (`{s['suite']}`) | `{s['suite_sha256'][:12]}` | {zs:.3f} | "
            + (f"{pr:.3f}" if pr is not None else "-")
            + " | "
            + (f"{tz:.3f} | {s['student_gap_zero_shot']:+.3f} |" if tz is not None else "- | - |")
        )
    return "\n".join(lines)


def evaluation_section(title: str, report_json: Path) -> str:
    """One `slap-edge eval --json` report as a markdown section."""
    report = json.loads(report_json.read_text())
    body = report_markdown(report).split("\n", 1)[1].lstrip("\n")  # our own title replaces the report's heading
    return f"## {title}\n\nSuite `{report['suite']}`, {report['n_clips']} clips, scored by the bundle itself.\n\n{body}"


def main(argv: list[str] | None = None) -> None:
    import argparse

    parser = argparse.ArgumentParser(
        description="Write model-card sections (and the record) for `slap-edge bundle card`."
    )
    parser.add_argument("--teacher", type=Path, required=True)
    parser.add_argument("--student", type=Path, required=True)
    parser.add_argument("--corpus", type=Path, required=True)
    parser.add_argument("--holdout", type=Path)
    parser.add_argument("--recipe", type=Path, action="append", default=[], help="recipe/profile file to hash")
    parser.add_argument("--eval", nargs=3, action="append", metavar=("TITLE", "SUITE", "JSON"), default=[])
    parser.add_argument("--teacher-eval", type=Path, action="append", default=[], help="the teacher's eval JSON")
    parser.add_argument("--record", type=Path, help="also write the record as JSON here")
    parser.add_argument("--out", type=Path, required=True)
    args = parser.parse_args(argv)
    evals = [(title, Path(suite), Path(path)) for title, suite, path in args.eval]
    record = build_record(args.teacher, args.student, args.corpus, args.recipe, evals, args.teacher_eval)
    sections = [training_section(args.teacher, args.student, args.corpus, args.holdout), record_section(record)]
    sections += [evaluation_section(title, path) for title, _, path in evals]
    args.out.write_text("\n\n".join(sections) + "\n", encoding="utf-8")
    if args.record:
        args.record.write_text(json.dumps(record, indent=2) + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
