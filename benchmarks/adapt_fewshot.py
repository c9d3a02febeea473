"""Site adaptation against clips per class: zero-shot vs plain logistic vs prompt-prior heads, speaker-disjoint.

For every task of every suite, k clips per class (k = 1, 2, 5, 10, 20) are drawn for adaptation and every clip of
every other speaker is the test set (five draws each). The heads are fitted by the library `slap-edge adapt` uses
(`slap_edge.adapt.fit`: regularisation by speaker-grouped cross-validation on the adaptation clips only); zero-shot
uses the suite's prompts, which are also the prior. Macro-F1 on the test clips, averaged over tasks, then draws.

How a draw is made, so that adaptation and test never share a speaker and the test keeps voices to judge on:
adaptation speakers of a class are at most half of that class's speakers (in a seeded random order), and they give
their clips round-robin (one clip of each speaker, then a second, ...) until k. A speaker used for adaptation in any
class is out of the test set. A (task, k) that cannot give k clips from half the speakers, or leaves fewer than
``--min-test`` test clips in a class, is skipped for that draw and counted (``n_tasks`` per k says how many remain).

    python benchmarks/adapt_fewshot.py --bundle default --suite NAME=SUITE_DIR [--suite ...] \
        --out benchmarks/results/adapt/NAME
"""

from __future__ import annotations

import argparse
import hashlib
import json
import platform
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

from slap_edge.adapt.fit import (
    CRITERIA,
    DEFAULT_CS,
    choose_c,
    cross_validate_candidates,
    fit_candidate,
    fit_head,
    select_candidate,
    speaker_folds,
)
from slap_edge.eval.metrics import macro_f1
from slap_edge.scoring import class_vectors

METHODS = ("zero_shot", "plain", "prior", "calibrated", "calibrated_prior", "auto")
LABELS = {
    "zero_shot": "zero-shot",
    "plain": "plain logistic",
    "prior": "prompt prior (MAP; adapt's default)",
    "calibrated": "calibrated (guarded)",
    "calibrated_prior": "calibrated + MAP",
    "auto": "auto (guarded CV choice)",
}


def embed_cached(bundle: str, suite_dir: Path, cache: Path) -> tuple[Any, np.ndarray, dict[Path, int], dict]:
    """The suite, every readable clip's embedding and every prompt's, cached by model id and suite contents."""
    from slap_edge.bundle_reader import load_bundle, resolve_bundle_path
    from slap_edge.eval.embedders import load_embedding_source
    from slap_edge.eval.runner import embed_suite
    from slap_edge.eval.suite import load_suite

    suite = load_suite(suite_dir)
    model_id = load_bundle(resolve_bundle_path(bundle)).model_id
    digest = hashlib.sha256()
    digest.update(model_id.encode())
    for name in ("suite.json", "clips.jsonl"):
        digest.update((suite_dir / name).read_bytes())
    path = cache / f"{suite.name}-{digest.hexdigest()[:16]}.npz"
    if path.is_file():
        z = np.load(path, allow_pickle=False)
        paths = [Path(p) for p in z["paths"].tolist()]
        texts = z["texts"].tolist()
        return suite, z["audio"], {p: i for i, p in enumerate(paths)}, dict(zip(texts, z["text_emb"], strict=True))
    source = load_embedding_source(bundle)
    audio, row_of, unreadable, text_of = embed_suite(suite, source)
    if unreadable:
        print(f"{suite_dir}: {len(unreadable)} unreadable clips left out: {list(unreadable.values())[:3]}", flush=True)
    cache.mkdir(parents=True, exist_ok=True)
    paths = sorted(row_of, key=row_of.get)
    np.savez(
        path,
        audio=audio,
        paths=np.asarray([str(p) for p in paths]),
        texts=np.asarray(list(text_of)),
        text_emb=np.stack(list(text_of.values())),
    )
    return suite, audio, row_of, text_of


def draw_split(
    y: np.ndarray, spk: np.ndarray, k: int, rng: np.random.Generator, min_test: int
) -> tuple[np.ndarray, np.ndarray] | None:
    """(adaptation, test) indices as the module docstring says, or None when (task, k) cannot be drawn."""
    adapt: list[int] = []
    used: set[str] = set()
    for label in np.unique(y):
        speakers = np.unique(spk[y == label])
        chosen = speakers[rng.permutation(len(speakers))][: max(1, len(speakers) // 2)]
        queues = [list(rng.permutation(np.flatnonzero((y == label) & (spk == s)))) for s in chosen]
        picked: list[int] = []
        while len(picked) < k and any(queues):
            for q in queues:
                if q and len(picked) < k:
                    picked.append(int(q.pop(0)))
        if len(picked) < k:
            return None
        adapt += picked
        used |= {str(s) for s in spk[picked]}
    test = np.flatnonzero(~np.isin(spk.astype(str), list(used)))
    if any(np.sum(y[test] == label) < min_test for label in np.unique(y)):
        return None
    return np.asarray(adapt), test


def task_arrays(
    suite: Any, task: Any, audio: np.ndarray, row_of: dict[Path, int], text_of: dict
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """One task's embeddings (float64), class numbers, speakers and per-class prompt vectors, from `embed_cached`."""
    clips = [c for c in suite.clips_of(task.name) if c.path in row_of]
    x = audio[[row_of[c.path] for c in clips]].astype(np.float64)
    y = np.array([task.labels.index(c.label) for c in clips])
    spk = np.array([c.speaker for c in clips])
    flat = [(label, p) for label, ps in task.classes.items() for p in ps]
    _, vectors = class_vectors(np.stack([text_of[p] for _, p in flat]), [label for label, _ in flat])
    return x, y, spk, vectors


def run_task(
    x: np.ndarray, y: np.ndarray, spk: np.ndarray, vectors: np.ndarray, logit_scale: float, args: argparse.Namespace
) -> dict[int, list[dict[str, Any]]]:
    """Per k, one row per draw: the test macro-F1 of every method and, for the prompt heads, their cross-validated
    macro-F1 on the adaptation clips (what `auto` chose from), so other choice rules can be studied offline."""
    out: dict[int, list[dict[str, Any]]] = {}
    prior = logit_scale * vectors.astype(np.float64)
    labels = list(range(vectors.shape[0]))
    n_classes = len(labels)
    for k in args.ks:
        out[k] = []
        for draw in range(args.draws):
            rng = np.random.default_rng([args.seed, k, draw, int(hashlib.sha256(x.tobytes()).hexdigest()[:8], 16)])
            split = draw_split(y, spk, k, rng, args.min_test)
            if split is None:
                out[k].append({"draw": draw, "skipped": True})
                continue
            a, t = split
            row: dict[str, Any] = {"draw": draw, "n_adapt": len(a), "n_test": len(t)}
            row["n_test_speakers"] = len(set(spk[t].tolist()))

            def test_f1(head: Any, t: np.ndarray = t) -> float:
                return macro_f1(y[t].tolist(), head.probs(x[t]).argmax(1).tolist(), labels)

            folds, _ = speaker_folds(y[a], spk[a], 5, args.seed)
            c, _, _ = choose_c(x[a], y[a], n_classes, None, folds, tuple(args.cs), criterion=args.criterion)
            row["plain"], row["plain_c"] = test_f1(fit_head(x[a], y[a], n_classes, c, None)), c
            cands = cross_validate_candidates(
                x[a], y[a], n_classes, prior, folds, tuple(args.cs), criterion=args.criterion
            )
            row["candidates"] = {}
            for name, cand in cands.items():
                head = fit_candidate(name, x[a], y[a], n_classes, cand.c, prior)
                row["candidates"][name] = {
                    "test_f1": test_f1(head),
                    "cv_f1": cand.cv_f1,
                    "cv_log_loss": cand.cv_log_loss,
                    "c": cand.c,
                }
                if name in ("zero_shot", "prior", "calibrated_prior"):
                    row[name] = row["candidates"][name]["test_f1"]
            # What `adapt --variant calibrated` and `--variant auto` store: the guarded choices.
            guarded = select_candidate({n: cands[n] for n in ("zero_shot", "calibrated")})
            row["calibrated"] = row["candidates"][guarded]["test_f1"]
            row["auto_choice"] = select_candidate(cands)
            row["auto"] = row["candidates"][row["auto_choice"]]["test_f1"]
            out[k].append(row)
    return out


def summarise(per_task: dict[str, dict[int, list[dict[str, Any]]]], ks: list[int], draws: int) -> dict[str, Any]:
    """Per k: the mean over tasks within each draw, then mean and std over draws; each method minus zero-shot (paired
    by task and draw); and how often `auto` chose each prompt head."""
    summary: dict[str, Any] = {}
    for k in ks:
        by_draw: dict[str, list[float]] = {m: [] for m in METHODS}
        tasks_used = set()
        skipped = 0
        choices: dict[str, int] = {}
        for draw in range(draws):
            rows = {name: runs[k][draw] for name, runs in per_task.items()}
            done = {n: r for n, r in rows.items() if not r.get("skipped")}
            skipped += len(rows) - len(done)
            if not done:
                continue
            tasks_used |= set(done)
            for m in METHODS:
                by_draw[m].append(float(np.mean([r[m] for r in done.values()])))
            for r in done.values():
                choices[r["auto_choice"]] = choices.get(r["auto_choice"], 0) + 1
        zs = np.array(by_draw["zero_shot"])
        summary[str(k)] = {
            "n_tasks": len(tasks_used),
            "skipped_task_draws": skipped,
            **{
                m: {"mean": float(np.mean(v)) if v else None, "std": float(np.std(v)) if v else None}
                for m, v in by_draw.items()
            },
            "minus_zero_shot": {
                m: float(np.mean(np.array(v) - zs)) if v else None for m, v in by_draw.items() if m != "zero_shot"
            },
            "auto_choices": choices,
        }
    return summary


def markdown(result: dict[str, Any]) -> str:
    lines = [
        "# Site adaptation: macro-F1 against clips per class",
        "",
        f"- bundle: {result['bundle']} ({result['model_id']})",
        f"- commit: {result['commit']}; made by `{result['command']}`",
        f"- machine: {result['machine']}; {result['date']}; {result['wall_s']:.0f} s",
        f"- {result['draws']} draws per k; speaker-disjoint adaptation/test; regularisation grid {result['cs']} chosen "
        f"by speaker-grouped CV ({result['criterion']}) on the adaptation clips; "
        "test = every clip of every other speaker",
        "- methods: " + "; ".join(f"`{m}` = {LABELS[m]}" for m in METHODS),
        "",
    ]
    shown = [m for m in METHODS if m != "zero_shot"]
    for name, s in result["suites"].items():
        lines += [
            f"## {name} ({s['path']}, {s['n_tasks']} tasks)",
            "",
            "Macro-F1 on the test speakers (mean over tasks, then mean ± std over draws):",
            "",
            "| k | tasks | " + " | ".join(METHODS) + " | skipped task-draws |",
            "|---:|---:|" + "---:|" * len(METHODS) + "---:|",
        ]
        for k, row in s["summary"].items():

            def cell(m: str, row: dict = row) -> str:
                v = row[m]
                return "—" if v["mean"] is None else f"{v['mean']:.3f} ± {v['std']:.3f}"

            lines.append(
                f"| {k} | {row['n_tasks']} | "
                + " | ".join(cell(m) for m in METHODS)
                + f" | {row['skipped_task_draws']} |"
            )
        lines += ["", "Each method minus zero-shot (paired by task and draw), and what `auto` chose (task-draws):", ""]
        lines.append("| k | " + " | ".join(shown) + " | auto chose |")
        lines.append("|---:|" + "---:|" * len(shown) + "---|")
        for k, row in s["summary"].items():
            d = row["minus_zero_shot"]
            cells = ["—" if d[m] is None else f"{d[m]:+.3f}" for m in shown]
            chose = ", ".join(f"{n} {c}" for n, c in sorted(row["auto_choices"].items(), key=lambda kv: -kv[1]))
            lines.append(f"| {k} | " + " | ".join(cells) + f" | {chose} |")
        lines += [
            "",
            "Per task (mean over draws; —: not drawable at this k): zero-shot / plain / prompt prior / auto",
            "",
        ]
        lines.append("| task | " + " | ".join(f"k={k}" for k in result["ks"]) + " |")
        lines.append("|---|" + "---|" * len(result["ks"]))
        for task, runs in s["tasks"].items():
            cells = []
            for k in result["ks"]:
                done = [r for r in runs[str(k)] if not r.get("skipped")]
                if not done:
                    cells.append("—")
                    continue
                cells.append(
                    " / ".join(f"{np.mean([r[m] for r in done]):.2f}" for m in ("zero_shot", "plain", "prior", "auto"))
                )
            lines.append(f"| {task} | " + " | ".join(cells) + " |")
        lines.append("")
    return "\n".join(lines)


def plot(result: dict[str, Any], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    names = list(result["suites"])
    fig, axes = plt.subplots(1, len(names), figsize=(5.5 * len(names), 4.2), squeeze=False)
    styles = {
        "zero_shot": "k--",
        "plain": "C1-o",
        "prior": "C0-s",
        "calibrated": "C2-^",
        "calibrated_prior": "C4-v",
        "auto": "C3-D",
    }
    for ax, name in zip(axes[0], names, strict=True):
        s = result["suites"][name]["summary"]
        ks = [int(k) for k in s if s[k]["auto"]["mean"] is not None]
        for m, fmt in styles.items():
            mean = [s[str(k)][m]["mean"] for k in ks]
            std = [s[str(k)][m]["std"] for k in ks]
            ax.errorbar(ks, mean, yerr=std, fmt=fmt, label=LABELS[m], capsize=3, lw=2.2 if m == "auto" else 1.2)
        ax.set_xscale("log")
        ax.set_xticks(ks)
        ax.set_xticklabels([str(k) for k in ks])
        ax.set_xlabel("adaptation clips per class (k)")
        ax.set_ylabel("macro-F1, mean over tasks")
        ax.set_title(name)
        ax.grid(alpha=0.3)
        ax.legend(loc="lower right", fontsize=7)
    fig.suptitle(f"{result['model_id']}: site adaptation, {result['draws']} speaker-disjoint draws")
    fig.tight_layout()
    fig.savefig(path, dpi=120)


def machine() -> str:
    cpu = platform.processor() or "unknown CPU"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    import os

    return f"{cpu}, {os.cpu_count()} cores, {platform.system()}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--bundle", default="default", help="Bundle folder, .tar.gz or 'default'.")
    parser.add_argument("--suite", action="append", required=True, help="NAME=SUITE_DIR (repeatable).")
    parser.add_argument("--ks", default="1,2,5,10,20", help="Clips per class, comma-separated.")
    parser.add_argument("--draws", type=int, default=5)
    parser.add_argument("--min-test", type=int, default=5, help="Test clips each class must keep.")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--criterion", default="guarded", choices=CRITERIA, help="How CV chooses c (adapt's default).")
    parser.add_argument("--cache", type=Path, default=Path("/tmp/slap-edge-adapt-cache"), help="Embedding cache.")
    parser.add_argument("--out", type=Path, required=True, help="Output prefix: writes OUT.json, OUT.md, OUT.png.")
    args = parser.parse_args()
    args.ks = [int(k) for k in args.ks.split(",")]
    args.cs = list(DEFAULT_CS)

    from slap_edge.bundle_reader import load_bundle, resolve_bundle_path
    from slap_edge.fingerprints import files_hash
    from slap_edge.provenance import provenance

    bundle_path = resolve_bundle_path(args.bundle)
    bundle = load_bundle(bundle_path)
    t0 = time.time()
    record = provenance(model=bundle_path, made_by=["python", *sys.argv])
    suites = [spec.partition("=") for spec in args.suite]
    for spec, (_, _, path) in zip(args.suite, suites, strict=True):
        if not path or not (Path(path) / "suite.json").is_file():
            raise SystemExit(f"--suite {spec!r}: write NAME=SUITE_DIR with a suite folder (suite.json, clips.jsonl)")
    # Several suites: their names joined, and one hash over all their suite.json and clips.jsonl (each suite's own
    # hash is under suites.NAME.suite_hash).
    record["suite"] = ",".join(name for name, _, _ in suites)
    record["suite_hash"] = files_hash([Path(p) / f for _, _, p in suites for f in ("suite.json", "clips.jsonl")])
    result: dict[str, Any] = {
        "bundle": str(args.bundle),
        "model_id": bundle.model_id,
        "commit": record["commit"],
        "command": "python " + " ".join(sys.argv),
        "machine": machine(),
        "date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
        "provenance": record,
        "ks": args.ks,
        "draws": args.draws,
        "min_test": args.min_test,
        "cs": args.cs,
        "criterion": args.criterion,
        "suites": {},
    }
    for name, _, path in suites:
        suite, audio, row_of, text_of = embed_cached(args.bundle, Path(path), args.cache)
        per_task: dict[str, dict[int, list[dict[str, Any]]]] = {}
        for task in suite.tasks:
            x, y, spk, vectors = task_arrays(suite, task, audio, row_of, text_of)
            per_task[task.name] = run_task(x, y, spk, vectors, bundle.logit_scale, args)
            counts = {k: sum(not r.get("skipped") for r in v) for k, v in per_task[task.name].items()}
            print(
                f"{name} {task.name}: {len(y)} clips, {len(set(spk))} speakers; draws done per k {counts}",
                flush=True,
            )
        result["suites"][name] = {
            "path": str(path),
            "suite_hash": files_hash([Path(path) / "suite.json", Path(path) / "clips.jsonl"]),
            "n_tasks": len(suite.tasks),
            "summary": summarise(per_task, args.ks, args.draws),
            "tasks": {t: {str(k): v for k, v in runs.items()} for t, runs in per_task.items()},
        }
        for k, row in result["suites"][name]["summary"].items():
            print(name, k, {m: round(row[m]["mean"], 3) for m in METHODS}, row["auto_choices"], flush=True)
        # Written after every suite, so a long run leaves what it has measured.
        result["wall_s"] = time.time() - t0
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.with_suffix(".json").write_text(json.dumps(result, indent=1) + "\n")
        args.out.with_suffix(".md").write_text(markdown(result))
        plot(result, args.out.with_suffix(".png"))
    print(f"wrote {args.out}.json/.md/.png")


if __name__ == "__main__":
    main()
