"""The package's layers: the import graph of daft_retrieval's top-level units (each subpackage or module) has no
cycle and only imports downwards in the order the README's Layout gives; the Daft-free units import no Daft."""

from __future__ import annotations

import ast
from collections import defaultdict

from tests.conftest import ROOT, python_json

PACKAGE = ROOT / "daft_retrieval"

# bottom to top; a unit imports units of its own layer or below (within a layer: no cycle)
LAYERS = [
    ("errors", "registry", "memo", "device", "progress", "outputs", "paths", "resolve"),  # Daft-free
    ("schema", "runner", "exact", "run"),
    ("text", "score", "load", "evaluation", "statistics"),
    ("cache",),
    ("encode",),
    ("index",),
    ("retrieve", "fusion", "reranking"),
    ("report",),
    ("experiment",),
    ("cli", "__main__"),
]
DAFT_FREE = ["errors", "registry", "memo", "device", "progress", "outputs", "paths", "resolve"]


def _unit(module: str) -> str:
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else ""


def import_graph() -> dict[str, dict[str, list[str]]]:
    """``{unit: {unit it imports: [files importing it]}}`` over every import in the package, at module level or
    inside functions (a lazy import is still a dependency); ``if TYPE_CHECKING:`` imports are left out."""
    graph: dict[str, dict[str, list[str]]] = defaultdict(lambda: defaultdict(list))
    for path in sorted(PACKAGE.rglob("*.py")):
        relative = path.relative_to(ROOT).with_suffix("")
        module = ".".join(relative.parts).removesuffix(".__init__")
        source = _unit(module)
        if not source:
            continue  # daft_retrieval/__init__.py: the lazy table of public names
        tree = ast.parse(path.read_text())
        typing_only = {
            id(n)
            for node in ast.walk(tree)
            if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test)
            for n in ast.walk(node)
        }
        for node in ast.walk(tree):
            if id(node) in typing_only:
                continue
            names = []
            if isinstance(node, ast.Import):
                names = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                names = [node.module]
                if node.module == "daft_retrieval":  # the submodules named (not __version__ and the like)
                    here = [
                        a.name for a in node.names if (PACKAGE / a.name).is_dir() or (PACKAGE / f"{a.name}.py").exists()
                    ]
                    names = [f"daft_retrieval.{name}" for name in here]
            for name in names:
                if name.startswith("daft_retrieval.") and _unit(name) != source:
                    graph[source][_unit(name)].append(str(relative))
    return graph


def _cycle(graph: dict) -> list[str] | None:
    """One cycle of ``graph`` (as a path of units), or None."""
    state: dict[str, int] = {}
    stack: list[str] = []

    def visit(node: str) -> list[str] | None:
        state[node] = 1
        stack.append(node)
        for target in sorted(graph.get(node, {})):
            if state.get(target) == 1:
                return [*stack[stack.index(target) :], target]
            if target not in state:
                found = visit(target)
                if found:
                    return found
        state[node] = 2
        stack.pop()
        return None

    for node in sorted(graph):
        if node not in state:
            found = visit(node)
            if found:
                return found
    return None


def test_every_unit_has_a_layer():
    units = {p.stem if p.is_file() else p.name for p in PACKAGE.iterdir() if p.suffix == ".py" or p.is_dir()}
    units -= {"__init__", "__pycache__"}
    layered = {u for layer in LAYERS for u in layer}
    assert units == layered, f"units without a layer: {units - layered}; layers naming no unit: {layered - units}"


def test_the_import_graph_has_no_cycle():
    cycle = _cycle(import_graph())
    assert cycle is None, f"import cycle: {' -> '.join(cycle)}"


def test_every_import_goes_down_the_layers():
    level = {unit: i for i, layer in enumerate(LAYERS) for unit in layer}
    upward = [
        f"{source} -> {target} ({', '.join(sorted(set(files)))})"
        for source, targets in import_graph().items()
        for target, files in targets.items()
        if level[target] > level[source]
    ]
    assert upward == [], "imports up the layers:\n" + "\n".join(upward)


def test_the_cycle_finder_finds_a_cycle():
    assert _cycle({"a": {"b": []}, "b": {"c": []}, "c": {"a": []}}) == ["a", "b", "c", "a"]
    assert _cycle({"a": {"b": []}, "b": {}}) is None


def test_the_daft_free_units_load_no_daft():
    code = (
        "import json, sys\n"
        f"for unit in {DAFT_FREE!r}:\n"
        "    __import__(f'daft_retrieval.{unit}')\n"
        "from daft_retrieval.resolve import resolve_model, resolve_sparse_model\n"
        "resolve_model('all-MiniLM-L6-v2')\n"
        "print(json.dumps(sorted(m for m in ('daft', 'torch', 'sentence_transformers') if m in sys.modules)))\n"
    )
    assert python_json(["-c", code], timeout=120) == []


def test_the_readme_lists_the_layers_in_this_order():
    readme = (ROOT / "README.md").read_text()
    section = readme[readme.index("Layers, bottom to top") :]
    lines = [line for line in section.splitlines()[1 : len(LAYERS) + 1]]
    for layer, line in zip(LAYERS, lines):
        for unit in layer:
            assert f"`{unit}`" in line, (unit, line)


def test_the_shared_names_are_spelled_once():
    """TERM, WEIGHT, TOKENS, EMBEDDING, SPARSE, VALUE and the index file names: assigned in schema.py only."""
    names = {"TERM", "WEIGHT", "TOKENS", "EMBEDDING", "SPARSE", "VALUE", "INDEX_FILE", "CENTROIDS_FILE"}
    spelled = defaultdict(list)
    for path in PACKAGE.rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Assign) and isinstance(node.value, ast.Constant):
                for target in node.targets:
                    if isinstance(target, ast.Name) and target.id in names:
                        spelled[target.id].append(str(path.relative_to(ROOT)))
    assert dict(spelled) == {n: ["daft_retrieval/schema.py"] for n in names}
    assert not [p for p in PACKAGE.rglob("*.py") if p.name != "schema.py" and '"index.json"' in p.read_text()]
