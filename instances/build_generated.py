"""Build the synthetic benchmark suite ``instances/generated/*.json``.

Run ``python -m instances.build_generated [--out-dir DIR]``. Each instance is
:func:`instances.generate.generate` with the arguments in :data:`SUITE`, so the
files are byte for byte reproducible. The two small instances carry a balance
constraint and a precedence per region, like ``shared/examples/generated-a.json``;
the two large ones leave balance out, because each of its ``regions × years``
rows spans every site of the country (dense rows of 3,000 terms) and would
measure that one constraint rather than scaling.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from instances.generate import generate
from instances.serialize import write_json

OUT_DIR = Path(__file__).resolve().parent / "generated"
SEED = 1
BALANCE_PCT = 25

# file stem -> (regions, sites per region, years, crew pools, keyword options)
SUITE: dict[str, tuple[int, int, int, int, dict[str, Any]]] = {
    "gen-10x12x6": (10, 12, 6, 12, {"balance_pct": BALANCE_PCT, "precedences": 10}),
    "gen-200": (10, 20, 10, 12, {"balance_pct": BALANCE_PCT, "precedences": 10}),
    "gen-1000": (20, 50, 15, 100, {"precedences": 20}),
    "gen-3000": (30, 100, 20, 300, {"precedences": 30}),
}


def build_suite() -> dict[str, dict[str, Any]]:
    """Every benchmark scenario by file name."""
    return {
        f"{stem}.json": generate(regions, sites, years, pools, SEED, name=stem, **options)
        for stem, (regions, sites, years, pools, options) in SUITE.items()
    }


def main(argv: list[str] | None = None) -> int:
    """Write the suite into ``--out-dir`` (default ``instances/generated``)."""
    parser = argparse.ArgumentParser(
        prog="python -m instances.build_generated", description=__doc__.splitlines()[0]
    )
    parser.add_argument(
        "--out-dir",
        type=Path,
        default=OUT_DIR,
        help="where to write (default: instances/generated/)",
    )
    args = parser.parse_args(argv)
    for file_name, doc in build_suite().items():
        write_json(doc, args.out_dir / file_name)
        print(
            f"{args.out_dir / file_name}: {len(doc['sites'])} sites, {len(doc['crews'])} crew pools",
            file=sys.stderr,
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
