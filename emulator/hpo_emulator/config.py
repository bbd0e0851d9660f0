"""The emulator's settings, shared by the command line, the in-process helper and the tests."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

# Request rates (per second) and bursts per operation. AWS does not publish per-operation rates
# for these SageMaker APIs; these sit near what accounts observe: List calls are the scarce ones
# (ListTrainingJobs is documented at 2/s and is not raised), Describe calls allow a few per second
# per job family, and Create is high enough to start 1,000 jobs within a minute.
DEFAULT_QUOTAS: dict[str, tuple[float, float]] = {
    "CreateHyperParameterTuningJob": (20.0, 40.0),
    "DescribeHyperParameterTuningJob": (10.0, 20.0),
    "ListHyperParameterTuningJobs": (2.0, 4.0),
    "StopHyperParameterTuningJob": (10.0, 20.0),
    "DeleteHyperParameterTuningJob": (10.0, 20.0),
    "ListTrainingJobsForHyperParameterTuningJob": (2.0, 4.0),
    "DescribeTrainingJob": (10.0, 20.0),
    "AddTags": (10.0, 20.0),
    "ListTags": (10.0, 20.0),
    "DeleteTags": (10.0, 20.0),
    # Search is a heavy query API; AWS publishes no figure for it, so this is a conservative guess.
    "Search": (1.0, 2.0),
}


@dataclass
class Faults:
    """Injected faults, settable at start and at run time (`/_emulator/faults`)."""

    throttle_rate: float = 0.0
    error_rate: float = 0.0
    latency_ms: float = 0.0
    # ListHyperParameterTuningJobs with LastModifiedTimeAfter answering an empty page that still
    # carries a NextToken, as AWS has been seen to (aws-cli#7596): naive paginators loop on it.
    empty_page_rate: float = 0.0
    operations: list[str] | None = None  # None: every operation
    # Search answers from an index this many seconds behind (AWS's is eventually consistent):
    # each job as it was `search_lag` seconds ago, absent if it is younger. Search only.
    search_lag: float = 0.0


@dataclass
class EmulatorConfig:
    """Everything the emulator can be told; the command-line flags map one to one."""

    host: str = "127.0.0.1"
    port: int = 0
    region: str = "us-west-2"  # for requests without a SigV4 credential scope
    account_id: str = "123456789012"
    # Access key ID -> account ID; other keys: see accounts.py (issued by STS, trailing 12 digits,
    # else `account_id`).
    accounts: dict[str, str] = field(default_factory=dict)
    denied_roles: list[str] = field(default_factory=list)  # role ARNs AssumeRole refuses (403)
    session_seconds: float | None = None  # lifetime of issued credentials; None: DurationSeconds
    training_seconds: float = 5.0
    startup_seconds: float | None = None  # None: a tenth of training_seconds
    stop_seconds: float | None = None  # None: min(1 s, training_seconds)
    seed: int = 0
    faults: Faults = field(default_factory=Faults)
    quotas: dict[str, tuple[float, float]] = field(default_factory=lambda: dict(DEFAULT_QUOTAS))
    state_file: Path | None = None
    state_interval: float = 1.0
    max_concurrent_jobs: int = 0  # 0: unlimited (AWS's default account quota is 100)
    max_training_jobs: int = 750  # per tuning job (AWS's default)
    max_parallel_training_jobs: int = 100  # per tuning job (AWS's maximum; its default is 10)

    def startup(self) -> float:
        """Seconds from Create to the first training job."""
        if self.startup_seconds is not None:
            return self.startup_seconds
        return self.training_seconds / 10

    def stopping(self) -> float:
        """Seconds a job stays Stopping."""
        if self.stop_seconds is not None:
            return self.stop_seconds
        return min(1.0, self.training_seconds)
