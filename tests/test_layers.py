"""The project's layers, read from its imports: each package imports only the ones below it, so
there is no cycle and nothing runs back up.

    backends  <  losses  <  models  <  training  <  metrics  <  train.py, eval.py, ...
                                        data  <  training

backends/ (what differs between Keras backends) imports nothing of the project; losses/ and
models/ import no TensorFlow outside backends/tensorflow.py, and nothing of data/ or training/.
"""
import ast
import os

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
# What each package may import of the project (beside itself).
ALLOWED = {
    "backends": set(),
    "losses": {"backends"},
    "models": {"backends", "losses"},
    "data": set(),
    "training": {"backends", "losses", "models", "data"},
    "metrics": {"backends", "losses", "models", "data", "training"},
}
PACKAGES = set(ALLOWED) | {"experiments", "benchmarks"}


def imports(path):
    """The top-level names `path` imports, at any depth of its code."""
    with open(path) as f:
        tree = ast.parse(f.read())
    names = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names |= {alias.name.split(".")[0] for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names.add(node.module.split(".")[0])
    return names


def package_graph():
    """{package: {project package it imports}} over every .py file of each package."""
    graph = {}
    for package in sorted(PACKAGES):
        found = set()
        for folder, _, files in os.walk(os.path.join(ROOT, package)):
            for name in files:
                if name.endswith(".py"):
                    found |= imports(os.path.join(folder, name))
        graph[package] = (found & PACKAGES) - {package}
    return graph


def test_each_package_imports_only_the_layers_below_it():
    graph = package_graph()
    for package, allowed in ALLOWED.items():
        assert graph[package] <= allowed, f"{package} imports {graph[package] - allowed}"


def test_the_package_graph_has_no_cycle():
    graph, done, path = package_graph(), set(), []

    def visit(node):
        assert node not in path, f"cycle: {' -> '.join(path + [node])}"
        if node in done:
            return
        path.append(node)
        for other in graph[node]:
            visit(other)
        path.pop()
        done.add(node)

    for node in graph:
        visit(node)


def test_models_and_losses_import_tensorflow_only_through_backends():
    for package in ("models", "losses", "backends"):
        for name in os.listdir(os.path.join(ROOT, package)):
            if name.endswith(".py") and (package, name) != ("backends", "tensorflow.py"):
                assert "tensorflow" not in imports(os.path.join(ROOT, package, name)), name


if __name__ == "__main__":  # python tests/test_layers.py: the graph, one package a line
    for package, uses in package_graph().items():
        print(f"{package:12s} -> {', '.join(sorted(uses)) or '(nothing of the project)'}")
