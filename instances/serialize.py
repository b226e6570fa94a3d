"""The one byte format of every committed scenario file.

The committed instances are compared byte for byte with a fresh build, so every
writer goes through :func:`dumps`: ``indent=1``, non-ASCII kept, keys in
insertion order, one trailing newline, nothing that varies between runs.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any


def dumps(doc: dict[str, Any]) -> str:
    """Serialise a scenario document in the committed-file format."""
    return json.dumps(doc, indent=1, ensure_ascii=False, sort_keys=False) + "\n"


def write_json(doc: dict[str, Any], path: Path) -> None:
    """Write ``doc`` to ``path`` (UTF-8, ``\\n`` line ends), creating the folder."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", encoding="utf-8", newline="\n") as handle:
        handle.write(dumps(doc))
