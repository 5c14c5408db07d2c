"""The shape of the code: imports point one way, and no module imports itself in a circle.

Layer order (an arrow means "may be imported by")::

    theory  <-  lottery_core  <-  sims  <-  lottery_cli

``theory.derivations`` (the sympy scripts) is part of ``theory`` but only the CLI may import it
(``lottery derive``); inside ``theory`` only ``theory.derivations`` itself may.

The imports are read from the source with :mod:`ast`, without importing anything: every
``import x`` and ``from x import y`` statement, at module level or inside a function, a class
or an ``if``/``try`` block, with relative imports resolved against the importing module.
``from pkg import name`` counts as an import of the module ``pkg.name`` when that module
exists, else of ``pkg``. Dynamic imports (``importlib.import_module``) are not seen.
"""

from __future__ import annotations

import ast
import dataclasses
import textwrap
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]

#: the packages, lowest layer first
LAYERS = ("theory", "lottery_core", "sims", "lottery_cli")
#: a sub-package of a layer that only the given packages may import
RESTRICTED = {"theory.derivations": ("lottery_cli",)}

#: Modules allowed in an import cycle: none. (The 5-file cycle levels <-> experiment <->
#: deconstruct <-> lrr_methods <-> cifar_defaults was removed by the loops/ rebuild: an explicit
#: method registry, model defaults registered with the models.) This set must stay empty.
ALLOWED_CYCLE_MODULES: frozenset[str] = frozenset()


# --------------------------------------------------------------------------- the checker
@dataclasses.dataclass(frozen=True)
class Import:
    source: str    # importing module, e.g. "lottery_core.levels"
    target: str    # imported module (absolute), e.g. "lottery_core.experiment"
    line: int


def find_modules(root: Path, packages=LAYERS) -> dict[str, Path]:
    """``{module name: file}`` for every ``.py`` file under the given top-level packages."""
    modules = {}
    for package in packages:
        for path in sorted((root / package).rglob("*.py")):
            parts = list(path.relative_to(root).with_suffix("").parts)
            if parts[-1] == "__init__":
                parts.pop()
            modules[".".join(parts)] = path
    return modules


def _resolve(module: str, is_package: bool, node: ast.ImportFrom) -> str:
    """The absolute module name of ``from <node.module> import ...`` (relative ones resolved)."""
    if node.level == 0:
        return node.module or ""
    base = module.split(".") if is_package else module.split(".")[:-1]
    if node.level > 1:
        base = base[: len(base) - (node.level - 1)]
    return ".".join(base + ([node.module] if node.module else []))


def read_imports(root: Path, packages=LAYERS) -> tuple[list[Import], set[str]]:
    """Every import statement of every module (module level and nested), and the module names."""
    modules = find_modules(root, packages)
    imports = []
    for module, path in modules.items():
        is_package = path.name == "__init__.py"
        tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
        for node in ast.walk(tree):
            if isinstance(node, ast.Import):
                imports += [Import(module, alias.name, node.lineno) for alias in node.names]
            elif isinstance(node, ast.ImportFrom):
                base = _resolve(module, is_package, node)
                for alias in node.names:
                    candidate = f"{base}.{alias.name}"
                    target = candidate if alias.name != "*" and candidate in modules else base
                    imports.append(Import(module, target, node.lineno))
    return imports, set(modules)


def _layer(name: str, layers=LAYERS) -> int | None:
    top = name.split(".")[0]
    return layers.index(top) if top in layers else None


def _within(name: str, package: str) -> bool:
    return name == package or name.startswith(package + ".")


def layer_violations(imports: list[Import], layers=LAYERS, restricted=RESTRICTED) -> list[str]:
    """Imports that point up the layer order, or into a restricted sub-package."""
    problems = []
    for imp in imports:
        src, dst = _layer(imp.source, layers), _layer(imp.target, layers)
        if src is not None and dst is not None and dst > src:
            problems.append(f"{imp.source} (line {imp.line}) imports {imp.target}: "
                            f"{layers[src]} is below {layers[dst]} in the layer order "
                            f"{' <- '.join(layers)}")
        for package, allowed in restricted.items():
            if (_within(imp.target, package) and not _within(imp.source, package)
                    and imp.source.split(".")[0] not in allowed):
                problems.append(f"{imp.source} (line {imp.line}) imports {imp.target}: only "
                                f"{', '.join(allowed)} may import {package}")
    return problems


def module_graph(imports: list[Import], modules: set[str]) -> dict[str, set[str]]:
    """Edges between the modules found (imports of outside modules dropped, self-imports too)."""
    graph: dict[str, set[str]] = {m: set() for m in modules}
    for imp in imports:
        if imp.target in modules and imp.target != imp.source:
            graph[imp.source].add(imp.target)
    return graph


def strongly_connected_components(graph: dict[str, set[str]]) -> list[list[str]]:
    """Tarjan's algorithm (iterative); components of more than one module, each sorted."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    on_stack: set[str] = set()
    stack: list[str] = []
    components = []
    counter = 0
    for start in sorted(graph):
        if start in index:
            continue
        work = [(start, iter(sorted(graph[start])))]
        index[start] = low[start] = counter
        counter += 1
        stack.append(start)
        on_stack.add(start)
        while work:
            node, children = work[-1]
            for child in children:
                if child not in index:
                    index[child] = low[child] = counter
                    counter += 1
                    stack.append(child)
                    on_stack.add(child)
                    work.append((child, iter(sorted(graph[child]))))
                    break
                if child in on_stack:
                    low[node] = min(low[node], index[child])
            else:
                work.pop()
                if work:
                    parent = work[-1][0]
                    low[parent] = min(low[parent], low[node])
                if low[node] == index[node]:
                    component = []
                    while True:
                        member = stack.pop()
                        on_stack.discard(member)
                        component.append(member)
                        if member == node:
                            break
                    if len(component) > 1:
                        components.append(sorted(component))
    return sorted(components)


def describe_cycle(component: list[str], graph: dict[str, set[str]]) -> str:
    """One closed path through a component, e.g. ``a -> b -> c -> a``."""
    members = set(component)
    start = component[0]
    # breadth-first search for the shortest path from start back to start inside the component
    previous: dict[str, str] = {}
    frontier = [start]
    while frontier:
        following = []
        for node in frontier:
            for child in sorted(graph[node] & members):
                if child == start:
                    path = [node]
                    while path[-1] != start:
                        path.append(previous[path[-1]])
                    return " -> ".join(reversed([start] + path))
                if child not in previous:
                    previous[child] = node
                    following.append(child)
        frontier = following
    return " -> ".join(component)


def cycle_problems(imports, modules, allowed=ALLOWED_CYCLE_MODULES) -> list[str]:
    """Cycles that hold a module outside ``allowed``, each described with one closed path."""
    graph = module_graph(imports, modules)
    problems = []
    for component in strongly_connected_components(graph):
        intruders = [m for m in component if m not in allowed]
        if intruders:
            problems.append(f"import cycle among {len(component)} modules "
                            f"({', '.join(component)}); not allowed: {', '.join(intruders)}; "
                            f"e.g. {describe_cycle(component, graph)}")
    return problems


# --------------------------------------------------------------------------- the repository
def test_imports_follow_the_layer_order():
    imports, _ = read_imports(REPO)
    problems = layer_violations(imports)
    assert not problems, "imports against the layer order:\n" + "\n".join(problems)


def test_no_new_import_cycles():
    imports, modules = read_imports(REPO)
    problems = cycle_problems(imports, modules)
    assert not problems, "import cycles:\n" + "\n".join(problems)


def test_cycle_allowlist_is_not_stale():
    imports, modules = read_imports(REPO)
    in_cycles = {m for c in strongly_connected_components(module_graph(imports, modules))
                 for m in c}
    stale = sorted(ALLOWED_CYCLE_MODULES - in_cycles)
    assert not stale, (f"no longer in an import cycle: {', '.join(stale)}; delete them from "
                       f"ALLOWED_CYCLE_MODULES in {Path(__file__).name} (the list only shrinks)")


def test_every_layer_is_read():
    imports, modules = read_imports(REPO)
    for package in LAYERS:
        assert package in modules, f"package {package} not found under {REPO}"
    sources = {imp.source.split(".")[0] for imp in imports}
    assert set(LAYERS) <= sources
    # nested imports count: the CLI imports sims inside its verify command's main()
    assert any(imp.source == "lottery_cli.commands.verify" and _within(imp.target, "sims")
               for imp in imports)


# --------------------------------------------------------------------------- the checker itself
def _write(root: Path, files: dict[str, str]) -> None:
    for name, text in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(textwrap.dedent(text))


CLEAN = {
    "theory/__init__.py": "",
    "theory/model.py": "import numpy as np\n",
    "theory/derivations/__init__.py": "from .identity import Identity\n",
    "theory/derivations/identity.py": "from theory import model\n",
    "lottery_core/__init__.py": "",
    "lottery_core/a.py": "from theory.model import np\nfrom . import b\n",
    "lottery_core/b.py": "import theory.model\n",
    "lottery_core/sub/__init__.py": "from .. import b\n",
    "sims/__init__.py": "",
    "sims/topic/__init__.py": "",
    "sims/topic/claims.py": "from .engine import run\nfrom lottery_core import a\n",
    "sims/topic/engine.py": "def run():\n    from ..topic import claims  # noqa\n",
    "lottery_cli/__init__.py": "",
    "lottery_cli/main.py": ("def main():\n    import sims.topic.claims\n"
                            "    from theory.derivations import identity\n"),
}


def test_checker_passes_a_clean_tree(tmp_path):
    files = dict(CLEAN)
    files["sims/topic/engine.py"] = "def run():\n    pass\n"
    _write(tmp_path, files)
    imports, modules = read_imports(tmp_path)
    assert layer_violations(imports) == []
    assert cycle_problems(imports, modules, allowed=frozenset()) == []
    # relative imports resolve: `from .. import b` in a package __init__, `from . import b`
    pairs = {(i.source, i.target) for i in imports}
    assert ("lottery_core.sub", "lottery_core.b") in pairs
    assert ("lottery_core.a", "lottery_core.b") in pairs
    assert ("theory.derivations", "theory.derivations.identity") in pairs


def test_checker_finds_a_planted_cycle(tmp_path):
    _write(tmp_path, CLEAN)   # sims.topic.claims -> engine -> (inside a function) claims
    imports, modules = read_imports(tmp_path)
    problems = cycle_problems(imports, modules, allowed=frozenset())
    assert len(problems) == 1
    assert "sims.topic.claims, sims.topic.engine" in problems[0]
    assert "sims.topic.claims -> sims.topic.engine -> sims.topic.claims" in problems[0]
    # allowlisting the members silences it; a third module joining the cycle does not
    allowed = frozenset({"sims.topic.claims", "sims.topic.engine"})
    assert cycle_problems(imports, modules, allowed=allowed) == []
    _write(tmp_path, {"sims/topic/engine.py": "from . import extra\n",
                      "sims/topic/extra.py": "import sims.topic.claims\n"})
    imports, modules = read_imports(tmp_path)
    problems = cycle_problems(imports, modules, allowed=allowed)
    assert len(problems) == 1 and "not allowed: sims.topic.extra" in problems[0]
    assert ("sims.topic.claims -> sims.topic.engine -> sims.topic.extra -> sims.topic.claims"
            in problems[0])


@pytest.mark.parametrize("name, text, expected", [
    ("lottery_core/bad.py", "def f():\n    from sims.topic import claims\n",
     "lottery_core.bad (line 2) imports sims.topic.claims: lottery_core is below sims"),
    ("lottery_core/bad.py", "import lottery_cli.main\n",
     "lottery_core.bad (line 1) imports lottery_cli.main: lottery_core is below lottery_cli"),
    ("theory/bad.py", "from lottery_core import a\n",
     "theory.bad (line 1) imports lottery_core.a: theory is below lottery_core"),
    ("sims/topic/bad.py", "if True:\n    from ...lottery_cli import main\n",
     "sims.topic.bad (line 2) imports lottery_cli.main: sims is below lottery_cli"),
    ("sims/topic/bad.py", "from theory.derivations import identity\n",
     "only lottery_cli may import theory.derivations"),
    ("lottery_core/bad.py", "import theory.derivations\n",
     "only lottery_cli may import theory.derivations"),
    ("theory/bad.py", "from .derivations.identity import x\n",
     "theory.bad (line 1) imports theory.derivations.identity: only lottery_cli"),
])
def test_checker_finds_a_planted_upward_import(tmp_path, name, text, expected):
    files = dict(CLEAN)
    files[name] = text
    _write(tmp_path, files)
    imports, _ = read_imports(tmp_path)
    problems = layer_violations(imports)
    assert len(problems) == 1 and expected in problems[0], problems
