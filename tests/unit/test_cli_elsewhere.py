"""`hpo-operator emulator` without the emulator installed (as in the image): one line naming
what to install, exit 1. A missing dependency *inside* an installed emulator is not mistaken for
a missing emulator."""

from __future__ import annotations

import sys

import pytest

from hpo_operator.cli import main


def test_a_missing_emulator_says_what_to_install(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    for name in ("hpo_emulator", "hpo_emulator.server"):
        monkeypatch.setitem(sys.modules, name, None)  # None in sys.modules: "no such module"
    assert main(["emulator", "--port", "0"]) == 1
    err = capsys.readouterr().err
    assert err.count("\n") == 1
    assert err.startswith("hpo-operator emulator: not installed here;")
    assert "hpo-operator-emulator" in err


def test_a_missing_dependency_of_the_emulator_is_not_reported_as_a_missing_emulator(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delitem(sys.modules, "hpo_emulator.server", raising=False)
    monkeypatch.setitem(sys.modules, "aiohttp", None)
    monkeypatch.setitem(sys.modules, "aiohttp.web", None)
    with pytest.raises(ModuleNotFoundError) as missing:
        main(["emulator", "--port", "0"])
    assert (missing.value.name or "").startswith("aiohttp")
