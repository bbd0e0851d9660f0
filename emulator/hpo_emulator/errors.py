"""AWS JSON 1.1 errors: the codes and HTTP statuses boto3 turns into `ClientError`s."""

from __future__ import annotations


class ApiError(Exception):
    """An error returned to the client as `{"__type": code, "message": ...}`."""

    def __init__(self, code: str, message: str, status: int = 400) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.status = status

    def body(self) -> dict[str, str]:
        """The JSON error document of the AWS JSON protocols."""
        return {"__type": self.code, "message": self.message}


def validation(message: str) -> ApiError:
    """A request that breaks a rule of the API (HTTP 400)."""
    return ApiError("ValidationException", message)


def not_found(message: str) -> ApiError:
    """A named resource that does not exist (HTTP 400, as SageMaker sends it)."""
    return ApiError("ResourceNotFound", message)


def in_use(message: str) -> ApiError:
    """A resource whose state forbids the operation (HTTP 400)."""
    return ApiError("ResourceInUse", message)


def limit_exceeded(message: str) -> ApiError:
    """An account or job limit that the request would exceed (HTTP 400)."""
    return ApiError("ResourceLimitExceeded", message)


def throttling(message: str = "Rate exceeded") -> ApiError:
    """A request over the operation's rate quota (HTTP 400; botocore retries it)."""
    return ApiError("ThrottlingException", message)


def access_denied(message: str) -> ApiError:
    """A caller without access to a resource (another account's), as IAM refuses it (HTTP 400)."""
    return ApiError("AccessDeniedException", message)


def expired_token(message: str) -> ApiError:
    """Temporary credentials past their Expiration (HTTP 400)."""
    return ApiError("ExpiredTokenException", message)


def internal(message: str = "An internal error occurred. Try again.") -> ApiError:
    """A server-side failure (HTTP 500; botocore retries it)."""
    return ApiError("InternalFailure", message, 500)


def unknown_operation(target: str) -> ApiError:
    """An X-Amz-Target that this emulator does not serve."""
    return ApiError(
        "UnknownOperationException",
        f"The operation {target or '(none)'} is not supported by the SageMaker emulator.",
    )
