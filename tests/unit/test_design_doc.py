"""The docs name modules and functions that still exist, so they cannot go stale on a move.

docs/design.md and README.md are scanned for source paths
(`operator/hpo_operator/core/reconcile.py`, `hpo_emulator/checks.py`, a layer-relative
`core/reconcile.py`) and dotted names (`hpo_operator.shell.runner`, and in backquotes a
layer-relative `core.reconcile.decide`). Each path must exist; each dotted name must be a module,
or a module and the names defined in it (a function, a class, a constant, a class's method or
field), read from the source without importing.
"""

from __future__ import annotations

import ast
import re
from functools import cache
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
DOCS = ("docs/design.md", "README.md")
# Where each distribution's package lives.
PACKAGES = {
    "hpo_operator": REPO / "operator" / "hpo_operator",
    "hpo_emulator": REPO / "emulator" / "hpo_emulator",
    "hpo_devtools": REPO / "devtools" / "hpo_devtools",
}
LAYERS = ("model", "core", "adapters", "polling", "shell", "cli", "identity")

_EDGE = r"(?<![\w./-])"  # a path starts a word: not `_emulator/` of a URL, not `hpo-operator/`
_TAIL = r"[\w./-]*[\w/]"  # and does not take a sentence's final full stop
ROOT_PATH = re.compile(_EDGE + r"((?:operator|emulator|devtools)/(?:" + _TAIL + r")?)")
PACKAGE_PATH = re.compile(
    _EDGE + r"((?:hpo_operator|hpo_emulator|hpo_devtools)/(?:" + _TAIL + r")?)"
)
LAYER_PATH = re.compile(_EDGE + r"((?:" + "|".join(LAYERS[:-1]) + r")/" + _TAIL + r")")
DOTTED = re.compile(r"(?<![\w.])((?:hpo_operator|hpo_emulator|hpo_devtools)(?:\.\w+)+)")
QUOTED = re.compile(r"`([^`\s]+)`")
LAYER_DOTTED = re.compile(r"(?:" + "|".join(LAYERS) + r")(?:\.\w+)+")


def _text(doc: str) -> str:
    return (REPO / doc).read_text(encoding="utf-8")


def paths(text: str) -> set[Path]:
    """Every source path the text names, as a path in the checkout."""
    found = {REPO / p for p in ROOT_PATH.findall(text)}
    for p in PACKAGE_PATH.findall(text):
        package, _, rest = p.partition("/")
        found.add(PACKAGES[package] / rest)
    found |= {PACKAGES["hpo_operator"] / p for p in LAYER_PATH.findall(text)}
    return found


def dotted_names(text: str) -> set[str]:
    """Every dotted module or definition the text names, spelled from its package."""
    found = set(DOTTED.findall(text))
    for quoted in QUOTED.findall(text):
        if LAYER_DOTTED.fullmatch(quoted) and not quoted.endswith(".py"):  # `identity.py`: a file
            found.add(f"hpo_operator.{quoted}")
    return found


@cache
def _tree(source: Path) -> ast.Module:
    return ast.parse(source.read_text(encoding="utf-8"))


def _module_file(parts: list[str]) -> Path | None:
    base = PACKAGES[parts[0]].joinpath(*parts[1:])
    for candidate in (base / "__init__.py", base.with_suffix(".py")):
        if candidate.is_file():
            return candidate
    return None


def _defined(body: list[ast.stmt]) -> dict[str, list[ast.stmt]]:
    """Names a module or class body defines, each with the body to look further into."""
    names: dict[str, list[ast.stmt]] = {}
    for node in body:
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
            names[node.name] = []
        elif isinstance(node, ast.ClassDef):
            names[node.name] = node.body
        elif isinstance(node, ast.Assign):
            for target in node.targets:
                if isinstance(target, ast.Name):
                    names[target.id] = []
        elif isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name):
            names[node.target.id] = []
        elif isinstance(node, ast.ImportFrom | ast.Import):
            for alias in node.names:
                names[alias.asname or alias.name.split(".")[0]] = []
    return names


def resolves(name: str) -> bool:
    """Whether `name` is a module of its package, or a module and names defined in it."""
    parts = name.split(".")
    for split in range(len(parts), 0, -1):
        source = _module_file(parts[:split])
        if source is None:
            continue
        body: list[ast.stmt] = _tree(source).body
        for attribute in parts[split:]:
            defined = _defined(body)
            if attribute not in defined:
                return False
            body = defined[attribute]
        return True
    return False


@pytest.mark.parametrize("doc", DOCS)
def test_every_path_named_exists(doc: str) -> None:
    named = paths(_text(doc))
    assert len(named) >= 5, f"{doc}: the scan found almost nothing, so it checks nothing"
    missing = sorted(str(p.relative_to(REPO)) for p in named if not p.exists())
    assert not missing, f"{doc} names paths that do not exist: {missing}"


@pytest.mark.parametrize("doc", DOCS)
def test_every_dotted_name_resolves(doc: str) -> None:
    named = dotted_names(_text(doc))
    missing = sorted(name for name in named if not resolves(name))
    assert not missing, f"{doc} names modules or definitions that do not exist: {missing}"


def test_the_design_doc_names_the_code_it_maps() -> None:
    named = dotted_names(_text("docs/design.md"))
    assert len(named) >= 50  # the map and the data path: not vacuous
    assert "hpo_operator.core.reconcile.decide" in named


def test_the_scan_catches_a_stale_name() -> None:
    text = (
        "`operator/hpo_operator/shell/poller.py`, `core/gone.py`, hpo_operator.shell.polling, "
        "`core.reconcile.no_such_function`, `hpo_emulator/nowhere.py`"
    )
    assert not any(p.exists() for p in paths(text))
    assert len(paths(text)) == 3
    assert not any(resolves(name) for name in dotted_names(text))
    assert len(dotted_names(text)) == 2


def test_the_scan_leaves_other_words_alone() -> None:
    text = (
        "`~/.cache/hpo-operator/envtest/`, `URL/_emulator/faults`, `status.conditions`, `Op.LIST`"
    )
    assert not paths(text)
    assert not dotted_names(text)
