"""The package's architecture as a test: the allowed import directions between its layers.

Reporting (`cae.report`, reading runs in `cae.infra.runs`) imports no training code; the
method core (`cae.method`) imports nothing from evaluation or reporting; nothing imports the
CLI. Imports are read from the source (ast), so lazy imports inside functions count too.
"""

from __future__ import annotations

import ast
from pathlib import Path


PACKAGE = Path(__file__).resolve().parents[1] / "cae"
TRAINING = ("cae.method.train", "cae.method.checkpoints", "cae.method.networks", "cae.method.losses",
            "cae.method.optim", "cae.method.augment", "cae.method.models", "cae.method.sampling",
            "cae.pipeline", "cae.infra.distributed", "cae.infra.provenance")


def _module(path: Path) -> str:
    return ".".join(path.relative_to(PACKAGE.parent).with_suffix("").parts).removesuffix(".__init__")


def imports() -> dict[str, set[str]]:
    """Every cae module and the cae modules it imports, anywhere in its source."""
    found = {}
    for path in sorted(PACKAGE.rglob("*.py")):
        names = set()
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("cae"):
                names.add(node.module)
                names |= {f"{node.module}.{a.name}" for a in node.names}
            elif isinstance(node, ast.Import):
                names |= {a.name for a in node.names if a.name.startswith("cae")}
        found[_module(path)] = names
    return {m: {n for n in names if n in found} for m, names in found.items()}


def _violations(importer: str, forbidden: tuple[str, ...]) -> list[str]:
    return [f"{m} imports {n}" for m, names in imports().items()
            if m == importer or m.startswith(importer + ".")
            for n in sorted(names) if n.startswith(forbidden)]


def test_reporting_imports_no_training_code():
    assert _violations("cae.report", TRAINING) == []
    assert _violations("cae.infra.runs", TRAINING + ("cae.evaluation",)) == []


def test_the_method_core_imports_no_evaluation_or_reporting():
    assert _violations("cae.method", ("cae.evaluation", "cae.report", "cae.pipeline")) == []


def test_nothing_imports_the_cli():
    assert [f"{m} imports cae.cli" for m, names in imports().items()
            if m not in ("cae.cli", "cae.__main__") and "cae.cli" in names] == []


def test_nothing_below_the_pipeline_imports_it():
    assert [m for m, names in imports().items()
            if "cae.pipeline" in names and m not in ("cae.cli", "cae.notebook_params")] == []


def test_every_subpackage_says_what_lives_there():
    for init in PACKAGE.glob("*/__init__.py"):
        doc = ast.get_docstring(ast.parse(init.read_text()))
        assert doc and "\n" not in doc.strip(), init
