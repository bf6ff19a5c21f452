"""The package layout: imports go down the pipeline, never up; only aws/ reaches boto3.

Every ``import`` in ``src/groupify`` is read with :mod:`ast`, including the
ones made only for type hints (under ``if TYPE_CHECKING:``) and the ones
inside functions, because each of them is a dependency a reader must follow.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

import networkx as nx
import pytest

SRC = Path(__file__).resolve().parents[1] / "src" / "groupify"

#: The layers, lowest first: a module may import its own layer and the ones before it.
#: The top-level private modules are the base every stage may use; the root package
#: (``groupify/__init__.py``, the public API) sits above every stage, and the CLI
#: above it; ``testing`` (synthetic accounts) is for tests, benchmarks and the demo.
LAYERS = (
    ("errors", "_files", "_gc", "_html", "_views", "_version"),
    ("aws",),
    ("mining",),
    ("inventory",),
    ("privilege",),
    ("proposal",),
    ("plan",),
    ("runtime",),
    ("report",),
    ("export",),
    ("org",),
    ("__init__",),
    ("cli", "__main__"),
    ("testing",),
)
RANK = {unit: i for i, names in enumerate(LAYERS) for unit in names}

#: The only package allowed to import these.
AWS_LIBRARIES = ("boto3", "botocore", "tenacity")


def unit(module: str) -> str:
    """The package (or top-level module) of ``groupify.<unit>.…``; ``__init__`` for the root."""
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else "__init__"


def modules() -> Iterator[tuple[str, Path]]:
    for path in sorted(SRC.rglob("*.py")):
        rel = path.relative_to(SRC.parent).with_suffix("")
        name = ".".join(rel.parts)
        yield name.removesuffix(".__init__"), path


def imports(path: Path, module: str) -> Iterator[str]:
    """Every module *path* imports, absolute, wherever the import statement stands."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    package = module if path.name == "__init__.py" else module.rsplit(".", 1)[0]
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            yield from (a.name for a in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                base = ".".join(
                    [*package.split(".")[: len(package.split(".")) - node.level + 1], base]
                ).rstrip(".")
            yield base
            # "from package import x" may name a submodule x.
            yield from (f"{base}.{a.name}" for a in node.names)


def graph() -> nx.DiGraph:
    g = nx.DiGraph()
    for module, path in modules():
        for target in imports(path, module):
            if target.startswith("groupify"):
                g.add_edge(module, target)
    return g


def test_every_unit_is_placed_in_a_layer() -> None:
    """Each package and top-level module of src/groupify is in the layer table."""
    units = {unit(m) for m, _ in modules()}
    assert units - set(RANK) == set()


def test_no_import_cycle_between_packages() -> None:
    """Counting type-only and function-level imports, the packages form no cycle."""
    packages = nx.DiGraph()
    for a, b in graph().edges:
        if b in {m for m, _ in modules()} and unit(a) != unit(b):
            packages.add_edge(unit(a), unit(b))
    assert list(nx.simple_cycles(packages)) == []


def test_imports_go_down_the_pipeline() -> None:
    """No module imports a package that comes later in the pipeline than its own."""
    known = {m for m, _ in modules()}
    upward = sorted(
        f"{a} imports {b}" for a, b in graph().edges if b in known and RANK[unit(b)] > RANK[unit(a)]
    )
    assert upward == []


@pytest.mark.parametrize("library", AWS_LIBRARIES)
def test_only_aws_imports_the_aws_libraries(library: str) -> None:
    """boto3, botocore and tenacity are imported in groupify.aws and nowhere else."""
    users = sorted(
        module
        for module, path in modules()
        for target in imports(path, module)
        if (target == library or target.startswith(library + ".")) and unit(module) != "aws"
    )
    assert users == []
    assert any(
        target.startswith(library)
        for module, path in modules()
        if unit(module) == "aws"
        for target in imports(path, module)
    )


def test_the_layer_check_can_fail(tmp_path: Path) -> None:
    """The reader sees type-only and function-level imports (the check is not vacuous)."""
    source = tmp_path / "m.py"
    source.write_text(
        "from typing import TYPE_CHECKING\n"
        "if TYPE_CHECKING:\n    from groupify.runtime.result import ApplyResult\n"
        "def f():\n    import boto3\n    from . import ops\n",
        encoding="utf-8",
    )
    found = set(imports(source, "groupify.plan.m"))
    assert {"groupify.runtime.result", "boto3", "groupify.plan.ops"} <= found
