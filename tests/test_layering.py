"""The import layers the design promises: schemas import nothing of ours, pipeline never imports Prefect,
and the product (schemas, pipeline, flows) never depends on the dev tools."""

from __future__ import annotations

import ast
import subprocess
import sys
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
    ours = {"pipeline", "flows", "devtools"}
    offenders = {path: names & ours for path, names in imported_modules("schemas").items() if names & ours}
    assert offenders == {}


# Where `devtools` may be imported from the product: inside these dev-command handlers of flows/cli.py only.
DEVTOOLS_IMPORTERS = frozenset(
    {
        ("flows/cli.py", "command_samples"),
        ("flows/cli.py", "command_eval"),
        ("flows/cli.py", "command_calibrate"),
        ("flows/cli.py", "_score_truth"),
    }
)


def devtools_imports(package: str) -> set[tuple[str, str]]:
    """(file, enclosing top-level function or "<module>") of every import of `devtools` in `package`."""
    found: set[tuple[str, str]] = set()
    for path in (ROOT / package).rglob("*.py"):
        relative = str(path.relative_to(ROOT))
        for top in ast.parse(path.read_text()).body:
            scope = top.name if isinstance(top, ast.FunctionDef | ast.AsyncFunctionDef) else "<module>"
            for node in ast.walk(top):
                if isinstance(node, ast.Import):
                    names = {alias.name.split(".")[0] for alias in node.names}
                elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                    names = {node.module.split(".")[0]}
                else:
                    continue
                if "devtools" in names:
                    found.add((relative, scope))
    return found


def test_pipeline_and_schemas_never_import_devtools() -> None:
    assert devtools_imports("pipeline") == set()
    assert devtools_imports("schemas") == set()


def test_flows_import_devtools_only_inside_the_dev_commands() -> None:
    found = devtools_imports("flows")
    assert found <= DEVTOOLS_IMPORTERS, found - DEVTOOLS_IMPORTERS
    # The check sees the imports that are there: every dev command still reaches devtools.
    assert found == DEVTOOLS_IMPORTERS


def test_devtools_builds_on_the_product_not_on_flows() -> None:
    offenders = {path: names for path, names in imported_modules("devtools").items() if "flows" in names}
    assert offenders == {}


def test_a_production_run_loads_neither_devtools_nor_reportlab() -> None:
    code = (
        "import sys\n"
        "import flows.cli, flows.ingest, flows.backfill, flows.report, pipeline.process\n"
        "flows.cli.build_parser()\n"
        "print(sorted({m.split('.')[0] for m in sys.modules} & {'devtools', 'reportlab'}))\n"
    )
    result = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "[]"
