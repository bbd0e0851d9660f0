"""Runs the pure decisions of `reconcile.py` against a SageMaker port until no call is left.

The port is anything that answers a `reconcile.Call` with the response or an `AwsFailure`
(`sagemaker.SageMaker.execute` in the operator, a fake in unit tests), so one reconcile — with all
its Create → Describe → ListTags branches — is testable without AWS or Kubernetes.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from dataclasses import replace
from typing import Any, Protocol

from hpo_operator.core.reconcile import decide, record
from hpo_operator.core.types import (
    AwsFailure,
    Call,
    Event,
    Observation,
    ReconcileSettings,
    Resource,
    Step,
    Trigger,
)

# The longest paths: delete of an adopted job whose adoption an older version did not record
# (Describe, ListTags, AddTags, Stop, Describe), and adoption followed by the job's results
# (Describe, ListTags, AddTags, then ListTrainingJobsForHyperParameterTuningJob and
# DescribeTrainingJob: `results.py`). Anything past this bound is a bug, not a slow SageMaker.
MAX_CALLS = 6


class Port(Protocol):
    """Makes one SageMaker call: returns the response, or how it failed (never raises for AWS)."""

    def __call__(self, call: Call) -> Awaitable[Mapping[str, Any] | AwsFailure]: ...


class DidNotConverge(RuntimeError):
    """The decisions asked for more calls than any path needs: a bug in `reconcile.decide`."""


async def drive(
    resource: Resource,
    settings: ReconcileSettings,
    trigger: Trigger,
    port: Port,
    now: Callable[[], str],
    on_call: Callable[[Call], None] | None = None,
    known: str | None = None,
    on_status: Callable[[Step], Awaitable[None]] | None = None,
) -> Step:
    """Decide, call, record, repeat; return the final step (the one without a call). `known` is
    the job this process already proved the resource's (`Step.proven` of an earlier reconcile).

    A step with a call and a status (a job's results to read: `results.py`) is handed to
    `on_status` first, to be written before the call; its Events are not repeated by the final
    step."""
    observation = Observation(known=known)
    posted: tuple[Event, ...] = ()
    for _ in range(MAX_CALLS + 1):
        step = decide(resource, observation, now(), settings, trigger)
        if step.call is None:
            return replace(step, events=tuple(e for e in step.events if e not in posted))
        if step.status is not None and on_status is not None:
            await on_status(replace(step, call=None, annotations={}))
            posted += step.events
        if on_call is not None:
            on_call(step.call)
        result = await port(step.call)
        observation = record(observation, step.call, result)
    raise DidNotConverge(f"more than {MAX_CALLS} SageMaker calls in one reconcile: {observation}")
