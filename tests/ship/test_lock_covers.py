"""The lock file covers the emulator's and the dev tooling's distributions too.

`make lock` resolves the operator's pyproject (with its dev extra); the two side distributions
(emulator/, devtools/) are installed editable beside it by `make venv` under the same constraints,
and their own dependency on the operator is not on any index, so they cannot be resolved on their
own. This test is what keeps them covered: every dependency they declare must be pinned in
requirements/lock.txt at a version their specifier accepts, so a new one fails here until the
operator's pyproject (and so the lock) carries it.
"""

from __future__ import annotations

import tomllib
from pathlib import Path

import pytest
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

REPO = Path(__file__).resolve().parents[2]
OPERATOR = "sagemaker-hpo-operator"


def _locked() -> dict[str, str]:
    pins: dict[str, str] = {}
    for line in (REPO / "requirements" / "lock.txt").read_text().splitlines():
        if "==" in line and not line.lstrip().startswith("#"):
            name, version = line.split("==", 1)
            pins[canonicalize_name(name.strip())] = version.split()[0]
    return pins


@pytest.mark.parametrize("folder", ["emulator", "devtools"])
def test_side_distribution_dependencies_are_locked(folder: str) -> None:
    project = tomllib.loads((REPO / folder / "pyproject.toml").read_text())["project"]
    locked = _locked()
    problems = []
    for text in project.get("dependencies", []):
        requirement = Requirement(text)
        name = canonicalize_name(requirement.name)
        if name == OPERATOR:
            continue  # installed from this repository, not from the index
        version = locked.get(name)
        if version is None:
            problems.append(f"{text}: not in requirements/lock.txt")
        elif not requirement.specifier.contains(version, prereleases=True):
            problems.append(f"{text}: the lock pins {version}")
    assert problems == [], f"{folder}/pyproject.toml: add these to the operator's pyproject first"


def test_the_plot_extra_is_locked() -> None:
    """`pip install 'sagemaker-hpo-operator[plot]'` (the trials command's --plot) resolves to
    versions the lock has tested: its requirements are pinned there too."""
    extras = tomllib.loads((REPO / "pyproject.toml").read_text())["project"][
        "optional-dependencies"
    ]
    locked = _locked()
    for text in extras["plot"]:
        requirement = Requirement(text)
        version = locked.get(canonicalize_name(requirement.name))
        assert version is not None, f"{text}: not in requirements/lock.txt"
        assert requirement.specifier.contains(version), f"{text}: the lock pins {version}"
