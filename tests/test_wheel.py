"""The wheel works outside the checkout: built with `python -m build`, installed into a fresh venv, it runs the five
lines of the README and `slap-edge listen` on a WAV file with the built-in bundle and prompts, without torch.

Slow (about 5 minutes on the 2-core development machine: the build copies a 19 MB wheel twice and pip installs
onnxruntime and numpy into the new venv), so it runs with `pytest -m slow tests/test_wheel.py`.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]

FIVE_LINES = """\
import slap_edge
listener = slap_edge.create_listener(prompts="demographics")
for result in listener.listen_file("x.wav"):
    print(result.to_json())
"""


def source_tree(dest: Path) -> Path:
    """A copy of the files git knows (tracked, or new and not ignored), so the build leaves the checkout clean."""
    files = subprocess.run(
        ["git", "ls-files", "-co", "--exclude-standard", "-z"], cwd=REPO, capture_output=True, check=True
    ).stdout.split(b"\0")
    for name in filter(None, files):
        src = REPO / os.fsdecode(name)
        if src.is_file():
            (dest / os.fsdecode(name)).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(src, dest / os.fsdecode(name))
    return dest


def gender_labels(stdout: str) -> list[str]:
    lines = [json.loads(line) for line in stdout.splitlines() if line.startswith("{")]
    assert any(m["type"] == "scores" and m["sections"] for m in lines), stdout[-2000:]
    return [m["label"] for m in lines if m["type"] == "event" and m["section"] == "gender"]


@pytest.mark.slow
def test_wheel_in_a_fresh_venv_outside_the_checkout(tmp_path: Path) -> None:
    pytest.importorskip("build", reason="`python -m build` needs the dev extra (pip install build)")
    src = source_tree(tmp_path / "src")
    dist = tmp_path / "dist"
    built = subprocess.run(
        [sys.executable, "-m", "build", "--outdir", str(dist), str(src)], capture_output=True, text=True, timeout=900
    )
    assert built.returncode == 0, built.stdout[-3000:] + built.stderr[-3000:]
    (wheel,) = dist.glob("slap_edge-*.whl")

    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
    python, exe = venv / "bin" / "python", venv / "bin" / "slap-edge"
    pip = subprocess.run(
        [str(python), "-m", "pip", "install", "-q", str(wheel)], capture_output=True, text=True, timeout=1200
    )
    assert pip.returncode == 0, pip.stderr[-3000:]

    work = tmp_path / "user"  # outside the checkout: nothing of the source tree is importable from here
    work.mkdir()
    shutil.copy(REPO / "slap_edge" / "assets" / "demo" / "two_speakers.wav", work / "x.wav")
    (work / "five_lines.py").write_text(FIVE_LINES)
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV")}

    no_torch = subprocess.run(
        [str(python), "-c", "import slap_edge, sys; assert 'torch' not in sys.modules; print(slap_edge.__file__)"],
        cwd=work,
        env=env,
        capture_output=True,
        text=True,
    )
    assert no_torch.returncode == 0, no_torch.stderr
    assert Path(no_torch.stdout.strip()).is_relative_to(venv), no_torch.stdout

    five = subprocess.run([str(python), "five_lines.py"], cwd=work, env=env, capture_output=True, text=True)
    assert five.returncode == 0, five.stderr
    assert gender_labels(five.stdout)[:2] == ["male", "female"]

    cli = subprocess.run(
        [str(exe), "listen", "--prompts", "demographics", "--input", "x.wav"],
        cwd=work,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert cli.returncode == 0, cli.stderr
    assert gender_labels(cli.stdout)[:2] == ["male", "female"]
    listed = subprocess.run([str(exe), "prompts", "list"], cwd=work, env=env, capture_output=True, text=True)
    assert listed.returncode == 0 and "voice_quality" in listed.stdout
