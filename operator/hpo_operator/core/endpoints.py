"""Which SageMaker endpoints and regions the operator may use: pure checks, no I/O.

A request to SageMaker carries the operator's access key ID, its session token and the request
body; only its signature is derived. Over plain HTTP anyone on the path reads them, and whoever
may annotate a namespace chooses the path (`services.k8s.aws/endpoint-url`). So an endpoint must
be https, or plain HTTP to a loopback address (the local emulator, a sidecar proxy), or appear in
the operator's explicit allow-list (`--allow-unsafe-aws-endpoint-urls`). ACK's runtime has a flag
of that name for the same reason: a boolean that lets its own `--aws-endpoint-url` be plain HTTP
(it checks at startup, refusing to start). Here the flag takes the URLs that may be plain HTTP
(`*`: any), and the check applies to every endpoint, the operator's and the namespaces', both when
a resource is reconciled (`reconcile.target_of`) and in the SageMaker client itself
(`sagemaker.SageMakerClients`), so no path around the first check sends credentials.
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Iterable
from urllib.parse import urlsplit

ANY = "*"
ALLOW_FLAG = "--allow-unsafe-aws-endpoint-urls"

# AWS region names: a partition prefix, words, a number (us-east-1, us-gov-west-1, cn-north-1,
# eusc-de-east-1). botocore accepts any host label; the operator refuses what cannot be a region
# before it is put into a host name.
REGION_PATTERN = re.compile(r"^[a-z]{2,4}(-[a-z]+)+-[0-9]{1,2}$")


def region_problem(region: str) -> str | None:
    """Why `region` cannot be an AWS region, or None."""
    if REGION_PATTERN.fullmatch(region):
        return None
    return f"{region!r} is not an AWS region name (like us-west-2)"


def origin(url: str) -> str | None:
    """`scheme://host:port` of an http(s) URL, lower-cased, with the scheme's default port;
    None when `url` is not an http(s) URL with a host."""
    try:
        parts = urlsplit(url.strip())
        port = parts.port
    except ValueError:
        return None
    scheme = parts.scheme.lower()
    host = (parts.hostname or "").lower()
    if scheme not in ("http", "https") or not host:
        return None
    shown = f"[{host}]" if ":" in host else host
    return f"{scheme}://{shown}:{port or (443 if scheme == 'https' else 80)}"


def allow_list(text: str) -> frozenset[str]:
    """The `--allow-unsafe-aws-endpoint-urls` setting: comma-separated URLs, or `*` (also
    `true`, as ACK's boolean flag is written; `false`: none).

    Raises ValueError naming an entry that is not an http(s) URL with a host.
    """
    allowed: set[str] = set()
    for part in (p.strip() for p in text.split(",")):
        if not part:
            continue
        if part.lower() in (ANY, "true"):  # ACK's flag is a boolean: `=true` means any
            allowed.add(ANY)
            continue
        if part.lower() == "false":
            continue
        found = origin(part)
        if found is None:
            raise ValueError(f"{part!r} is not an http(s) URL with a host")
        allowed.add(found)
    return frozenset(allowed)


def is_loopback(host: str) -> bool:
    """An IP literal of the loopback network, or `localhost` (never resolved through DNS)."""
    name = host.strip("[]").lower()
    if name == "localhost":
        return True
    try:
        return ipaddress.ip_address(name).is_loopback
    except ValueError:
        return False


def endpoint_problem(url: str, allowed: Iterable[str] = ()) -> str | None:
    """Why the operator must not send signed requests to `url`, or None when it may."""
    found = origin(url)
    if found is None:
        return f"{url!r} is not an http(s) URL with a host"
    if found.startswith("https://"):
        return None
    host = found[len("http://") :].rsplit(":", 1)[0]
    granted = frozenset(allowed)
    if is_loopback(host) or ANY in granted or found in granted:
        return None
    return (
        f"{url} is plain HTTP to a host that is not loopback: the operator's credentials and "
        f"request bodies would cross the network unencrypted. Use https, or start the operator "
        f"with {ALLOW_FLAG}={found}"
    )
