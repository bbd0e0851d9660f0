"""STS in the Query protocol, as SDKs send it: a form-encoded POST answered with XML.

Only GetCallerIdentity is served (ACK's controller calls it at start); the account comes from the
access key (see scope.py), so AssumeRole can later map keys to other accounts.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from xml.sax.saxutils import escape

from hpo_emulator.scope import Scope, partition_of

NAMESPACE = "https://sts.amazonaws.com/doc/2011-06-15/"
VERSION = "2011-06-15"
CONTENT_TYPE = "text/xml"
USER = "emulator"


def is_query_request(content_type: str, form: Mapping[str, str]) -> bool:
    """Whether a POST is a Query-protocol call (form-encoded, with an Action)."""
    return content_type.startswith("application/x-www-form-urlencoded") and "Action" in form


def answer(form: Mapping[str, str], scope: Scope) -> tuple[int, str]:
    """HTTP status and XML body for one Query request."""
    request_id = str(uuid.uuid4())
    action = form.get("Action", "")
    if action != "GetCallerIdentity":
        return 400, _error(
            "InvalidAction", f"Could not find operation {action} for version {VERSION}", request_id
        )
    if form.get("Version", VERSION) != VERSION:
        return 400, _error(
            "InvalidAction",
            f"Could not find operation {action} for version {form.get('Version')}",
            request_id,
        )
    arn = f"arn:{partition_of(scope.region)}:iam::{scope.account}:user/{USER}"
    user_id = scope.access_key or "AIDAEMULATOREXAMPLE"
    return 200, (
        f'<GetCallerIdentityResponse xmlns="{NAMESPACE}">\n'
        "  <GetCallerIdentityResult>\n"
        f"    <Arn>{escape(arn)}</Arn>\n"
        f"    <UserId>{escape(user_id)}</UserId>\n"
        f"    <Account>{escape(scope.account)}</Account>\n"
        "  </GetCallerIdentityResult>\n"
        "  <ResponseMetadata>\n"
        f"    <RequestId>{request_id}</RequestId>\n"
        "  </ResponseMetadata>\n"
        "</GetCallerIdentityResponse>\n"
    )


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
