"""Model-card sections measured after export: training data and recipe, held-out evaluation tables, latency.

`slap-edge bundle card BUNDLE --append FILE` appends them (keeping the manifest's checksums true); this module
writes those files from the run folders and the JSON reports of `slap-edge eval` and `slap-edge bench`.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from slap_edge.eval.report import report_markdown


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
    lines.append(
        f"- corpus: `{corpus.name}`, {clips} clips, {hours:.1f} h"
        + (f" (`slap-edge data synth --clips {synth.get('clips')} --seed {synth.get('seed')}`)" if synth else "")
    )
    for name, entry in sorted(engines.items()):
        lines.append(f"  - {name}: {entry['clips']} clips, {len(entry['voices'])} voices, licence {entry['licence']}")
    from slap_edge.train.checkpoint import read_run_config, read_state

    for label, run in (("teacher", teacher_run), ("student", student_run)):
        config, step = read_run_config(run), read_state(run).get("step")
        recipe = config.recipe
        lines.append(
            f"- {label}: `{config.model.name}`, task `{recipe.task}`, {step} steps of batch {recipe.batch_size}, "
            f"lr {recipe.lr}, seed {recipe.seed}"
            + (f", held-out voices excluded: {', '.join(config.exclude)}" if config.exclude else "")
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
}


def licence_terms(licence: str) -> str:
    """What ``licence`` (a manifest's licence string) allows for a trained model; unknown licences say so."""
    for prefix, terms in LICENCE_TERMS.items():
        if licence.startswith(prefix):
            return terms
    return "not assessed by slap-edge: read the source's licence before shipping a model trained on it"


def _sha256_json(obj: Any) -> str:
    import hashlib

    return hashlib.sha256(json.dumps(obj, sort_keys=True, separators=(",", ":")).encode()).hexdigest()


def suite_fingerprint(suite: Path) -> str:
    """sha256 over a suite's ``suite.json`` and ``clips.jsonl`` (what it asks and which clips; audio by path)."""
    import hashlib

    digest = hashlib.sha256()
    for name in ("suite.json", "clips.jsonl"):
        digest.update((suite / name).read_bytes())
    return digest.hexdigest()


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

    from slap_edge.bundle_reader import sha256_file
    from slap_edge.config import to_dict
    from slap_edge.data.manifest import iter_manifest
    from slap_edge.provenance import git_commit
    from slap_edge.train.checkpoint import read_run_config, read_state

    sources: dict[str, dict[str, Any]] = {}
    for rec in iter_manifest(corpus):
        entry = sources.setdefault(rec.licence or "unknown", {"clips": 0, "engines": set()})
        entry["clips"] += 1
        entry["engines"].add(rec.engine or rec.source)
    runs = {}
    for label, run in (("teacher", teacher_run), ("student", student_run)):
        config = read_run_config(run)
        runs[label] = {
            "model": config.model.name,
            "model_config_sha256": _sha256_json(to_dict(config.model)),
            "recipe_sha256": _sha256_json(to_dict(config.recipe)),
            "steps": read_state(run).get("step"),
            "recipe_steps": config.recipe.steps,
            "held_out": list(config.exclude),
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
