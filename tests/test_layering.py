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


def imported_module_names(package: str) -> dict[str, set[str]]:
    """Full dotted names of the absolute imports of every module under `package`."""
    found: dict[str, set[str]] = {}
    for path in (ROOT / package).rglob("*.py"):
        names: set[str] = set()
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Import):
                names.update(alias.name for alias in node.names)
            elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                names.add(node.module)
                names.update(f"{node.module}.{alias.name}" for alias in node.names)
        found[str(path.relative_to(ROOT))] = names
    return found


def test_vlm_stages_never_import_the_document_composer() -> None:
    composer = "pipeline.process"
    offenders = {
        path: {name for name in names if name == composer or name.startswith(f"{composer}.")}
        for path, names in imported_module_names("pipeline/vlm").items()
    }
    assert {path: names for path, names in offenders.items() if names} == {}


def test_flows_hold_no_process_wide_registries() -> None:
    """A run's live objects travel in its RunContext, never in module-level registries of flows/ or the VLM
    stages (the old _SESSIONS, _BATCHES, _progress_listeners and _LIMITERS all started as empty literals)."""
    offenders: list[str] = []
    for package in ("flows", "pipeline/vlm"):
        for path in (ROOT / package).rglob("*.py"):
            for node in ast.parse(path.read_text()).body:
                value = node.value if isinstance(node, ast.Assign | ast.AnnAssign) else None
                if (isinstance(value, ast.Dict) and not value.keys) or (
                    isinstance(value, ast.List | ast.Set) and not value.elts
                ):
                    offenders.append(f"{path.relative_to(ROOT)}:{node.lineno}")
    assert offenders == []
