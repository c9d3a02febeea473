"""Stamp a chain's record (the `record.json` that train/reproduce_default.sh writes beside the bundle's card) with the
provenance block every JSON under benchmarks/results/ carries: the commit of the code that made it, the student run's
recipe and model-config hashes and corpus fingerprint, the machine, and which script made it.

python benchmarks/pipeline/stamp_record.py RECORD STUDENT_RUN BUNDLE "MADE_BY"
"""

import argparse
import datetime
import json
from pathlib import Path

from slap_edge.provenance import machine_label, model_hashes

parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
parser.add_argument("record", type=Path, help="the record.json to stamp (rewritten in place)")
parser.add_argument("student", type=Path, help="the student run folder the bundle was exported from")
parser.add_argument("bundle", type=Path, help="the bundle folder (its manifest's time is the record's date)")
parser.add_argument("made_by", help="the script and switches that made it")
args = parser.parse_args()
for path, what in ((args.record, "record"), (args.bundle / "manifest.json", "bundle manifest")):
    if not path.is_file():
        parser.error(f"{path}: no such file ({what})")
if not (args.student / "config.json").is_file():
    parser.error(f"{args.student}: not a run folder (no config.json)")
record = json.loads(args.record.read_text(encoding="utf-8"))
if "git_commit" not in record:
    parser.error(f"{args.record}: not a chain record (no git_commit)")
made = datetime.datetime.fromtimestamp((args.bundle / "manifest.json").stat().st_mtime, datetime.timezone.utc)
record["provenance"] = {
    "date": made.strftime("%Y-%m-%dT%H:%M:%SZ"),
    "commit": f"{record['git_commit']} (the code that made it; stamped afterwards)",
    "made_by": args.made_by,
    **model_hashes(args.student),
    "suite": "n/a",
    "suite_hash": "n/a",
    "machine": machine_label(),
}
args.record.write_text(json.dumps(record, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
print(f"stamped {args.record}: {record['provenance']}")
