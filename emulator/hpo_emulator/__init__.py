"""A local SageMaker endpoint for hyperparameter tuning jobs, with a real lifecycle.

`hpo-operator emulator` serves it; `run_in_thread()` serves it in-process for tests and demos.
"""

from hpo_emulator.config import EmulatorConfig, Faults
from hpo_emulator.server import Emulator, RunningEmulator, run_in_thread

__all__ = ["Emulator", "EmulatorConfig", "Faults", "RunningEmulator", "run_in_thread"]
