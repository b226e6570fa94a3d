"""Draw the README's pictures from a real solve: one PNG per plot kind of ``api.client.Plan``.

    python notebooks/make_figures.py [--url URL] [--api-key KEY] [--time-limit 30] [--out docs/img]

Solves the national scenario and the notebook's three what-ifs (on the service at
``--url``, else in this process, two at a time), then writes
``timeline.png``, ``map.png``, ``served_share.png``, ``comparison.png`` and
``batch.png``. The plans are those of a ``--time-limit`` solve (usually
*feasible* with a small gap); the titles say so.
"""

from __future__ import annotations

import argparse
import os
from importlib.resources import files
from pathlib import Path

import matplotlib

matplotlib.use("Agg")

from api.client import Planner, Scenario  # noqa: E402  (after the headless backend)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--url",
        default=os.environ.get("RDPLAN_URL"),
        help="rdplan service (default: solve in-process)",
    )
    parser.add_argument("--api-key", default=os.environ.get("RDPLAN_API_KEY"))
    parser.add_argument("--time-limit", type=float, default=30.0)
    parser.add_argument(
        "--out", type=Path, default=Path(__file__).resolve().parents[1] / "docs" / "img"
    )
    args = parser.parse_args(argv)

    national = Scenario(
        files("instances").joinpath("national-20x10.json").read_text(encoding="utf-8")
    )
    planner = Planner(args.url, api_key=args.api_key) if args.url else Planner.local(workers=2)
    q = national.model.quotas
    questions = {  # the what-ifs of notebooks/what-if.ipynb
        "fewer crews 2027": national.with_(crews_scale={2027: 2 / 3}),
        "3 per province": national.with_(
            region_year_quota=(q.region_year.min if q.region_year else None, 3),
            region_quota={o.region: (o.min, 3) for o in q.overrides},
            year_quota=(q.year.min if q.year else None, None),
        ),
        "lead time 2": national.with_(lead_time=2),
    }
    with planner:
        result = planner.batch(
            questions,
            base=national,
            base_name=national.name,
            time_limit=args.time_limit,
            threads=1,
            seed=0,
        )
    base, lead = result[national.name], result["lead time 2"]
    if not (base.has_plan and lead.has_plan):
        raise SystemExit(
            f"no plan within {args.time_limit:g} s ({base.status}, {lead.status}): raise --time-limit"
        )
    args.out.mkdir(parents=True, exist_ok=True)
    figures = {
        "timeline.png": base.plot_timeline(),
        "map.png": base.plot_map(),
        "served_share.png": base.plot_served_share(),
        "comparison.png": base.plot_comparison(lead),
        "batch.png": result.plot(),
    }
    for name, fig in figures.items():
        fig.savefig(args.out / name, dpi=90, bbox_inches="tight")
        print(args.out / name)
    for plan in result.plans.values():
        print(repr(plan))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
