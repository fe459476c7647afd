"""The OCPP-J 1.6 CALLERROR codes as exceptions, and what a CALL of ours can end with.

A handler raises an OcppError subclass to answer with that CALLERROR; the schema layer raises
them for payloads that fail validation. The spellings are those of OCPP-J 1.6 §4.2.3, typos
included: FormationViolation and OccurenceConstraintViolation stay in 1.6 ([JE] §5).
"""

from __future__ import annotations

from typing import Any, ClassVar


class OcppError(Exception):
    """A failure that the other side is told about with a CALLERROR of `code`."""

    code: ClassVar[str] = "GenericError"

    def __init__(self, description: str = "", details: dict[str, Any] | None = None) -> None:
        super().__init__(description)
        self.description = description
        self.details: dict[str, Any] = details if details is not None else {}

    def __str__(self) -> str:
        return f"{self.code}: {self.description}" if self.description else self.code


class NotImplementedCall(OcppError):
    """The action is not known to the receiver (not an OCPP 1.6 action)."""

    code = "NotImplemented"


class NotSupported(OcppError):
    """The action is a 1.6 action, but this side does not support it."""

    code = "NotSupported"


class InternalError(OcppError):
    """The request was understood, but processing it failed."""

    code = "InternalError"


class ProtocolError(OcppError):
    """The payload is incomplete (a required field is missing), or the message is improper."""

    code = "ProtocolError"


class SecurityError(OcppError):
    """A security issue prevented processing the action."""

    code = "SecurityError"


class FormationViolation(OcppError):
    """The message or payload is syntactically wrong or does not fit the PDU structure."""

    code = "FormationViolation"


class PropertyConstraintViolation(OcppError):
    """A field has a value that is not allowed (enum, length, range, format)."""

    code = "PropertyConstraintViolation"


class OccurenceConstraintViolation(OcppError):
    """A field's cardinality is violated (too few or too many items)."""

    code = "OccurenceConstraintViolation"


class TypeConstraintViolation(OcppError):
    """A field has the wrong JSON type."""

    code = "TypeConstraintViolation"


class GenericError(OcppError):
    """Any other error."""

    code = "GenericError"


ERROR_CLASSES: dict[str, type[OcppError]] = {
    cls.code: cls
    for cls in (
        NotImplementedCall,
        NotSupported,
        InternalError,
        ProtocolError,
        SecurityError,
        FormationViolation,
        PropertyConstraintViolation,
        OccurenceConstraintViolation,
        TypeConstraintViolation,
        GenericError,
    )
}
"""The OcppError subclass for each 1.6 error code."""


class CallErrorReceived(Exception):
    """Our CALL was answered with a CALLERROR."""

    def __init__(
        self, action: str, code: str, description: str, details: dict[str, Any] | None = None
    ) -> None:
        super().__init__(f"{action} answered with {code}: {description}")
        self.action = action
        self.code = code
        self.description = description
        self.details: dict[str, Any] = details if details is not None else {}


class RpcTimeout(Exception):
    """No answer to our CALL arrived within the response timeout."""

    def __init__(self, action: str, timeout: float) -> None:
        super().__init__(f"no answer to {action} within {timeout:g} s")
        self.action = action
        self.timeout = timeout


class ConnectionLost(Exception):
    """The connection went away while a CALL waited, or there is no connection."""
