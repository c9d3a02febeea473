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
        f"- corpus: `{corpus.name}`, {clips} clips, {hours:.1f} h, all synthetic"
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


def evaluation_section(title: str, report_json: Path) -> str:
    """One `slap-edge eval --json` report as a markdown section."""
    report = json.loads(report_json.read_text())
    body = report_markdown(report).split("\n", 1)[1].lstrip("\n")  # our own title replaces the report's heading
    return f"## {title}\n\nSuite `{report['suite']}`, {report['n_clips']} clips, scored by the bundle itself.\n\n{body}"


def main(argv: list[str] | None = None) -> None:
    import argparse

    parser = argparse.ArgumentParser(description="Write model-card sections for `slap-edge bundle card`.")
    parser.add_argument("--teacher", type=Path, required=True)
    parser.add_argument("--student", type=Path, required=True)
    parser.add_argument("--corpus", type=Path, required=True)
    parser.add_argument("--holdout", type=Path)
    parser.add_argument("--eval", nargs=2, action="append", metavar=("TITLE", "JSON"), default=[])
    parser.add_argument("--out", type=Path, required=True)
    args = parser.parse_args(argv)
    sections = [training_section(args.teacher, args.student, args.corpus, args.holdout)]
    sections += [evaluation_section(title, Path(path)) for title, path in args.eval]
    args.out.write_text("\n\n".join(sections) + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
