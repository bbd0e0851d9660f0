"""ACK's role maps for cross-account resources, read from the operator's namespace by name.

`ack-role-account-map` (and, with team-level CARM, `ack-role-team-map`) are read with a GET each
when a reconcile needs them and the last read is older than `carm_refresh` seconds (ACK requeues a
resource whose role is missing every 15 s; a resource blocked on a missing role here is looked at
again every poll interval). A failed read keeps the last answer and is logged once per failure
streak; before any answer, the maps count as absent, so nothing is sent for a namespace that needs
them. The decisions are `core.accounts`'s.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import replace
from pathlib import Path

from hpo_operator.core.types import RoleMaps
from hpo_operator.identity import ROLE_ACCOUNT_MAP, ROLE_TEAM_MAP

log = logging.getLogger("hpo_operator.carm")

ACK_SYSTEM_NAMESPACE = "ack-system"  # ACK's default when ACK_SYSTEM_NAMESPACE is not set
SERVICE_ACCOUNT_NAMESPACE = Path("/var/run/secrets/kubernetes.io/serviceaccount/namespace")

Read = Callable[[str, str], Awaitable[Mapping[str, str] | None]]


def carm_namespace(given: str | None, own: Path = SERVICE_ACCOUNT_NAMESPACE) -> str:
    """Where the role maps live: the setting, else the operator's own namespace (in a pod), else
    ACK's default."""
    if given:
        return given
    try:
        found = own.read_text().strip()
    except OSError:
        found = ""
    return found or ACK_SYSTEM_NAMESPACE


class RoleMapSource:
    """The role maps as last read, refreshed at most every `refresh` seconds."""

    def __init__(
        self,
        read: Read,
        namespace: str,
        *,
        teams: bool,
        refresh: float,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._read = read
        self.namespace = namespace
        self._teams = teams
        self._refresh = refresh
        self._clock = clock
        self._maps = RoleMaps()
        self._at: float | None = None
        self._failing = False
        self._lock = asyncio.Lock()

    async def __call__(self) -> RoleMaps:
        if self._at is not None and self._clock() - self._at < self._refresh:
            return self._maps
        async with self._lock:
            if self._at is not None and self._clock() - self._at < self._refresh:
                return self._maps
            try:
                accounts = await self._read(self.namespace, ROLE_ACCOUNT_MAP)
                teams = await self._read(self.namespace, ROLE_TEAM_MAP) if self._teams else None
            except Exception as error:
                if not self._failing:
                    log.warning(
                        "cannot read the role maps in namespace %s (%s: %s); keeping the last "
                        "answer",
                        self.namespace,
                        type(error).__name__,
                        error,
                    )
                self._failing = True
                self._maps = replace(self._maps, unreadable=f"{type(error).__name__}: {error}")
            else:
                self._maps = RoleMaps(
                    dict(accounts) if accounts is not None else None,
                    dict(teams) if teams is not None else None,
                )
                self._failing = False
            self._at = self._clock()
            return self._maps
