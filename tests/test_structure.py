"""The package's shape: light contracts that never load the engine, no import cycles, small modules."""

from __future__ import annotations

import ast
import json
import subprocess
import sys
from pathlib import Path

import pytest

import implement

PACKAGE = Path(implement.__file__).parent
ENGINE = ("textworld", "alfworld", "fast_downward")

# The modules agents, world models and their users import: none may load the engine.
LIGHT = (
    "implement.agents",
    "implement.agents.base",
    "implement.agents.checker",
    "implement.config",
    "implement.envs",
    "implement.envs.base",
    "implement.envs.commands",
    "implement.envs.games",
    "implement.llm",
    "implement.metaicl",
    "implement.state",
    "implement.world_model",
    "implement.world_model.base",
    "implement.world_model.checker",
    "implement.world_model.perception",
)

MAX_MODULE_LINES = 400
MAX_FUNCTION_LINES = 60
# Over the limits today; the list only shrinks.
LONG_MODULES: set[str] = set()
LONG_FUNCTIONS: set[str] = set()


def run_python(code: str) -> str:
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    return result.stdout


@pytest.mark.parametrize("module", LIGHT)
def test_a_light_module_does_not_import_the_engine(module: str) -> None:
    code = f"import json, sys, {module}; print(json.dumps(sorted(set(sys.modules) & {set(ENGINE)!r})))"
    assert json.loads(run_python(code)) == [], f"importing {module} loads the engine"


# Each module is imported first, in one interpreter: the package's own modules are dropped from
# `sys.modules` before each import (third-party ones stay, for speed), so a cycle shows whatever
# module it starts from. A module whose third-party dependencies are missing is skipped.
IMPORT_EACH = """
import importlib, json, pkgutil, sys, traceback
import implement

names = sorted(m.name for m in pkgutil.walk_packages(implement.__path__, "implement."))
failures, skipped = {}, []
for name in names:
    for loaded in [m for m in sys.modules if m == "implement" or m.startswith("implement.")]:
        del sys.modules[loaded]
    try:
        importlib.import_module(name)
    except ModuleNotFoundError as exc:
        if exc.name and not exc.name.startswith("implement"):
            skipped.append(name)
        else:
            failures[name] = traceback.format_exc()
    except Exception:
        failures[name] = traceback.format_exc()
print(json.dumps({"names": names, "failures": failures, "skipped": skipped}))
"""


def test_every_module_imports_first_without_a_cycle() -> None:
    found = json.loads(run_python(IMPORT_EACH).splitlines()[-1])
    assert len(found["names"]) > 40
    assert not found["failures"], "\n".join(f"{n}:\n{t}" for n, t in found["failures"].items())


def sizes() -> tuple[dict[str, int], dict[str, int]]:
    """Lines of every module of the package, and of every function in it (`module:qualified.name`)."""
    modules: dict[str, int] = {}
    functions: dict[str, int] = {}
    for path in sorted(PACKAGE.rglob("*.py")):
        rel = path.relative_to(PACKAGE).as_posix()
        text = path.read_text()
        modules[rel] = len(text.splitlines())
        stack: list[tuple[ast.AST, str]] = [(ast.parse(text), "")]
        while stack:
            node, prefix = stack.pop()
            for child in ast.iter_child_nodes(node):
                if isinstance(child, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
                    name = prefix + child.name
                    if not isinstance(child, ast.ClassDef):
                        functions[f"{rel}:{name}"] = (child.end_lineno or child.lineno) - child.lineno + 1
                    stack.append((child, name + "."))
                else:
                    stack.append((child, prefix))
    return modules, functions


def test_modules_and_functions_are_small() -> None:
    modules, functions = sizes()
    long_modules = {m for m, n in modules.items() if n > MAX_MODULE_LINES}
    long_functions = {f for f, n in functions.items() if n > MAX_FUNCTION_LINES}
    assert long_modules <= LONG_MODULES, {m: modules[m] for m in long_modules - LONG_MODULES}
    assert long_functions <= LONG_FUNCTIONS, {f: functions[f] for f in long_functions - LONG_FUNCTIONS}
    # An entry back within the limits is stale: remove it from the list.
    assert not LONG_MODULES - long_modules, LONG_MODULES - long_modules
    assert not LONG_FUNCTIONS - long_functions, LONG_FUNCTIONS - long_functions
