"""`hpo-operator run` as a child process: one copy for the e2e harness (tests/support), the ship
tier's chart-like runs (tests/ship/live.py) and the benchmarks (bench/).

Each caller adds its own flags and environment; this holds what they share: an environment
cleaned of the caller's `HPO_*`, AWS and kubeconfig settings (the emulator's dummy credentials
instead, unless real AWS is meant), free probe and metrics ports, the log file, the health wait,
/metrics and /proc readings, and a stop that escalates from SIGTERM to SIGKILL.
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import urllib.error
import urllib.request
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path

from hpo_devtools.ports import free_port
from hpo_devtools.wait import wait_for

DEFAULT_COMMAND = (sys.executable, "-m", "hpo_operator.cli")
EMULATOR_CREDENTIALS = {
    "AWS_ACCESS_KEY_ID": "emulator",
    "AWS_SECRET_ACCESS_KEY": "emulator",
    "AWS_EC2_METADATA_DISABLED": "true",
}


def http_status(url: str, timeout: float = 2.0) -> int | None:
    """The status of GET `url` (an error status included); None when nothing answers."""
    try:
        with urllib.request.urlopen(url, timeout=timeout) as response:
            return int(response.status)
    except urllib.error.HTTPError as error:
        return int(error.code)
    except OSError:
        return None


class OperatorProcess:
    """One `hpo-operator run` child; `start()` launches it and waits for /healthz."""

    def __init__(
        self,
        kubeconfig: Path,
        log_path: Path,
        args: Sequence[str] = (),
        env: Mapping[str, str] | None = None,
        *,
        command: Sequence[str] | None = None,
        credentials: Mapping[str, str] | None = EMULATOR_CREDENTIALS,
        preexec: Callable[[], None] | None = None,
    ) -> None:
        """`args` follow `run`; `env` is added last; `credentials` None keeps the caller's AWS
        settings (real AWS); `preexec` runs in the child before exec (e.g. joining a cgroup)."""
        self.kubeconfig = kubeconfig
        self.log_path = log_path
        self.args = list(args)
        self.env = dict(env or {})
        # What runs `hpo-operator`: the installed package, or a test wrapper of it.
        self.command = list(command or DEFAULT_COMMAND)
        self.credentials = None if credentials is None else dict(credentials)
        self.preexec = preexec
        self.health_port = free_port()
        self.metrics_port = free_port()
        self.process: subprocess.Popen[bytes] | None = None

    def environment(self, **extra: str) -> dict[str, str]:
        """The child's environment."""
        dropped = ("HPO_", "KUBECONFIG") if self.credentials is None else ("HPO_", "AWS_", "KUBE")
        env = {key: value for key, value in os.environ.items() if not key.startswith(dropped)}
        env.update(self.credentials or {})
        env.update(
            KUBECONFIG=str(self.kubeconfig),
            HPO_HEALTH_PORT=str(self.health_port),
            HPO_METRICS_PORT=str(self.metrics_port),
        )
        env.update(self.env)
        env.update(extra)
        return env

    def start(self, *, wait: bool = True, **extra_env: str) -> OperatorProcess:
        """Launch (`extra_env` on top of the rest) and, with `wait`, wait for /healthz."""
        with self.log_path.open("ab") as log:
            self.process = subprocess.Popen(
                [*self.command, "run", *self.args],
                env=self.environment(**extra_env),
                stdout=log,
                stderr=subprocess.STDOUT,
                preexec_fn=self.preexec,
            )
        if wait:
            wait_for(self.healthy, 60, f"operator health on :{self.health_port}\n{self.tail()}")
        return self

    def running(self) -> subprocess.Popen[bytes]:
        """The child, which must not have exited (AssertionError with its log's end if it has)."""
        assert self.process is not None, "the operator was not started"
        if self.process.poll() is not None:
            raise AssertionError(f"operator exited {self.process.returncode}:\n{self.tail()}")
        return self.process

    def healthy(self) -> bool:
        self.running()
        return self.probe("/healthz") == 200

    def ready(self) -> bool:
        self.running()
        return self.probe("/readyz") == 200

    def probe(self, path: str) -> int | None:
        """The status of GET `path` on the health port; None when nothing answers."""
        return http_status(f"http://127.0.0.1:{self.health_port}{path}")

    def metrics(self) -> str:
        url = f"http://127.0.0.1:{self.metrics_port}/metrics"
        with urllib.request.urlopen(url, timeout=5) as response:
            text: str = response.read().decode()
            return text

    def metric(self, name: str, labels: str = "") -> float:
        """One sample of /metrics, e.g. `metric("hpo_parking_total", '{action="park"}')`; 0 when
        it is absent (a labelled counter appears once first counted)."""
        pattern = rf"^{re.escape(name)}{re.escape(labels)} (\S+)$"
        found = re.search(pattern, self.metrics(), re.MULTILINE)
        return float(found.group(1)) if found else 0.0

    def proc(self) -> dict[str, float]:
        """VmHWM (peak) and VmRSS in MB, and CPU seconds (user + system) so far."""
        pid = self.running().pid
        fields: dict[str, float] = {}
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            key, _, value = line.partition(":")
            if key in ("VmHWM", "VmRSS"):
                fields[key] = float(value.split()[0]) / 1024
        stat = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        ticks = os.sysconf("SC_CLK_TCK")
        fields["cpu_seconds"] = (int(stat[11]) + int(stat[12])) / ticks
        return fields

    def wait_exit(self, timeout: float = 60.0) -> int:
        assert self.process is not None
        return self.process.wait(timeout=timeout)

    def kill(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGKILL)
            self.process.wait(timeout=30)

    def stop(self, timeout: float = 20.0) -> None:
        """SIGTERM, then SIGKILL after `timeout` seconds."""
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                self.kill()

    def log(self) -> str:
        try:
            return self.log_path.read_text(errors="replace")
        except OSError:
            return "(no log)"

    def tail(self, lines: int = 60) -> str:
        return "\n".join(self.log().splitlines()[-lines:])
