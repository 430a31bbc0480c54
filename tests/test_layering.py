"""The import layers the design promises: schemas import nothing of ours, pipeline never imports Prefect."""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def imported_modules(package: str) -> dict[str, set[str]]:
    found: dict[str, set[str]] = {}
    for path in (ROOT / package).rglob("*.py"):
        names: set[str] = set()
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Import):
                names.update(alias.name.split(".")[0] for alias in node.names)
            elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                names.add(node.module.split(".")[0])
        found[str(path.relative_to(ROOT))] = names
    return found


def test_pipeline_has_no_prefect_imports() -> None:
    offenders = {path: names for path, names in imported_modules("pipeline").items() if "prefect" in names}
    assert offenders == {}


def test_pipeline_does_not_import_flows() -> None:
    offenders = {path: names for path, names in imported_modules("pipeline").items() if "flows" in names}
    assert offenders == {}


def test_schemas_import_nothing_of_ours() -> None:
    ours = {"pipeline", "flows"}
    offenders = {path: names & ours for path, names in imported_modules("schemas").items() if names & ours}
    assert offenders == {}
