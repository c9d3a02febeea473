"""The evaluation report as a markdown table (the JSON form is the dict `evaluate_suite` returns)."""

from __future__ import annotations

from typing import Any


def _fmt(value: float | None) -> str:
    return "—" if value is None else f"{value:.3f}"


def _metric(entry: dict[str, Any], kind: str, key: str) -> str:
    block = entry.get(kind)
    return _fmt(block[key]) if block else "—"


def report_markdown(report: dict[str, Any]) -> str:
    mf = report.get("mfcc_probe")  # the 40-MFCC-statistics reference, on the probe's folds
    extra_head, extra_rule = (" MFCC-stats probe F1 |", "---:|") if mf else ("", "")
    lines = [
        f"## {report['suite']}: {report['model']}",
        "",
        "| task | category | clips | speakers | zero-shot F1 | zero-shot bal. acc. | probe F1 | probe bal. acc. |"
        + extra_head,
        "|---|---|---:|---:|---:|---:|---:|---:|" + extra_rule,
    ]
    for t in report["tasks"]:
        lines.append(
            f"| {t['task']} | {t['category']} | {t['n_clips']} | {t['n_speakers']} | "
            f"{_metric(t, 'zero_shot', 'macro_f1')} | {_metric(t, 'zero_shot', 'balanced_accuracy')} | "
            f"{_metric(t, 'linear_probe', 'macro_f1')} | {_metric(t, 'linear_probe', 'balanced_accuracy')} |"
            + (f" {_metric(t, 'mfcc_probe', 'macro_f1')} |" if mf else "")
        )
    zs, lp = report["zero_shot"], report.get("linear_probe")
    lines.append(
        f"| **mean** | | | | **{_fmt(zs['mean_macro_f1'])}** | | **{_fmt(lp and lp['mean_macro_f1'])}** | |"
        + (f" **{_fmt(mf['mean_macro_f1'])}** |" if mf else "")
    )
    for category, value in zs["categories"].items():
        probe = lp["categories"].get(category) if lp else None
        lines.append(
            f"| mean {category} | | | | {_fmt(value)} | | {_fmt(probe)} | |"
            + (f" {_fmt(mf['categories'].get(category))} |" if mf else "")
        )
    adapted = report.get("adapted")
    if adapted:
        lines += ["", f"Adapted heads ({report.get('heads')}):", "", "| task | adapted F1 | adapted bal. acc. |"]
        lines.append("|---|---:|---:|")
        for t in report["tasks"]:
            if t.get("adapted"):
                lines.append(
                    f"| {t['task']} | {_metric(t, 'adapted', 'macro_f1')} | "
                    f"{_metric(t, 'adapted', 'balanced_accuracy')} |"
                )
        lines.append(f"| **mean** | **{_fmt(adapted['mean_macro_f1'])}** | |")
    bad = report["unreadable"]
    if bad["count"]:
        lines += ["", f"{bad['count']} clips could not be read:"]
        lines += [f"- {reason}" for reason in bad["clips"].values()]
    retrieval = report.get("retrieval")
    if retrieval:
        title = f"Caption -> audio retrieval on the {retrieval['split']} split ({retrieval['n_clips']} clips):"
        lines += ["", title, ""]
        keys = [k for k in retrieval if "@" in k]
        lines += ["| " + " | ".join(keys) + " |", "|" + "---:|" * len(keys)]
        lines.append("| " + " | ".join(_fmt(retrieval[k]) for k in keys) + " |")
    return "\n".join(lines) + "\n"
