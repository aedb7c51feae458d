"""Imports point one way (issue 8): no cycles among the project's modules, and every kiosk module sits in one layer
and imports only from its own layer and those below:

    UI (kiosk.ui) -> runtime (kiosk.runtime) -> services -> store -> domain

Hardware backends (hardware.*) are picked and built only by the runtime's wiring (and the technicians' and
command-line tools); everybody else may know only the seams in `hardware` itself.  Hardware knows nothing of
the kiosk.  A new module fails here until it is given a layer."""

from __future__ import annotations

import ast
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
PACKAGES = ("kiosk", "hardware", "provisioning", "headoffice")
DOMAIN = {
    "kiosk",  # the package itself: the version and the headless-driver helper
    "kiosk.attendant",
    "kiosk.cart",
    "kiosk.checkout",
    "kiosk.codes",
    "kiosk.catalog",
    "kiosk.money",
    "kiosk.orders",
    "kiosk.payment_state",
    "kiosk.messages",
    "kiosk.config",
    "kiosk.i18n",
    "kiosk.weighed",
    "kiosk.online_order",
    "kiosk.sounds",  # the sound files' names and the prompts' words
}
STORE = "kiosk.store"  # the package and its modules
SERVICES = (
    "kiosk.services",
    "kiosk.payments",
    "kiosk.reconcile",
    "kiosk.telemetry",
    "kiosk.intake",
    "kiosk.receipts",
    "kiosk.fonts",
    "kiosk.signing",
    "kiosk.pairing",
    "kiosk.demo_pictures",  # draws the demo catalog's pictures into the kiosk's folder
)
# lowest first: a module may import from its own layer and the layers before it
LAYERS = ["domain", "store", "services", "runtime", "ui", "entry"]
# command-line entry points: they start things, so they may import anything
ENTRY = {
    "kiosk.__main__",
    "kiosk.reconcile.__main__",
    "kiosk.receipts.__main__",
    "kiosk.ui.screenshots",
    "kiosk.out_of_service",
    "kiosk.sounds.make",
}
# who may build hardware backends
HARDWARE_BUILDERS = ("kiosk.runtime.wiring", "provisioning", *ENTRY)


def layer(module: str) -> str | None:
    if module in ENTRY:
        return "entry"
    if module in DOMAIN:
        return "domain"
    if module == STORE or module.startswith(STORE + "."):
        return "store"
    if any(module == p or module.startswith(p + ".") for p in SERVICES):
        return "services"
    if module.startswith("kiosk.runtime"):
        return "runtime"
    if module.startswith("kiosk.ui"):
        return "ui"
    return None


def modules() -> dict[str, Path]:
    found = {}
    for package in PACKAGES:
        for path in (REPO / package).rglob("*.py"):
            name = ".".join(path.relative_to(REPO).with_suffix("").parts)
            found[name.removesuffix(".__init__")] = path
    return found


def imports() -> dict[str, set[str]]:
    """Every module's imports of the project's modules, lazy ones (inside functions) included."""
    mods = modules()

    def resolve(name: str) -> str | None:
        while name and name not in mods:
            name = name.rpartition(".")[0]
        return name or None

    graph: dict[str, set[str]] = {m: set() for m in mods}
    for name, path in mods.items():
        package = name if path.name == "__init__.py" else name.rpartition(".")[0]
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            targets = []
            if isinstance(node, ast.Import):
                targets = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom):
                base = node.module or ""
                if node.level:
                    parts = package.split(".")[: len(package.split(".")) - node.level + 1]
                    base = ".".join([*parts, base] if base else parts)
                targets = [f"{base}.{a.name}" for a in node.names] + [base]
            for t in targets:
                found = resolve(t)
                if found and found != name:
                    graph[name].add(found)
    return graph


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components of more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on: set[str] = set()
    out: list[list[str]] = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        on.add(v)
        for w in graph[v]:
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            scc = []
            while True:
                w = stack.pop()
                on.discard(w)
                scc.append(w)
                if w == v:
                    break
            if len(scc) > 1:
                out.append(sorted(scc))

    for v in graph:
        if v not in index:
            visit(v)
    return out


def test_no_import_cycles():
    assert cycles(imports()) == []


def test_every_kiosk_module_has_a_layer():
    assert [m for m in modules() if m.startswith("kiosk") and layer(m) is None] == []


def test_layers_only_point_down():
    graph = imports()
    upward = []
    for module, deps in graph.items():
        here = layer(module)
        if here is None:
            continue
        for dep in deps:
            there = layer(dep)
            if there is not None and LAYERS.index(there) > LAYERS.index(here):
                upward.append(f"{module} ({here}) imports {dep} ({there})")
    assert upward == []


def test_only_the_wiring_builds_hardware():
    graph = imports()
    wrong = [
        f"{module} imports {dep}"
        for module, deps in graph.items()
        for dep in deps
        if dep.startswith("hardware.") and not module.startswith(("hardware", *HARDWARE_BUILDERS))
    ]
    assert wrong == []
    assert [
        f"{m} imports {d}" for m, ds in graph.items() if m.startswith("hardware") for d in ds if d.startswith("kiosk")
    ] == []


def test_the_layer_check_sees_an_upward_import():
    assert LAYERS.index(layer("kiosk.ui.screens")) > LAYERS.index(layer("kiosk.runtime.controller"))
    assert layer("kiosk.store") == "store" and layer("kiosk.payments.driver") == "services"
    assert layer("kiosk.newthing") is None


def test_the_check_sees_a_cycle():
    assert cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]


def test_head_office_shares_only_the_message_schema_with_the_kiosk():
    graph = imports()
    wrong = [
        f"{m} imports {d}"
        for m, deps in graph.items()
        if m.startswith("headoffice")
        for d in deps
        if d.startswith(("kiosk", "hardware"))
    ]
    assert wrong == []
    assert [
        m
        for m, deps in graph.items()
        if m.startswith(("kiosk", "hardware")) and any(d.startswith("headoffice") for d in deps)
    ] == []
