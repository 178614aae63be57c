"""Extract AWS's service catalogue from botocore into ``data/aws/services.tsv``.

    python -m models.taxonomy.aws_catalogue          # from the installed (pinned) botocore

botocore (Apache-2.0) ships one model per AWS service; each model's ``metadata`` names the service
(``serviceFullName``, e.g. "Amazon Simple Storage Service", and often ``serviceAbbreviation``,
e.g. "Amazon S3"). The taxonomy build reads the extract, not botocore itself, so a botocore upgrade
changes the taxonomy only when this command is run again and the diff is committed.
"""

from __future__ import annotations

import argparse
import csv
import gzip
import json
import sys
from pathlib import Path

from jobreqs.config import SOURCE_DATA_DIR

OUT = SOURCE_DATA_DIR / "aws" / "services.tsv"
COLUMNS = ["service_id", "abbreviation", "full_name"]


def _latest_model(service_dir: Path) -> Path | None:
    versions = sorted(p for p in service_dir.iterdir() if p.is_dir())
    for version in reversed(versions):
        for name in ("service-2.json", "service-2.json.gz"):
            if (version / name).exists():
                return version / name
    return None


def read_botocore() -> tuple[str, list[dict[str, str]]]:
    """(botocore version, one row per service with ``COLUMNS``), sorted by service id."""
    import botocore

    root = Path(botocore.__file__).resolve().parent / "data"
    rows = []
    for service_dir in sorted(p for p in root.iterdir() if p.is_dir()):
        model = _latest_model(service_dir)
        if model is None:
            continue
        opener = gzip.open if model.suffix == ".gz" else open
        with opener(model, "rt", encoding="utf-8") as f:
            meta = json.load(f).get("metadata", {})
        rows.append({"service_id": service_dir.name,
                     "abbreviation": (meta.get("serviceAbbreviation") or "").strip(),
                     "full_name": (meta.get("serviceFullName") or "").strip()})
    return botocore.__version__, rows


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=OUT)
    args = parser.parse_args(argv)
    version, rows = read_botocore()
    args.out.parent.mkdir(parents=True, exist_ok=True)
    with args.out.open("w", encoding="utf-8", newline="") as f:
        f.write(f"# botocore {version}: service model metadata (Apache-2.0, see ATTRIBUTION.md)\n")
        writer = csv.DictWriter(f, fieldnames=COLUMNS, delimiter="\t", lineterminator="\n")
        writer.writeheader()
        writer.writerows(rows)
    print(f"{len(rows)} services from botocore {version} -> {args.out}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
