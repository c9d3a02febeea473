"""Size of the wheel and of the kiosk install it makes: build with `python -m build`, install into a fresh venv.

    python benchmarks/wheel_size.py [--out benchmarks/results/wheel/wheel-size]

Writes OUT.json (with the provenance block) and OUT.md. The installed size is the venv's site-packages after
`pip install slap_edge-*.whl` (numpy, onnxruntime, tokenizers, soundfile, soxr, sounddevice, typer, rich and what
they pull in), with pip and setuptools (which every venv has) counted apart.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from slap_edge.provenance import provenance  # noqa: E402

VENV_OWN = ("pip", "setuptools", "_distutils_hack", "pkg_resources", "distutils-precedence.pth")


def tree_bytes(path: Path) -> int:
    if path.is_file():
        return path.stat().st_size
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file() and not p.is_symlink())


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--out", default=str(REPO / "benchmarks" / "results" / "wheel" / "wheel-size"))
    args = ap.parse_args()
    made_by = ["python", "benchmarks/wheel_size.py", *sys.argv[1:]]
    with tempfile.TemporaryDirectory() as tmp:
        tmp_path = Path(tmp)
        src = tmp_path / "src"
        names = subprocess.run(
            ["git", "ls-files", "-co", "--exclude-standard", "-z"], cwd=REPO, capture_output=True, check=True
        ).stdout.split(b"\0")
        for name in filter(None, names):
            s = REPO / os.fsdecode(name)
            if s.is_file():
                (src / os.fsdecode(name)).parent.mkdir(parents=True, exist_ok=True)
                shutil.copy2(s, src / os.fsdecode(name))
        t0 = time.monotonic()
        subprocess.run(
            [sys.executable, "-m", "build", "--wheel", "--outdir", str(tmp_path / "dist"), str(src)],
            check=True,
            capture_output=True,
        )
        build_s = time.monotonic() - t0
        (wheel,) = (tmp_path / "dist").glob("slap_edge-*.whl")
        venv = tmp_path / "venv"
        subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
        t0 = time.monotonic()
        subprocess.run(
            [str(venv / "bin" / "python"), "-m", "pip", "install", "-q", str(wheel)], check=True, capture_output=True
        )
        install_s = time.monotonic() - t0
        (site,) = (venv / "lib").glob("python*/site-packages")
        per_dist = {p.name: tree_bytes(p) for p in site.iterdir() if not p.name.endswith((".dist-info", "__pycache__"))}
        venv_own = sum(v for k, v in per_dist.items() if k in VENV_OWN)
        total = tree_bytes(site)
        largest = dict(sorted(((k, v) for k, v in per_dist.items() if k not in VENV_OWN), key=lambda kv: -kv[1])[:8])
        result = {
            "wheel": wheel.name,
            "wheel_bytes": wheel.stat().st_size,
            "site_packages_bytes": total,
            "site_packages_without_pip_setuptools_bytes": total - venv_own,
            "largest_bytes": largest,
            "build_s": round(build_s, 1),
            "install_s": round(install_s, 1),
            "python": sys.version.split()[0],
            "provenance": provenance("default", made_by=made_by),
        }
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.with_suffix(".json").write_text(json.dumps(result, indent=1) + "\n")
    mb = 1e6
    lines = [
        "# Wheel and kiosk install size",
        "",
        f"{result['provenance']['machine']}, Python {result['python']}, {result['provenance']['date']}, "
        f"commit {result['provenance']['commit'][:12]}. Made by `{' '.join(made_by)}`.",
        "",
        f"- wheel `{result['wheel']}`: **{result['wheel_bytes'] / mb:.1f} MB** (the built-in bundle, prompt sets and"
        " demo recording inside)",
        f"- fresh venv after `pip install` of the wheel: site-packages **{total / mb:.0f} MB**, "
        f"{(total - venv_own) / mb:.0f} MB without pip and setuptools",
        "- largest: " + ", ".join(f"{k} {v / mb:.0f} MB" for k, v in largest.items()),
        f"- build {result['build_s']} s, install {result['install_s']} s (pip cache warm)",
        "",
    ]
    out.with_suffix(".md").write_text("\n".join(lines))
    print("\n".join(lines))


if __name__ == "__main__":
    main()
