#!/usr/bin/env bash
# The real-voice dev suite, rebuilt from Debian packages, and a model scored on it (docs/real-voices.md).
#
#   benchmarks/real_voice_dev.sh [MODEL [TAG]]     MODEL: 'default' (the built-in bundle), a bundle or a run folder,
#                                                  or 'none': build the corpus and suite only (the default chain)
#
# Downloads the pinned package versions with apt-get download (run 'apt-get update' once first), unpacks them with
# dpkg -x under $SRC, imports them and builds the suite under $WORK (slap-edge data real-voice-dev), then writes
# benchmarks/results/real-voice-dev/TAG.json and .md (slap-edge eval, with the MFCC reference row), stamped with the
# git commit, the command, the machine and the packages' sha256. A re-run reuses what is already downloaded.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
MODEL=${1:-default}
TAG=${2:-$(basename "$MODEL")}
SRC=${SRC:-work-data/real-src}
WORK=${WORK:-work-data/real-voice-dev}
PY=${PY:-.venv/bin/python}
RESULTS=${RESULTS:-benchmarks/results/real-voice-dev}
export HF_HUB_OFFLINE=1
# Debian 12 (bookworm) versions; another version may hold other recordings, so the suite would differ.
PACKAGES=(
	asterisk-core-sounds-en-wav=1.6.1-1
	asterisk-core-sounds-es-wav=1.6.1-1
	asterisk-core-sounds-fr-wav=1.6.1-1
	asterisk-core-sounds-it-wav=1.6.1-1
	asterisk-core-sounds-ru-wav=1.6.1-1
	hedgewars-data=1.0.2-6
	klettres-data=4:22.12.3-1
)

mkdir -p "$SRC/debs" "$RESULTS"
for spec in "${PACKAGES[@]}"; do
	name=${spec%%=*}
	if ! compgen -G "$SRC/debs/${name}_*.deb" >/dev/null; then
		(cd "$SRC/debs" && apt-get download "$spec") || {
			echo "apt-get download $spec failed: run 'apt-get update' first; 'apt-cache policy $name' shows the" \
				"versions this machine's Debian sources offer" >&2
			exit 1
		}
	fi
	if [ ! -d "$SRC/$name" ]; then
		rm -rf "$SRC/$name.partial"
		dpkg -x "$(compgen -G "$SRC/debs/${name}_*.deb" | head -1)" "$SRC/$name.partial"
		mv "$SRC/$name.partial" "$SRC/$name"
	fi
done

"$PY" -m slap_edge.cli data real-voice-dev "$SRC" --out "$WORK"
if [ "$MODEL" = none ]; then
	echo "built $WORK (corpus and suite); no model scored"
	exit 0
fi
"$PY" -m slap_edge.cli eval --suite "$WORK/suite" --model "$MODEL" \
	--json "$RESULTS/$TAG.json" --markdown "$RESULTS/$TAG.md"

# Stamp the result with what made it.
"$PY" - "$RESULTS/$TAG.json" "$RESULTS/$TAG.md" "$WORK/real_voice_dev.json" "$SRC/debs" "$0 $*" <<'EOF'
import hashlib, json, platform, subprocess, sys
from pathlib import Path

json_path, md_path, build_path, debs, command = Path(sys.argv[1]), Path(sys.argv[2]), Path(sys.argv[3]), Path(sys.argv[4]), sys.argv[5]
git = lambda *a: subprocess.run(["git", *a], capture_output=True, text=True).stdout.strip()
cpu = next((l.split(":", 1)[1].strip() for l in Path("/proc/cpuinfo").read_text().splitlines() if l.startswith("model name")), platform.processor())
stamp = {
    "commit": git("rev-parse", "HEAD"),
    "dirty": bool(git("status", "--porcelain", "--untracked-files=no")),
    "command": command,
    "machine": f"{cpu}, {len([l for l in Path('/proc/cpuinfo').read_text().splitlines() if l.startswith('processor')])} cores",
    "packages": {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in sorted(debs.glob("*.deb"))},
    "suite_build": json.loads(build_path.read_text()),
}
report = json.loads(json_path.read_text())
report["provenance"] = stamp
json_path.write_text(json.dumps(report, indent=2, ensure_ascii=False) + "\n")
head = f"Commit `{stamp['commit']}`{' (uncommitted changes)' if stamp['dirty'] else ''}; `{command}`; {stamp['machine']}.\n\n"
md_path.write_text(head + md_path.read_text())
EOF
echo "wrote $RESULTS/$TAG.json and $RESULTS/$TAG.md"
