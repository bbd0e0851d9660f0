"""STS in the Query protocol, as SDKs send it: a form-encoded POST answered with XML.

GetCallerIdentity, AssumeRole and AssumeRoleWithWebIdentity, with the shapes of botocore's STS
model (`sts/2011-06-15/service-2.json`): results wrapped in `<ActionResult>` under STS's namespace,
errors as `<ErrorResponse><Error><Type>Sender</Type><Code>...`. Keys issued here are in the role's
account (accounts.py); roles are all assumable unless denied (`/_emulator/sts`, `--deny-role`).
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from xml.sax.saxutils import escape

from hpo_emulator.accounts import ROLE_ARN, Accounts, Session
from hpo_emulator.scope import Scope, partition_of

NAMESPACE = "https://sts.amazonaws.com/doc/2011-06-15/"
VERSION = "2011-06-15"
CONTENT_TYPE = "text/xml"
USER = "emulator"
DEFAULT_DURATION = 3600  # AssumeRole's default DurationSeconds
MIN_DURATION, MAX_DURATION = 900, 43200  # roleDurationSecondsType in botocore's model
EXPIRED = "The security token included in the request is expired"


@dataclass(frozen=True)
class Reply:
    """One Query answer: HTTP status, XML body, and the outcome the statistics count."""

    status: int
    body: str
    outcome: str


class _Refused(Exception):
    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(message)
        self.status, self.code, self.message = status, code, message


def is_query_request(content_type: str, form: Mapping[str, str]) -> bool:
    """Whether a POST is a Query-protocol call (form-encoded, with an Action)."""
    return content_type.startswith("application/x-www-form-urlencoded") and "Action" in form


def caller_arn(scope: Scope) -> str:
    """The principal of a request: the assumed role of an issued key, else the emulator's user."""
    if scope.session is not None:
        return scope.session.arn
    return f"arn:{partition_of(scope.region)}:iam::{scope.account}:user/{USER}"


def answer(form: Mapping[str, str], scope: Scope, accounts: Accounts, now: float) -> Reply:
    """The reply to one Query request."""
    request_id = str(uuid.uuid4())
    action = form.get("Action", "")
    try:
        if action not in _ACTIONS or form.get("Version", VERSION) != VERSION:
            version = form.get("Version", VERSION)
            raise _Refused(
                400, "InvalidAction", f"Could not find operation {action} for version {version}"
            )
        result = _ACTIONS[action](form, scope, accounts, now)
    except _Refused as err:
        return Reply(err.status, _error(err.code, err.message, request_id), err.code)
    return Reply(
        200,
        f'<{action}Response xmlns="{NAMESPACE}">\n'
        f"  <{action}Result>\n{result}  </{action}Result>\n"
        "  <ResponseMetadata>\n"
        f"    <RequestId>{request_id}</RequestId>\n"
        "  </ResponseMetadata>\n"
        f"</{action}Response>\n",
        "ok",
    )


def _check_expired(scope: Scope, now: float) -> None:
    if scope.session is not None and now >= scope.session.expires:
        raise _Refused(400, "ExpiredToken", EXPIRED)


def _get_caller_identity(form: Mapping[str, str], scope: Scope, _: Accounts, now: float) -> str:
    _check_expired(scope, now)
    if scope.session is not None:
        user_id = scope.session.assumed_role_id
    else:
        user_id = scope.access_key or "AIDAEMULATOREXAMPLE"
    return _elements(Arn=caller_arn(scope), UserId=user_id, Account=scope.account)


def _assume_role(form: Mapping[str, str], scope: Scope, accounts: Accounts, now: float) -> str:
    if not scope.access_key:
        raise _Refused(403, "MissingAuthenticationToken", "Request is missing Authentication Token")
    _check_expired(scope, now)
    role_arn, session_name, duration = _role_request(form)
    if role_arn in accounts.denied:
        raise _Refused(
            403,
            "AccessDenied",
            f"User: {caller_arn(scope)} is not authorized to perform: sts:AssumeRole on "
            f"resource: {role_arn}",
        )
    return _issued(accounts.issue(role_arn, session_name, duration, now, web_identity=False))


def _assume_role_with_web_identity(
    form: Mapping[str, str], scope: Scope, accounts: Accounts, now: float
) -> str:
    token = form.get("WebIdentityToken")
    if token is None:
        raise _Refused(400, "ValidationError", _null("webIdentityToken"))
    if len(token) < 4:
        raise _Refused(
            400,
            "ValidationError",
            "1 validation error detected: Value at 'webIdentityToken' failed to satisfy "
            "constraint: Member must have length greater than or equal to 4",
        )
    role_arn, session_name, duration = _role_request(form)
    if role_arn in accounts.denied:
        raise _Refused(
            403, "AccessDenied", "Not authorized to perform sts:AssumeRoleWithWebIdentity"
        )
    return _issued(accounts.issue(role_arn, session_name, duration, now, web_identity=True))


def _role_request(form: Mapping[str, str]) -> tuple[str, str, int]:
    """RoleArn, RoleSessionName and DurationSeconds, checked as botocore's model bounds them."""
    role_arn = form.get("RoleArn")
    session_name = form.get("RoleSessionName")
    if role_arn is None:
        raise _Refused(400, "ValidationError", _null("roleArn"))
    if session_name is None:
        raise _Refused(400, "ValidationError", _null("roleSessionName"))
    problems: list[str] = []
    if len(role_arn) < 20:
        problems.append(_broken(role_arn, "roleArn", "have length greater than or equal to 20"))
    if not 2 <= len(session_name) <= 64:
        bound = (
            "greater than or equal to 2" if len(session_name) < 2 else "less than or equal to 64"
        )
        problems.append(_broken(session_name, "roleSessionName", f"have length {bound}"))
    elif not re.fullmatch(r"[\w+=,.@-]*", session_name, re.ASCII):
        problems.append(
            _broken(
                session_name, "roleSessionName", "satisfy regular expression pattern: [\\w+=,.@-]*"
            )
        )
    text = form.get("DurationSeconds", str(DEFAULT_DURATION))
    try:
        duration = int(text)
    except ValueError:
        raise _Refused(
            400, "MalformedInput", f"Invalid value for parameter DurationSeconds: {text}"
        ) from None
    if duration < MIN_DURATION:
        problems.append(
            _broken(text, "durationSeconds", f"have value greater than or equal to {MIN_DURATION}")
        )
    elif duration > MAX_DURATION:
        problems.append(
            _broken(text, "durationSeconds", f"have value less than or equal to {MAX_DURATION}")
        )
    if problems:
        count = f"{len(problems)} validation error{'s' if len(problems) > 1 else ''} detected: "
        raise _Refused(400, "ValidationError", count + "; ".join(problems))
    if ROLE_ARN.fullmatch(role_arn) is None:
        # The emulator's words: AWS answers a malformed or non-role ARN with a ValidationError too.
        raise _Refused(
            400,
            "ValidationError",
            f"{role_arn} is not a valid role ARN (arn:PARTITION:iam::ACCOUNT:role/NAME)",
        )
    return role_arn, session_name, duration


def _null(member: str) -> str:
    return (
        f"1 validation error detected: Value null at '{member}' failed to satisfy constraint: "
        "Member must not be null"
    )


def _broken(value: str, member: str, constraint: str) -> str:
    return f"Value '{value}' at '{member}' failed to satisfy constraint: Member must {constraint}"


def _issued(session: Session) -> str:
    expiration = datetime.fromtimestamp(session.expires, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    return (
        "    <AssumedRoleUser>\n"
        + _elements(AssumedRoleId=session.assumed_role_id, Arn=session.arn, indent=6)
        + "    </AssumedRoleUser>\n"
        "    <Credentials>\n"
        + _elements(
            AccessKeyId=session.access_key,
            SecretAccessKey=session.secret_key,
            SessionToken=session.token,
            Expiration=expiration,
            indent=6,
        )
        + "    </Credentials>\n"
    )


def _elements(indent: int = 4, **values: str) -> str:
    pad = " " * indent
    return "".join(f"{pad}<{k}>{escape(v)}</{k}>\n" for k, v in values.items())


_ACTIONS = {
    "GetCallerIdentity": _get_caller_identity,
    "AssumeRole": _assume_role,
    "AssumeRoleWithWebIdentity": _assume_role_with_web_identity,
}


def _error(code: str, message: str, request_id: str) -> str:
    return (
        f'<ErrorResponse xmlns="{NAMESPACE}">\n'
        "  <Error>\n"
        "    <Type>Sender</Type>\n"
        f"    <Code>{escape(code)}</Code>\n"
        f"    <Message>{escape(message)}</Message>\n"
        "  </Error>\n"
        f"  <RequestId>{request_id}</RequestId>\n"
        "</ErrorResponse>\n"
    )
