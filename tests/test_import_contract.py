"""The two apps depend one way: complications imports registry, registry never imports complications.

registry reaches complications only through the hook points it declares
(``registry.hooks``), which complications fills in at start-up. App labels and
URL includes are strings, not imports (``INSTALLED_APPS``, ``include("complications.urls")``).
"""

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
FORBIDDEN = "complications"

# Modules of registry allowed to import complications, each with the reason it cannot
# move. Empty: keep it so.
ALLOWED: dict[str, str] = {}


def _imported_modules(tree: ast.AST) -> list[tuple[int, str]]:
    """Every module an AST imports, at module level or inside a function, including
    ``importlib.import_module("...")`` and ``__import__("...")`` with a literal name."""
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found += [(node.lineno, alias.name) for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            found.append((node.lineno, node.module))
        elif (
            isinstance(node, ast.Call)
            and (
                (isinstance(node.func, ast.Name) and node.func.id == "__import__")
                or (isinstance(node.func, ast.Attribute) and node.func.attr == "import_module")
            )
            and node.args
            and isinstance(node.args[0], ast.Constant)
            and isinstance(node.args[0].value, str)
        ):
            found.append((node.lineno, node.args[0].value))
    return found


def _imports_forbidden(module: str) -> bool:
    return module == FORBIDDEN or module.startswith(FORBIDDEN + ".")


def _violations(root: Path) -> list[str]:
    violations = []
    for path in sorted(root.rglob("*.py")):
        name = path.relative_to(ROOT).as_posix()
        if name in ALLOWED:
            continue
        tree = ast.parse(path.read_text(encoding="utf-8"), filename=name)
        violations += [
            f"{name}:{line} imports {module}"
            for line, module in _imported_modules(tree)
            if _imports_forbidden(module)
        ]
    return violations


def test_no_module_of_registry_imports_complications():
    assert _violations(ROOT / "registry") == []


def test_every_allowed_exception_still_exists():
    assert [name for name in ALLOWED if not (ROOT / name).is_file()] == []


@pytest.mark.parametrize(
    ("source", "forbidden"),
    [
        ("from complications.models import ComplicationEvent", True),
        ("import complications.services as s", True),
        ("def f():\n    from complications import outcomes", True),
        ("import importlib\nimportlib.import_module('complications.live')", True),
        ("__import__('complications')", True),
        ("from registry import hooks", False),
        ("from complications_extra import x", False),
        ("from .models import Patient", False),
        ("urls = include('complications.urls')", False),
        ("INSTALLED_APPS = ['complications']", False),
    ],
)
def test_it_finds_every_kind_of_import_and_only_imports(source, forbidden):
    modules = [module for _line, module in _imported_modules(ast.parse(source))]
    assert any(_imports_forbidden(m) for m in modules) is forbidden
