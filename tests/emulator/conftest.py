"""Fixtures for the emulator tests: an in-process emulator on a free port and its clock.
The plain helpers (client, request builders, ManualClock) are in `support.emulator_client`."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest

from hpo_emulator import EmulatorConfig, RunningEmulator, run_in_thread
from support.emulator_client import ManualClock, StartEmulator, client


@pytest.fixture
def clock() -> ManualClock:
    """The injected clock of the `emulator` fixture."""
    return ManualClock()


@pytest.fixture
def start_emulator() -> Iterator[StartEmulator]:
    """Start emulators (stopped at the end of the test): `start_emulator(clock=..., **config)`."""
    running: list[RunningEmulator] = []

    def start(clock: Callable[[], float] | None = None, **settings: Any) -> RunningEmulator:
        settings.setdefault("quotas", {})
        settings.setdefault("training_seconds", 10.0)
        config = EmulatorConfig(**settings)
        emu = run_in_thread(config, clock) if clock is not None else run_in_thread(config)
        running.append(emu)
        return emu

    yield start
    for emu in running:
        emu.stop()


@pytest.fixture
def emulator(start_emulator: StartEmulator, clock: ManualClock) -> RunningEmulator:
    """An emulator on the manual clock: 10 s trainings, 1 s startup, 1 s Stopping."""
    return start_emulator(clock=clock, startup_seconds=1.0, stop_seconds=1.0)


@pytest.fixture
def sm(emulator: RunningEmulator) -> Any:
    """A boto3 client of the `emulator` fixture."""
    return client(emulator.url)
