"""The packages stand in layers, with no import circle: ``offload_hub`` (the app factory and
the command) wires ``dashboard`` and ``hub``; ``dashboard`` uses ``hub``; ``hub`` imports
neither of them, and its own modules import each other without a circle (the typed keys
of ``hub.keys`` name their classes for the type checker only)."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
# Each package, and the packages above it that it must never import (not even lazily).
ABOVE = {
    "hub": ("dashboard", "offload_hub"),
    "providers": ("dashboard", "offload_hub"),
    "dashboard": ("offload_hub",),
}


def module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def modules(package: str) -> dict[str, Path]:
    return {
        module_name(path): path
        for path in sorted((ROOT / package).rglob("*.py"))
        if "migrations" not in path.parts
    }


def _type_checking(node: ast.If) -> bool:
    return "TYPE_CHECKING" in ast.unparse(node.test)


def imported(path: Path, *, at_import_time: bool) -> set[str]:
    """The absolute names a module imports: all of them, or only those imported when the
    module itself is (not inside functions, not under ``if TYPE_CHECKING``)."""
    name = module_name(path)
    package = name.split(".") if path.name == "__init__.py" else name.split(".")[:-1]
    found: set[str] = set()

    def visit(node: ast.AST) -> None:
        if isinstance(node, ast.If) and _type_checking(node):
            for child in node.orelse:
                visit(child)
            if not at_import_time:
                for child in node.body:
                    visit(child)
            return
        if at_import_time and isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
            return
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                base = ".".join([*package[: len(package) - node.level + 1], base]).strip(".")
            found.add(base)
            found.update(f"{base}.{alias.name}" for alias in node.names)
        for child in ast.iter_child_nodes(node):
            visit(child)

    visit(ast.parse(path.read_text(), str(path)))
    return found


def test_no_package_imports_one_above_it():
    for package, above in ABOVE.items():
        for name, path in modules(package).items():
            wrong = {
                target
                for target in imported(path, at_import_time=False)
                if target.split(".")[0] in above
            }
            assert not wrong, f"{name} imports {sorted(wrong)}, above {package}"


def test_the_core_has_no_import_circle():
    known = modules("hub")
    graph = {
        name: {t for t in imported(path, at_import_time=True) if t in known and t != name}
        for name, path in known.items()
    }
    done: set[str] = set()

    def walk(name: str, trail: list[str]) -> None:
        if name in trail:
            circle = [*trail[trail.index(name) :], name]
            raise AssertionError("import circle: " + " -> ".join(circle))
        if name in done:
            return
        for target in sorted(graph[name]):
            walk(target, [*trail, name])
        done.add(name)

    for name in sorted(graph):
        walk(name, [])


def test_importing_the_core_loads_nothing_above_it():
    """At run time, in a fresh interpreter: every module of ``hub`` imports (in name order)
    without pulling in the dashboard or the app factory; then the dashboard, then the
    factory, each without an error."""
    names = sorted(name for name in modules("hub") if not name.endswith("__main__"))
    script = "\n".join(
        [
            "import importlib, sys",
            f"for name in {names!r}:",
            "    importlib.import_module(name)",
            "above = ('dashboard', 'offload_hub')",
            "loaded = sorted(m for m in sys.modules if m.split('.')[0] in above)",
            "assert not loaded, loaded",
            "import dashboard",
            "assert 'offload_hub' not in sys.modules",
            "import offload_hub.app, offload_hub.cli",
        ]
    )
    subprocess.run([sys.executable, "-c", script], cwd=ROOT, check=True, timeout=120)
