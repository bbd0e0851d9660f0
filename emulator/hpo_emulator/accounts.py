"""Which account an access key is in, and the sessions the emulator's STS issued.

The rule, first match wins (README, "SageMaker emulator"):

1. a key this emulator's STS issued (AssumeRole, AssumeRoleWithWebIdentity; kept in the state
   file) is in the account of the role it was issued for, and expires when its Expiration says;
2. a key of `EmulatorConfig.accounts` (`--access-key-account KEY=ACCOUNT`) is in that account;
3. a key ending in exactly twelve digits (after a non-digit, or nothing: `AKIATEST210987654321`,
   `team-210987654321`, `210987654321`) is in the account those digits name; the keys the
   emulator issues have this form too (`ASIA` + four letters + the account), so they keep their
   account even where rule 1 has forgotten them (a restart without a state file);
4. any other key, and an unsigned request, is in `EmulatorConfig.account_id`.
"""

from __future__ import annotations

import hashlib
import math
import random
import re
import string
from collections.abc import Iterable, Mapping
from dataclasses import asdict, dataclass, replace
from typing import Any

from hpo_emulator.config import EmulatorConfig

# An IAM role ARN: arn:PARTITION:iam::ACCOUNT:role/[PATH/]NAME
ROLE_ARN = re.compile(
    r"arn:(?P<partition>aws[a-z-]*):iam::(?P<account>\d{12}):role/"
    r"(?P<path>(?:[\w+=,.@-]+/)*)(?P<name>[\w+=,.@-]{1,64})"
)
_TRAILING_ACCOUNT = re.compile(r"(?:^|\D)(?P<account>\d{12})$")
KEEP_EXPIRED = 3600.0  # seconds an expired session is still remembered (then rule 3 applies)


@dataclass(frozen=True)
class Session:
    """Temporary credentials the emulator's STS issued for a role."""

    access_key: str
    secret_key: str
    token: str
    role_arn: str
    session_name: str
    expires: float  # epoch seconds, whole (AWS's Expiration has no fraction)
    web_identity: bool = False

    @property
    def account(self) -> str:
        """The role's account: every call signed with this key is in it."""
        return _role(self.role_arn)["account"]

    @property
    def arn(self) -> str:
        """The assumed-role ARN GetCallerIdentity answers: `arn:aws:sts::ACCOUNT:assumed-role/
        ROLE/SESSION`."""
        role = _role(self.role_arn)
        return (
            f"arn:{role['partition']}:sts::{role['account']}:assumed-role/{role['name']}/"
            f"{self.session_name}"
        )

    @property
    def assumed_role_id(self) -> str:
        """`ROLEID:SESSION`, the role's ID derived from its ARN (stable across runs)."""
        return f"{role_id(self.role_arn)}:{self.session_name}"


def _role(arn: str) -> dict[str, str]:
    found = ROLE_ARN.fullmatch(arn)
    if found is None:
        raise ValueError(f"not a role ARN: {arn!r}")
    return found.groupdict()


def role_id(arn: str) -> str:
    """A role's unique ID, as IAM shows it (`AROA` + 17 characters), derived from its ARN."""
    digest = hashlib.sha256(arn.encode()).digest()
    alphabet = string.ascii_uppercase + "234567"
    return "AROA" + "".join(alphabet[b % 32] for b in digest[:17])


def is_role_arn(arn: str) -> bool:
    """Whether `arn` names an IAM role."""
    return ROLE_ARN.fullmatch(arn) is not None


class Accounts:
    """The access-key-to-account rule, the issued sessions and the roles that cannot be assumed."""

    def __init__(self, config: EmulatorConfig) -> None:
        self.config = config
        self.sessions: dict[str, Session] = {}  # access key -> session
        self.denied: set[str] = set(config.denied_roles)
        self.changes = 0  # bumped on every change the state file must keep
        self._rng = random.SystemRandom()

    def account_of(self, access_key: str) -> tuple[str, Session | None]:
        """The account of a key (rules 1 to 4 above) and its session if the emulator issued it."""
        session = self.sessions.get(access_key)
        if session is not None:
            return session.account, session
        if access_key in self.config.accounts:
            return self.config.accounts[access_key], None
        found = _TRAILING_ACCOUNT.search(access_key)
        if found is not None:
            return found["account"], None
        return self.config.account_id, None

    def issue(
        self, role_arn: str, session_name: str, duration: int, now: float, web_identity: bool
    ) -> Session:
        """New credentials for a role; `session_seconds`, when set, overrides the duration."""
        self._forget_expired(now)
        seconds = self.config.session_seconds or float(duration)
        letters = "".join(self._rng.choice(string.ascii_uppercase) for _ in range(4))
        account = _role(role_arn)["account"]
        session = Session(
            access_key=f"ASIA{letters}{account}",
            secret_key=self._token(40),
            token=self._token(64),
            role_arn=role_arn,
            session_name=session_name,
            expires=float(math.floor(now + seconds)),
            web_identity=web_identity,
        )
        self.sessions[session.access_key] = session
        self.changes += 1
        return session

    def _token(self, length: int) -> str:
        alphabet = string.ascii_letters + string.digits + "+/"
        return "".join(self._rng.choice(alphabet) for _ in range(length))

    def _forget_expired(self, now: float) -> None:
        old = [k for k, s in self.sessions.items() if s.expires < now - KEEP_EXPIRED]
        for key in old:
            del self.sessions[key]
        if old:
            self.changes += 1

    def expire(self, role_arns: Iterable[str], now: float) -> int:
        """End the sessions of these roles now (their keys answer ExpiredToken); how many."""
        wanted = set(role_arns)
        ended = 0
        for key, session in list(self.sessions.items()):
            if session.role_arn in wanted and session.expires > now:
                self.sessions[key] = replace(session, expires=float(math.floor(now)))
                ended += 1
        if ended:
            self.changes += 1
        return ended

    # ----- the control endpoint -----------------------------------------------------------------
    def document(self, now: float) -> dict[str, Any]:
        """What `GET /_emulator/sts` shows."""
        return {
            "denied_roles": sorted(self.denied),
            "session_seconds": self.config.session_seconds,
            "sessions": [
                {
                    "access_key": s.access_key,
                    "account": s.account,
                    "role_arn": s.role_arn,
                    "session_name": s.session_name,
                    "expires": s.expires,
                    "expired": s.expires <= now,
                    "web_identity": s.web_identity,
                }
                for s in self.sessions.values()
            ],
        }

    def update(self, body: Mapping[str, Any], now: float) -> None:
        """Apply a `POST /_emulator/sts` document; unknown keys and non-role ARNs are errors."""
        known = {"deny_roles", "allow_roles", "expire_roles", "session_seconds"}
        unknown = set(body) - known
        if unknown:
            raise ValueError(f"unknown keys: {', '.join(sorted(unknown))}")
        lists: dict[str, list[str]] = {}
        for key in ("deny_roles", "allow_roles", "expire_roles"):
            value = body.get(key) or []
            if not isinstance(value, list) or not all(isinstance(a, str) for a in value):
                raise ValueError(f"{key} must be a list of role ARNs")
            bad = [a for a in value if not is_role_arn(a)]
            if bad:
                raise ValueError(f"{key}: not role ARNs (arn:aws:iam::ACCOUNT:role/NAME): {bad}")
            lists[key] = value
        if "session_seconds" in body:
            seconds = body["session_seconds"]
            if seconds is not None and not float(seconds) > 0:
                raise ValueError("session_seconds must be > 0 or null")
            self.config.session_seconds = None if seconds is None else float(seconds)
        self.denied.update(lists["deny_roles"])
        self.denied.difference_update(lists["allow_roles"])
        self.expire(lists["expire_roles"], now)

    # ----- persistence --------------------------------------------------------------------------
    def to_state(self) -> list[dict[str, Any]]:
        """The issued sessions, for the state file."""
        return [asdict(s) for s in self.sessions.values()]

    def load_state(self, items: Iterable[Mapping[str, Any]]) -> None:
        """Sessions from a state file (one without any, as older emulators wrote, has none)."""
        for item in items:
            session = Session(
                access_key=str(item["access_key"]),
                secret_key=str(item["secret_key"]),
                token=str(item["token"]),
                role_arn=str(item["role_arn"]),
                session_name=str(item["session_name"]),
                expires=float(item["expires"]),
                web_identity=bool(item.get("web_identity", False)),
            )
            self.sessions[session.access_key] = session
