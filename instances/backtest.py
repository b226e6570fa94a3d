"""Backtest: how many of a national plan's 2024 picks were the sites actually built in 2024.

``python -m instances.backtest PLAN.json [--data-dir shared/data]`` compares, per
province, the model's 2024 builds of ``national-20x10.json`` with the 2024 batch
of ``rollout_actual.csv`` and prints a markdown table (used in the README).
"""

from __future__ import annotations

import argparse
import json
import sys
from collections import defaultdict
from pathlib import Path
from typing import Any

from instances.build_national import default_data_dir, load_data, rollout_years, site_id, slug


def backtest(plan: dict[str, Any], data_dir: Path, year: int = 2024) -> list[dict[str, Any]]:
    """Per province: sites built in ``year`` by the plan and in reality, and their overlap."""
    data = load_data(data_dir)
    years, _ = rollout_years(data)
    actual: dict[str, set[str]] = defaultdict(set)
    for (province, county), y in years.items():
        if y == year:
            actual[slug(province)].add(site_id(province, county))
    model: dict[str, set[str]] = defaultdict(set)
    for b in plan["builds"]:
        if b["year"] == year:
            model[b["region"]].add(b["site"])
    rows = []
    for region in sorted(actual.keys() | model.keys()):
        a, m = actual[region], model[region]
        rows.append(
            {
                "region": region,
                "actual": len(a),
                "model": len(m),
                "match": len(a & m),
                "matched": sorted(a & m),
                "actual_only": sorted(a - m),
                "model_only": sorted(m - a),
            }
        )
    return rows


def to_markdown(rows: list[dict[str, Any]], year: int = 2024) -> str:
    """The README table of :func:`backtest`'s rows for ``year``."""
    lines = [
        f"| province | built {year} | model {year} | both | built, not picked | picked, not built |",
        "|---|---|---|---|---|---|",
    ]
    for r in rows:
        short = lambda ids: ", ".join(i.split(".", 1)[1] for i in ids) or "–"  # noqa: E731
        lines.append(
            f"| {r['region']} | {r['actual']} | {r['model']} | {r['match']} | {short(r['actual_only'])} | {short(r['model_only'])} |"
        )
    total = [sum(r[k] for r in rows) for k in ("actual", "model", "match")]
    lines.append(f"| **all** | {total[0]} | {total[1]} | {total[2]} | | |")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("plan", help="a plan of national-20x10.json")
    parser.add_argument("--data-dir", type=Path, default=None)
    parser.add_argument("--year", type=int, default=2024)
    args = parser.parse_args(argv)
    plan = json.loads(Path(args.plan).read_text(encoding="utf-8"))
    print(to_markdown(backtest(plan, args.data_dir or default_data_dir(), args.year), args.year))
    return 0


if __name__ == "__main__":
    sys.exit(main())
