"""The emulator's store as an in-memory SageMaker port for `driver.drive`: real request checks,
real job states and tags, no HTTP. Calls are counted by operation, like `/_emulator/stats`."""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Mapping
from typing import Any

from hpo_emulator import errors, operations
from hpo_emulator.config import EmulatorConfig
from hpo_emulator.store import Store
from hpo_operator.adapters.sagemaker import classify
from hpo_operator.core.types import AwsFailure, Call, Op


class StorePort:
    """`await port(call)` answers like `sagemaker.SageMaker.execute`, from an emulator store."""

    def __init__(self, config: EmulatorConfig | None = None) -> None:
        self.store = Store(config or EmulatorConfig(training_seconds=1.0, quotas={}))
        self.calls: Counter[str] = Counter()
        self.log: list[Call] = []

    async def __call__(self, call: Call) -> Mapping[str, Any] | AwsFailure:
        self.calls[call.op.value] += 1
        self.log.append(call)
        params: dict[str, Any]
        if call.op is Op.CREATE:
            params = dict(call.request or {})
        elif call.op is Op.LIST_TAGS:
            params = {"ResourceArn": call.arn or ""}
        elif call.op is Op.ADD_TAGS:
            params = {"ResourceArn": call.arn or "", "Tags": list((call.request or {})["Tags"])}
        else:
            params = {"HyperParameterTuningJobName": call.job_name}
        try:
            return operations.call(self.store, call.op.value, params, time.time())
        except errors.ApiError as error:
            return classify(call.op, error.code, error.message, error.status)
