"""Who and where a request is: the account and region of its SigV4 credential scope.

An SDK signs each request with `Authorization: AWS4-HMAC-SHA256 Credential=AKID/DATE/REGION/
SERVICE/aws4_request, ...` (or, presigned, `X-Amz-Credential=` in the query). The emulator does
not check signatures; it reads the scope to pick the region's store, and the access key to pick
the account (the rule in accounts.py: keys its STS issued, the config's `accounts`, a key ending in
twelve digits, else the config's `account_id`).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from functools import cache

from botocore.loaders import create_loader

from hpo_emulator.accounts import Accounts, Session
from hpo_emulator.config import EmulatorConfig

_CREDENTIAL = re.compile(
    r"Credential=(?P<key>[^/,\s]+)/(?P<date>\d{8})/(?P<region>[^/,\s]+)/(?P<service>[^/,\s]+)"
    r"/aws4_request"
)


@dataclass(frozen=True)
class Scope:
    """The caller of one request: access key, account, region and signing service, and the
    session when the emulator's STS issued the key."""

    access_key: str
    account: str
    region: str
    service: str
    session: Session | None = None


def scope_of(
    headers: Mapping[str, str],
    query: Mapping[str, str],
    config: EmulatorConfig,
    accounts: Accounts | None = None,
) -> Scope:
    """The request's scope; an unsigned request is in the config's default account and region."""
    text = headers.get("Authorization", "")
    found = _CREDENTIAL.search(text)
    if found is None and "X-Amz-Credential" in query:
        found = _CREDENTIAL.search(f"Credential={query['X-Amz-Credential']}")
    if found is None:
        return Scope("", config.account_id, config.region, "")
    key = found["key"]
    account, session = (accounts or Accounts(config)).account_of(key)
    return Scope(key, account, found["region"], found["service"], session)


@cache
def _partitions() -> tuple[tuple[str, re.Pattern[str]], ...]:
    endpoints = create_loader().load_data("endpoints")
    return tuple(
        (str(p["partition"]), re.compile(str(p["regionRegex"])))
        for p in endpoints.get("partitions", ())
    )


@cache
def partition_of(region: str) -> str:
    """The ARN partition of a region, by botocore's endpoint data (`aws` when none claims it)."""
    for name, pattern in _partitions():
        if pattern.match(region):
            return name
    return "aws"
