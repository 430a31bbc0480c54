"""Where benchmarks keep their history: one JSON file per run under benchmarks/results/, named by a UTC stamp."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]


def write_result(name: str, figures: Any) -> Path:
    """Write `figures` to benchmarks/results/<name>-<UTC stamp>.json, print where, and return the path."""
    results = ROOT / "benchmarks" / "results"
    results.mkdir(parents=True, exist_ok=True)
    target = results / f"{name}-{datetime.now(UTC).strftime('%Y%m%dT%H%M%SZ')}.json"
    target.write_text(json.dumps(figures, indent=2) + "\n")
    print(f"\nwritten: {target.relative_to(ROOT)}")
    return target
