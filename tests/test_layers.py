"""The layering of the packages, read from the source: which package may import which, that the
import graph has no circle, and that the pure-math packages import no IO or framework library.

Every import counts, also one inside a function (a circle through a late import is a circle
all the same: it couples the two modules both ways)."""
import ast
import os

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

# package -> the project packages it may import (see docs/layout.md).
ALLOWED = {
    "linops": set(),
    "sde_lib": {"linops"},
    "losses": {"sde_lib", "linops"},
    "samplers": {"sde_lib", "linops"},
    "models": {"sde_lib", "linops"},
    "mri": {"linops"},
    "datasets": {"sde_lib", "linops", "mri"},
    "configs": set(),
    "run": {"linops", "sde_lib", "losses", "samplers", "models", "mri", "datasets", "configs"},
    "bench": {"linops", "sde_lib", "losses", "samplers", "models", "mri", "datasets", "configs", "run"},
    "main": {"run"},
}
# Math never touches disk or a framework (DESIGN.md, principle 1).
PURE = {"linops", "sde_lib", "losses", "samplers"}
NOT_IN_PURE = {"flax", "orbax", "ml_collections", "absl", "os", "pickle", "h5py", "matplotlib",
               "tensorboardX", "datasets", "tensorflow", "torch"}


def project_modules() -> dict[str, str]:
    mods = {}
    for dirpath, dirnames, filenames in os.walk(ROOT):
        dirnames[:] = [d for d in dirnames if not d.startswith(".") and d not in ("tests", "__pycache__", "runs")]
        for f in filenames:
            if not f.endswith(".py"):
                continue
            rel = os.path.relpath(os.path.join(dirpath, f), ROOT)[:-3].replace(os.sep, ".")
            name = rel[: -len(".__init__")] if rel.endswith(".__init__") else rel
            if name.split(".")[0] in ALLOWED:
                mods[name] = os.path.join(dirpath, f)
    return mods


def imports_of(path: str, mods) -> list[str]:
    """Module names imported anywhere in the file: ``import a.b`` gives ``a.b``; ``from a import
    b`` gives ``a.b`` when that is a project module (the idiom for a submodule), else ``a``."""
    out = []
    for node in ast.walk(ast.parse(open(path).read())):
        if isinstance(node, ast.Import):
            out += [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            out += [f"{node.module}.{a.name}" if f"{node.module}.{a.name}" in mods else node.module
                    for a in node.names]
    return out


def graph():
    """(edges between project modules, third-party top-level names imported by each module)."""
    mods = project_modules()
    edges, third_party = {m: set() for m in mods}, {m: set() for m in mods}
    for m, path in mods.items():
        for target in imports_of(path, mods):
            t = target
            while t not in mods and "." in t:
                t = t.rsplit(".", 1)[0]
            if t not in mods:
                third_party[m].add(target.split(".")[0])
            elif t != m:
                edges[m].add(t)
    return edges, third_party


def cycles(edges: dict) -> list[list[str]]:
    """Strongly connected components with more than one module (Tarjan, iteratively)."""
    index, low, on, stack, out, counter = {}, {}, set(), [], [], [0]

    def visit(root):
        work = [(root, iter(sorted(edges[root])))]
        index[root] = low[root] = counter[0]
        counter[0] += 1
        stack.append(root)
        on.add(root)
        while work:
            v, it = work[-1]
            for w in it:
                if w not in index:
                    index[w] = low[w] = counter[0]
                    counter[0] += 1
                    stack.append(w)
                    on.add(w)
                    work.append((w, iter(sorted(edges[w]))))
                    break
                if w in on:
                    low[v] = min(low[v], index[w])
            else:
                work.pop()
                if work:
                    low[work[-1][0]] = min(low[work[-1][0]], low[v])
                if low[v] == index[v]:
                    comp = []
                    while True:
                        w = stack.pop()
                        on.discard(w)
                        comp.append(w)
                        if w == v:
                            break
                    if len(comp) > 1:
                        out.append(sorted(comp))

    for v in sorted(edges):
        if v not in index:
            visit(v)
    return out


def test_cycle_finder_finds_a_planted_circle():
    assert cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]
    assert cycles({"a": {"b"}, "b": set()}) == []


def test_the_import_graph_has_no_circle():
    edges, _ = graph()
    assert len(edges) > 50, sorted(edges)   # the walk found the project
    assert cycles(edges) == []


def test_packages_import_only_the_layers_below_them():
    edges, _ = graph()
    bad = sorted((m, t) for m, ts in edges.items() for t in ts
                 if t.split(".")[0] != m.split(".")[0] and t.split(".")[0] not in ALLOWED[m.split(".")[0]])
    assert bad == []


def test_math_packages_import_no_io_or_framework():
    _, third_party = graph()
    bad = sorted((m, lib) for m, libs in third_party.items() if m.split(".")[0] in PURE
                 for lib in libs & NOT_IN_PURE)
    assert bad == []


def test_models_take_plain_mappings_not_ml_collections():
    _, third_party = graph()
    assert sorted(m for m, libs in third_party.items() if m.startswith("models") and "ml_collections" in libs) == []
