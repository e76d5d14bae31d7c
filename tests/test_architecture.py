"""The package's shape: imports flow one way, modules stay small, no private names cross.

Layers, lowest first (a module may import only from its own layer or lower ones)::

    base (errors, _atomic, _json, _grouping, _resampling, _claim_status) -> data -> models
        -> simulate -> training -> analysis -> plotting -> sweep -> report -> reproduce -> cli

The CLI is imported by nothing but the ``python -m alrnn_neuro`` entry point. A function-local
import of the package's own modules is allowed only where it keeps a heavy dependency (torch
above all, also matplotlib, dask, xarray and the other scientific packages in :data:`HEAVY`)
out of a module that is otherwise light to import, e.g. ``import alrnn_neuro`` and the CLI's
command registry (``alrnn-neuro --help`` starts without torch); anything else is a hidden
cycle or a convenience that belongs at the top.
"""

from __future__ import annotations

import ast
from dataclasses import dataclass
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "alrnn_neuro"
LAYERS = (
    "base",
    "data",
    "models",
    "simulate",
    "training",
    "analysis",
    "plotting",
    "sweep",
    "report",
    "reproduce",
    "cli",
)
BASE_MODULES = {
    "errors",
    "_atomic",
    "_json",
    "_grouping",
    "_resampling",
    "_claim_status",
    "__init__",
}
ENTRY_POINTS = {"alrnn_neuro.__main__"}
#: the console script imports the app inside ``main`` so that Ctrl-C during start-up is caught
LOCAL_IMPORT_EXEMPT = {"alrnn_neuro.cli"}
#: third-party packages that are slow to import (torch: seconds; numba: about half a second)
#: or optional extras
HEAVY = (
    "torch",
    "numba",
    "matplotlib",
    "dask",
    "distributed",
    "pynwb",
    "pynapple",
    "rsatoolbox",
)
MAX_LINES = 450


@dataclass(frozen=True)
class Import:
    module: str  # the importing module
    target: str  # the imported module (absolute, inside the package)
    names: tuple[str, ...]
    local: bool  # inside a function
    line: int


def module_name(root: Path, file: Path) -> str:
    rel = file.relative_to(root.parent).with_suffix("")
    parts = rel.parts[:-1] if rel.name == "__init__" else rel.parts
    return ".".join(parts)


def layer_of(module: str) -> str:
    parts = module.split(".")
    if len(parts) == 1 or parts[1] in BASE_MODULES or parts[1] == "__main__":
        return "base"
    return parts[1]


def package_imports(root: Path) -> list[Import]:
    """Every import of the package's own modules, with whether it sits inside a function."""
    out = []
    pkg = root.name
    for file in sorted(root.rglob("*.py")):
        module = module_name(root, file)
        tree = ast.parse(file.read_text())
        local_nodes = {
            id(inner)
            for node in ast.walk(tree)
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef)
            for inner in ast.walk(node)
        }
        for node in ast.walk(tree):
            if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                if node.module == pkg or node.module.startswith(pkg + "."):
                    names = tuple(a.name for a in node.names)
                    target = node.module
                    if node.module == pkg and all(n != "__version__" for n in names):
                        target = f"{pkg}.{names[0]}"  # `from pkg import data` = a subpackage
                    out.append(Import(module, target, names, id(node) in local_nodes, node.lineno))
            elif isinstance(node, ast.Import):
                for alias in node.names:
                    if alias.name.startswith(pkg + "."):
                        out.append(
                            Import(module, alias.name, (), id(node) in local_nodes, node.lineno)
                        )
    return out


def layering_violations(root: Path) -> list[str]:
    """Imports against the flow, and imports of the CLI from outside it."""
    found = []
    for imp in package_imports(root):
        if imp.module in ENTRY_POINTS:
            continue
        src, dst = layer_of(imp.module), layer_of(imp.target)
        if src not in LAYERS or dst not in LAYERS:
            found.append(f"{imp.module}:{imp.line}: unknown layer ({src} -> {dst})")
        elif LAYERS.index(dst) > LAYERS.index(src):
            found.append(f"{imp.module}:{imp.line} imports {imp.target} ({src} -> {dst})")
    return found


def private_imports(root: Path) -> list[str]:
    """``from pkg.mod import _name`` across modules."""
    return [
        f"{imp.module}:{imp.line} imports {name} from {imp.target}"
        for imp in package_imports(root)
        for name in imp.names
        if name.startswith("_") and not name.startswith("__") and imp.target != imp.module
    ]


def heavy_dependencies(root: Path) -> dict[str, set[str]]:
    """Per module: the :data:`HEAVY` packages its import pulls in (module level, transitively)."""
    direct: dict[str, set[str]] = {}
    edges: dict[str, set[str]] = {}
    for file in root.rglob("*.py"):
        module = module_name(root, file)
        tree = ast.parse(file.read_text())
        heavy, deps = set(), set()
        for node in tree.body:  # module level only
            if isinstance(node, ast.Import):
                heavy |= {a.name.split(".")[0] for a in node.names} & set(HEAVY)
                deps |= {a.name for a in node.names if a.name.startswith(root.name + ".")}
            elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                heavy |= {node.module.split(".")[0]} & set(HEAVY)
                if node.module.startswith(root.name + "."):
                    deps.add(node.module)
                    deps |= {f"{node.module}.{a.name}" for a in node.names}
        direct[module], edges[module] = heavy, deps
    for module in list(edges):  # importing a.b.c runs a/__init__ and a/b/__init__ first
        parts = module.split(".")
        edges[module] |= {".".join(parts[:i]) for i in range(2, len(parts))}
    pulled = {m: set(h) for m, h in direct.items()}
    changed = True
    while changed:
        changed = False
        for module, deps in edges.items():
            gained = set().union(*(pulled.get(d, set()) for d in deps)) - pulled[module]
            if gained:
                pulled[module] |= gained
                changed = True
    return pulled


def unjustified_local_imports(root: Path) -> list[str]:
    """Function-local imports that keep no heavy dependency out of their module."""
    pulled = heavy_dependencies(root)
    out = []
    for imp in package_imports(root):
        if not imp.local or imp.module in LOCAL_IMPORT_EXEMPT:
            continue
        targets = [imp.target, *(f"{imp.target}.{name}" for name in imp.names)]
        brings = set().union(*(pulled.get(t, set()) for t in targets))
        if not brings - pulled.get(imp.module, set()):
            out.append(f"{imp.module}:{imp.line} imports {imp.target} inside a function")
    return out


def long_modules(root: Path) -> list[str]:
    return [
        f"{file.relative_to(root.parent)}: {n} lines"
        for file in root.rglob("*.py")
        if (n := len(file.read_text().splitlines())) > MAX_LINES
    ]


# ---------------------------------------------------------------------------- the package


def test_imports_flow_one_way_and_the_cli_is_imported_by_nothing():
    assert layering_violations(PACKAGE) == []


def test_no_private_name_is_imported_across_modules():
    assert private_imports(PACKAGE) == []


def test_function_local_imports_only_keep_heavy_dependencies_out():
    assert unjustified_local_imports(PACKAGE) == []


def test_no_module_is_longer_than_the_limit():
    assert long_modules(PACKAGE) == []


def test_importing_the_package_and_its_data_layer_does_not_import_torch():
    import subprocess
    import sys

    code = (
        "import sys, alrnn_neuro, alrnn_neuro.data.h5, alrnn_neuro.data.schema, "
        "alrnn_neuro.models.params, alrnn_neuro.cli.app; "
        "print('torch' in sys.modules)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


# ---------------------------------------------------------------------------- the checker


@pytest.fixture
def toy_package(tmp_path):
    """A tiny package laid out like ours, correct as written."""
    root = tmp_path / "alrnn_neuro"
    for folder in ("", "data", "training", "analysis", "cli"):
        (root / folder).mkdir(parents=True, exist_ok=True)
        (root / folder / "__init__.py").write_text("")
    (root / "errors.py").write_text("class E(Exception):\n    pass\n")
    (root / "data" / "io.py").write_text("from alrnn_neuro.errors import E\n")
    (root / "training" / "fit.py").write_text(
        "import torch\nfrom alrnn_neuro.data.io import E\n\ndef _helper():\n    pass\n"
    )
    (root / "analysis" / "stats.py").write_text("from alrnn_neuro.training.fit import E\n")
    (root / "cli" / "run.py").write_text(
        "def main():\n    from alrnn_neuro.training.fit import E\n    return E\n"
    )
    return root


def test_checker_passes_a_clean_package(toy_package):
    assert layering_violations(toy_package) == []
    assert unjustified_local_imports(toy_package) == []
    assert private_imports(toy_package) == []


def test_checker_fails_on_an_import_against_the_flow(toy_package):
    (toy_package / "data" / "io.py").write_text("from alrnn_neuro.analysis.stats import E\n")
    found = layering_violations(toy_package)
    assert found == ["alrnn_neuro.data.io:1 imports alrnn_neuro.analysis.stats (data -> analysis)"]


def test_checker_fails_when_the_library_imports_the_cli(toy_package):
    (toy_package / "analysis" / "stats.py").write_text(
        "def f():\n    from alrnn_neuro.cli.run import main\n    return main\n"
    )
    assert any("(analysis -> cli)" in v for v in layering_violations(toy_package))


def test_checker_fails_on_a_local_import_that_hides_nothing(toy_package):
    (toy_package / "analysis" / "stats.py").write_text(
        "from alrnn_neuro.training.fit import E\n\n"
        "def f():\n    from alrnn_neuro.data.io import E\n    return E\n"
    )
    assert unjustified_local_imports(toy_package) == [
        "alrnn_neuro.analysis.stats:4 imports alrnn_neuro.data.io inside a function"
    ]


def test_checker_fails_on_a_private_import(toy_package):
    (toy_package / "analysis" / "stats.py").write_text(
        "from alrnn_neuro.training.fit import _helper\n"
    )
    assert private_imports(toy_package) == [
        "alrnn_neuro.analysis.stats:1 imports _helper from alrnn_neuro.training.fit"
    ]
