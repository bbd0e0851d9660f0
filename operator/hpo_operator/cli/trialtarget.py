"""Which tuning job NAMESPACE/NAME is, read from the cluster the way the operator reads it.

The resource and its namespace are read with the user's own kubectl (`$KUBECTL`, else `kubectl`
on the PATH): it already speaks every authentication a kubeconfig can hold (EKS's `aws eks
get-token` exec plugin, OIDC, client certificates), which kopf's kubeconfig login does not, and the
operator's image carries no Kubernetes client library for the command to use instead. The job
name, region and endpoint then come from `core.target.target_of`, the operator's own decision; a
status ARN, once the operator recorded one, is where the job is (its region and account).
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from hpo_operator import identity
from hpo_operator.core.outcome import status_arn
from hpo_operator.core.target import target_of
from hpo_operator.core.types import ReconcileSettings, Resource

KUBECTL_TIMEOUT = 60.0


class TargetError(Exception):
    """The resource cannot be read or names no job (the message says why)."""


@dataclass(frozen=True)
class JobTarget:
    """A tuning job to read: its name, region, endpoint, and where the name came from."""

    job_name: str
    region: str | None
    endpoint_url: str | None = None
    arn: str | None = None
    account: str | None = None
    source: str = "--job-name"


def arn_parts(arn: str | None) -> tuple[str | None, str | None]:
    """(region, account) of an ARN such as arn:aws:sagemaker:us-west-2:123456789012:..."""
    parts = (arn or "").split(":")
    if len(parts) < 6 or parts[0] != "arn":
        return None, None
    return parts[3] or None, parts[4] or None


def resolve(
    resource: Mapping[str, Any],
    namespace_annotations: Mapping[str, str],
    cfg: ReconcileSettings,
) -> JobTarget:
    """The job a HyperParameterTuningJob object acts on, as the operator resolves it."""
    metadata = resource.get("metadata") or {}
    r = Resource(
        namespace=str(metadata.get("namespace") or "default"),
        name=str(metadata.get("name") or ""),
        uid=str(metadata.get("uid") or ""),
        generation=int(metadata.get("generation") or 0),
        spec=resource.get("spec") or {},
        status=resource.get("status") or {},
        annotations={str(k): str(v) for k, v in (metadata.get("annotations") or {}).items()},
        namespace_annotations=namespace_annotations,
    )
    t = target_of(r, cfg)
    if not t.job_name:
        raise TargetError(f"{r.namespace}/{r.name} names no job: {t.problem}")
    arn = status_arn(r.status)
    region, account = arn_parts(arn)
    return JobTarget(
        job_name=t.job_name,
        region=region or t.region,
        endpoint_url=t.endpoint_url,
        arn=arn,
        account=account or t.account,
        source=f"{identity.KIND} {r.namespace}/{r.name}",
    )


def kubectl_argv(kubeconfig: str | None, context: str | None) -> list[str]:
    binary = os.environ.get("KUBECTL") or shutil.which("kubectl")
    if not binary:
        raise TargetError(
            "reading NAMESPACE/NAME needs kubectl on the PATH (or $KUBECTL); "
            "or name the job with --job-name and --region"
        )
    argv = [binary]
    if kubeconfig:
        argv.append(f"--kubeconfig={kubeconfig}")
    if context:
        argv.append(f"--context={context}")
    return argv


def _get(argv: Sequence[str], *args: str) -> tuple[dict[str, Any] | None, str]:
    try:
        done = subprocess.run(
            [*argv, "get", *args, "-o", "json"],
            capture_output=True,
            text=True,
            check=False,
            timeout=KUBECTL_TIMEOUT,
        )
    except (OSError, subprocess.TimeoutExpired) as error:
        return None, str(error)
    if done.returncode != 0:
        return None, done.stderr.strip() or f"kubectl exited {done.returncode}"
    found = json.loads(done.stdout)
    return (found if isinstance(found, dict) else None), ""


def from_cluster(
    reference: str,
    cfg: ReconcileSettings,
    kubeconfig: str | None = None,
    context: str | None = None,
) -> tuple[JobTarget, str | None]:
    """Read NAMESPACE/NAME (or NAME in kubectl's current namespace) and its namespace; the target
    and a note for stderr when the namespace's annotations could not be read."""
    namespace, _, name = reference.rpartition("/")
    if not name:
        raise TargetError(f"{reference!r}: give NAMESPACE/NAME")
    argv = kubectl_argv(kubeconfig, context)
    where = ["-n", namespace] if namespace else []
    found, error = _get(argv, identity.CRD_NAME, name, *where)
    if found is None:
        raise TargetError(f"cannot read {identity.KIND} {reference}: {error}")
    namespace = str((found.get("metadata") or {}).get("namespace") or namespace)
    ns, error = _get(argv, "namespace", namespace)
    note = None
    if ns is None:
        note = (
            f"could not read namespace {namespace} ({error}); its region and endpoint "
            "annotations are not applied"
        )
    annotations = ((ns or {}).get("metadata") or {}).get("annotations") or {}
    return resolve(found, {str(k): str(v) for k, v in annotations.items()}, cfg), note
