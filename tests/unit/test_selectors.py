"""`--watch-selectors`: checked at startup, joined with the parking selector for kopf's watch."""

from __future__ import annotations

import pytest

from hpo_operator.core import parking
from hpo_operator.core.selectors import join, requirements, selector_problem
from hpo_operator.identity import GROUP, PLURAL, VERSION
from hpo_operator.shell.runner import kopf_settings
from hpo_operator.shell.settings import SettingsError, from_args


@pytest.mark.parametrize(
    "selector",
    [
        "team=a",
        "team==a",
        "team!=a",
        "team",
        "!team",
        "team in (a,b)",
        "team notin (a, b),tier",
        "example.com/team=a,env in (prod)",
        "team=",
        "priority>3",
    ],
)
def test_selectors_the_api_server_takes_are_taken(selector: str) -> None:
    assert selector_problem(selector) is None


@pytest.mark.parametrize(
    "selector", ["team=a,", "=a", "team in a", "team in (a", "team=a b", "team>>1", "Team/x=a"]
)
def test_selectors_the_api_server_refuses_are_refused_naming_the_requirement(
    selector: str,
) -> None:
    problem = selector_problem(selector)
    assert problem is not None
    assert "requirement" in problem


def test_a_set_is_one_requirement_and_joining_keeps_every_one() -> None:
    assert requirements("team in (a,b),tier!=x") == ["team in (a,b)", "tier!=x"]
    assert join(parking.SELECTOR, "team in (a,b)") == f"{parking.SELECTOR},team in (a,b)"
    assert join(parking.SELECTOR, "") == parking.SELECTOR


def test_the_flag_and_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("HPO_WATCH_SELECTORS", raising=False)
    assert from_args([]).watch_selectors == ""
    monkeypatch.setenv("HPO_WATCH_SELECTORS", "team=a")
    assert from_args([]).watch_selectors == "team=a"
    assert from_args(["--watch-selectors", "team=b"]).watch_selectors == "team=b"
    with pytest.raises(SettingsError) as refused:
        from_args(["--watch-selectors", "team in a"])
    assert refused.value.problems[0][0] == "watch_selectors"


def test_kopf_watches_only_the_selected_unparked_resources(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv("HPO_WATCH_SELECTORS", raising=False)
    k = kopf_settings(from_args(["--watch-selectors", "team=a"]))
    ((_, selector),) = k.watching.label_selectors.items()
    assert selector == f"{parking.SELECTOR},team=a"
    assert k.watching.label_selectors[GROUP, VERSION, PLURAL] == selector
