"""Copy the modules one function can import into its package (functions/Makefile runs
this for every function during `sam build`; plain python3, standard library only).

    python3 build_package.py <FunctionLogicalId> <ARTIFACTS_DIR>

`sam build` gives the Makefile the logical id only, in a scratch copy of this folder
(the template is not there), so ``packages.json`` beside this file, written by
``make template`` from template.yaml, maps each function to its handler module and to
the workflow named by its WORKFLOW environment value.

The rule (one place; tests/contract/test_function_packages.py and tests/build/ check it):

1. every module of ours (``handlers``, ``trailwarden``) the handler module imports,
   directly or through another, with every ``import``/``from`` anywhere in a module,
   lazy ones inside functions included; only ``if TYPE_CHECKING:`` blocks are skipped
   (they never run). A module brings its parent packages' ``__init__``.
2. what the registry imports by name at run time (it lists the sub-packages of
   ``trailwarden.workflows``): once the registry is in, every workflow unit's
   ``__init__`` (its DECLARATION, read by ``declarations()``) and what that imports.
   A unit's code is what its ``load()`` imports; it is followed only for the units the
   function loads, read from every ``load_workflow(...)`` call in its modules:
   ``require_workflow(env)`` is the function's WORKFLOW, ``X.id`` the unit whose
   DECLARATION is bound to X (the backstop: app-tamper), a string that id; any other
   argument stops the build. A registry lookup that loads every unit
   (``LOADS_EVERY_UNIT``) brings every unit's code.
"""

from __future__ import annotations

import ast
import json
import shutil
import sys
from dataclasses import dataclass, field
from pathlib import Path

HERE = Path(__file__).resolve().parent
MANIFEST = "packages.json"
ROOTS = ("handlers", "trailwarden")
UNITS = "trailwarden.workflows"
REGISTRY = "trailwarden.workflows.registry"
# Registry names that import every unit's load() (replay, the local engine, tests).
LOADS_EVERY_UNIT = frozenset(
    {"WORKFLOWS", "BY_ID", "workflow_for_call", "workflow_for_envelope", "workflow_for_event"}
)


class PackageError(Exception):
    """The package cannot be made (unknown function, stale manifest, unknown module)."""


@dataclass(frozen=True)
class Imports:
    """What one module imports when it runs, and which workflows it loads."""

    always: frozenset[str]  # with their parent packages
    on_load: frozenset[str]  # inside a unit's load(): that unit's code
    loads: frozenset[str]  # units it loads (load_workflow of a known id)
    loads_own_workflow: bool  # load_workflow(require_workflow(env)): the function's WORKFLOW
    loads_every_unit: bool  # a registry lookup that loads every unit


@dataclass
class Sources:
    """Our modules under `root` (a copy of functions/): module name -> source file."""

    root: Path
    files: dict[str, Path] = field(default_factory=dict)
    _parsed: dict[str, Imports] = field(default_factory=dict)

    def __post_init__(self) -> None:
        for top in ROOTS:
            for path in sorted((self.root / top).rglob("*.py")):
                parts = path.relative_to(self.root).with_suffix("").parts
                if "__pycache__" in parts:
                    continue
                name = ".".join(parts[:-1] if parts[-1] == "__init__" else parts)
                self.files[name] = path

    def is_package(self, name: str) -> bool:
        return self.files[name].name == "__init__.py"

    def units(self) -> list[str]:
        """The workflow units, as the registry finds them (sub-packages of UNITS)."""
        return sorted(n for n in self.files if n.rpartition(".")[0] == UNITS and self.is_package(n))

    def unit_of(self, name: str) -> str | None:
        """The unit package `name` is or belongs to (None outside a unit)."""
        head = f"{UNITS}."
        if not name.startswith(head):
            return None
        unit = head + name[len(head) :].split(".", maxsplit=1)[0]
        return unit if unit in self.files and self.is_package(unit) else None

    def imports(self, name: str) -> Imports:
        if name not in self._parsed:
            self._parsed[name] = self._imports(name)
        return self._parsed[name]

    def _imports(self, name: str) -> Imports:
        path = self.files[name]
        reader = _Reader(self, name)
        reader.visit(ast.parse(path.read_text(encoding="utf-8"), str(path)), in_load=False)
        unknown = sorted(u for u in reader.loads if u not in self.units())
        if unknown:
            raise PackageError(f"{name} loads {', '.join(unknown)}: no such workflow unit")
        return Imports(
            frozenset(reader.always),
            frozenset(reader.on_load),
            frozenset(reader.loads),
            reader.own,
            reader.every,
        )

    def ours(self, name: str) -> set[str]:
        """`name` and its parent packages, when they are ours."""
        if name.split(".", maxsplit=1)[0] not in ROOTS:
            return set()
        if name not in self.files:
            raise PackageError(f"no module {name} under {self.root} (imported by our code)")
        parts = name.split(".")
        return {".".join(parts[:i]) for i in range(1, len(parts) + 1)}


class _Reader:
    """One module's imports and load_workflow calls (Sources.imports)."""

    def __init__(self, sources: Sources, name: str) -> None:
        self.sources = sources
        self.name = name
        self.package = name if sources.is_package(name) else name.rpartition(".")[0]
        self.is_unit = sources.unit_of(name) == name
        self.always: set[str] = set()
        self.on_load: set[str] = set()
        self.loads: set[str] = set()
        self.declarations: dict[str, str] = {}  # local name -> unit, for `X.id`
        self.own = self.every = False
        # the registry's own load_workflow calls are its all-unit lookups (LOADS_EVERY_UNIT)

    def visit(self, node: ast.AST, in_load: bool) -> None:
        if isinstance(node, ast.If) and _is_type_checking(node.test):
            for statement in node.orelse:
                self.visit(statement, in_load)
            return
        if self.is_unit and isinstance(node, ast.FunctionDef) and node.name == "load":
            in_load = True
        target = self.on_load if in_load else self.always
        if isinstance(node, ast.Import):
            for alias in node.names:
                target.update(self.sources.ours(alias.name))
        elif isinstance(node, ast.ImportFrom):
            self.import_from(node, target)
        elif isinstance(node, ast.Attribute) and node.attr in LOADS_EVERY_UNIT:
            self.every = True
        elif isinstance(node, ast.Call) and node.args and self.name != REGISTRY:
            func = node.func
            called = func.id if isinstance(func, ast.Name) else getattr(func, "attr", "")
            if called == "load_workflow":
                self.load_argument(node.args[0])
        for child in ast.iter_child_nodes(node):
            self.visit(child, in_load)

    def import_from(self, node: ast.ImportFrom, target: set[str]) -> None:
        base = _absolute(node, self.package)
        is_unit = self.sources.unit_of(base) == base
        for alias in node.names:
            sub = f"{base}.{alias.name}"
            target.update(self.sources.ours(sub if sub in self.sources.files else base))
            if is_unit and alias.name == "DECLARATION":
                self.declarations[alias.asname or alias.name] = base
            if is_unit and alias.name == "load":
                self.loads.add(base)
            if base == REGISTRY and alias.name in LOADS_EVERY_UNIT:
                self.every = True

    def load_argument(self, arg: ast.expr) -> None:
        if isinstance(arg, ast.Constant) and isinstance(arg.value, str):
            self.loads.add(f"{UNITS}.{arg.value.replace('-', '_')}")
        elif (
            isinstance(arg, ast.Attribute)
            and arg.attr == "id"
            and isinstance(arg.value, ast.Name)
            and arg.value.id in self.declarations
        ):
            self.loads.add(self.declarations[arg.value.id])
        elif (
            isinstance(arg, ast.Call)
            and isinstance(arg.func, ast.Name)
            and arg.func.id == "require_workflow"
        ):
            self.own = True
        else:
            raise PackageError(
                f"{self.name}: load_workflow({ast.unparse(arg)}): cannot tell which workflow "
                "it loads (pass require_workflow(env), a DECLARATION's id or an id string)"
            )


def _is_type_checking(test: ast.expr) -> bool:
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"
    )


def _absolute(node: ast.ImportFrom, package: str) -> str:
    if not node.level:
        return node.module or ""
    parts = package.split(".")
    base = ".".join(parts[: len(parts) - node.level + 1])
    return f"{base}.{node.module}" if node.module else base


def modules_for(sources: Sources, handler: str, workflow: str | None) -> set[str]:
    """Every module of ours the function whose handler module is `handler` (and whose
    WORKFLOW is `workflow`) can import: the rule in this module's docstring."""
    return package_for(sources, handler, workflow)[0]


def package_for(sources: Sources, handler: str, workflow: str | None) -> tuple[set[str], set[str]]:
    """(the modules, the workflow units whose load() the function may call)."""
    if handler not in sources.files:
        raise PackageError(f"no handler module {handler} under {sources.root}")
    own = f"{UNITS}.{workflow.replace('-', '_')}" if workflow else None
    if own is not None and own not in sources.units():
        raise PackageError(f"no workflow unit {own} for WORKFLOW={workflow}")
    loaded: set[str] = set()
    while True:
        found: set[str] = set()
        pending = [handler]
        while pending:
            name = pending.pop()
            if name in found:
                continue
            found.add(name)
            imports = sources.imports(name)
            pending += imports.always
            if name in loaded:
                pending += imports.on_load
            if name == REGISTRY:  # declarations(): every unit's __init__
                pending += sources.units()
        wanted = set(loaded)
        for name in found:
            imports = sources.imports(name)
            wanted |= imports.loads
            if imports.loads_every_unit:
                wanted |= set(sources.units())
            if imports.loads_own_workflow:
                if own is None:
                    raise PackageError(f"{name} loads the function's WORKFLOW, and it has none")
                wanted.add(own)
        if wanted == loaded:
            return found, loaded
        loaded = wanted


def read_manifest(root: Path) -> dict[str, dict[str, str | None]]:
    path = root / MANIFEST
    functions: dict[str, dict[str, str | None]] = json.loads(path.read_text(encoding="utf-8"))[
        "functions"
    ]
    return functions


def build(root: Path, logical_id: str, target: Path) -> list[str]:
    """Copy the sources of `logical_id`'s modules from `root` into `target`."""
    functions = read_manifest(root)
    if logical_id not in functions:
        raise PackageError(
            f"{logical_id} is not in {MANIFEST} (run make template after changing functions)"
        )
    spec = functions[logical_id]
    sources = Sources(root)
    modules = modules_for(sources, str(spec["handler"]), spec.get("workflow"))
    for name in sorted(modules):
        source = sources.files[name]
        destination = target / source.relative_to(root)
        destination.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(source, destination)
    return sorted(modules)


def main(argv: list[str]) -> int:
    if len(argv) != 2:
        print(__doc__.splitlines()[3].strip(), file=sys.stderr)
        return 2
    try:
        modules = build(HERE, argv[0], Path(argv[1]))
    except PackageError as error:
        print(f"build_package.py: {error}", file=sys.stderr)
        return 1
    print(f"{argv[0]}: {len(modules)} modules")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
