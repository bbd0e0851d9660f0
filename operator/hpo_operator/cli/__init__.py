"""The `hpo-operator` command: a thin dispatcher to the subcommand modules.

Each subcommand lives in its own module with a `main(argv) -> int`, imported only when chosen, so
`hpo-operator render` never pays for kopf. `emulator` is served by another distribution,
hpo-operator-emulator (package `hpo_emulator`), which the operator's image does not carry; the
operator itself never imports it (pyproject.toml's import contracts).
"""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Sequence

from hpo_operator import __version__

SUBCOMMANDS: dict[str, tuple[str, str]] = {
    "run": ("hpo_operator.shell.runner", "Run the operator."),
    "render": (
        "hpo_operator.cli.render",
        "Validate manifests offline; print the request.",
    ),
    "crd": ("hpo_operator.model.schema", "Print or write the generated CustomResourceDefinition."),
    "trials": (
        "hpo_operator.cli.trials",
        "List, watch or plot the trials of a resource's tuning job.",
    ),
    "emulator": ("hpo_emulator.server", "Serve a local SageMaker emulator."),
}
# Subcommands whose module belongs to another distribution: what to install when it is missing.
ELSEWHERE: dict[str, str] = {
    "emulator": "the hpo-operator-emulator distribution (from a checkout: pip install ./emulator)",
}


def main(argv: Sequence[str] | None = None) -> int:
    """Parse the subcommand name and hand the rest of the arguments to its module."""
    args = list(sys.argv[1:] if argv is None else argv)
    parser = argparse.ArgumentParser(
        prog="hpo-operator",
        description="SageMaker hyperparameter tuning jobs as Kubernetes resources.",
    )
    parser.add_argument("--version", action="version", version=f"hpo-operator {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name, (_, summary) in SUBCOMMANDS.items():
        sub.add_parser(name, help=summary, add_help=False)
    if not args or args[0].startswith("-"):
        parser.parse_args(args)
        parser.print_help()
        return 2
    name, rest = args[0], args[1:]
    if name not in SUBCOMMANDS:
        parser.parse_args(args)  # prints the usage error and exits 2
        return 2
    if name == "run":
        from hpo_operator.shell.lean import prepare_operator_process

        prepare_operator_process()  # before kopf and the runner are imported (see lean.py)
    path = SUBCOMMANDS[name][0]
    try:
        module = importlib.import_module(path)
    except ModuleNotFoundError as missing:
        top = path.partition(".")[0]
        if name not in ELSEWHERE or (missing.name or "").partition(".")[0] != top:
            raise
        print(
            f"hpo-operator {name}: not installed here; install {ELSEWHERE[name]}", file=sys.stderr
        )
        return 1
    result: int = module.main(rest)
    return result


if __name__ == "__main__":
    sys.exit(main())
