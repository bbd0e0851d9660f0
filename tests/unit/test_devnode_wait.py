"""The dev node's start-up wait fails with every process's log tail, once each, when one exits."""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

import pytest

from hpo_devtools import node as devnode
from hpo_devtools import process as devprocess


def _exited(name: str, log: Path) -> devprocess.Process:
    log.write_text(f"{name} said goodbye\n")
    popen = subprocess.Popen([sys.executable, "-c", "pass"])
    popen.wait()
    return devprocess.Process(name=name, pid=popen.pid, log=log, popen=popen)


def test_an_exited_process_fails_the_wait_with_each_log_tail_once(tmp_path: Path) -> None:
    kubelet = _exited("kubelet", tmp_path / "kubelet.log")
    containerd = _exited("containerd", tmp_path / "containerd.log")
    with pytest.raises(devnode.DevNodeError) as failure:
        devnode._wait_until(
            lambda: False,
            kubelet,
            time.monotonic() + 30,
            what="the node",
            others=[kubelet, containerd],
        )
    message = str(failure.value)
    assert message.startswith("kubelet exited with code 0 before the node was ready")
    assert message.count("kubelet said goodbye") == 1
    assert message.count("containerd said goodbye") == 1
