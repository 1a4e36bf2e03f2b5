"""One error tree for the whole product.

Edges map these to their own language: the CLI prints one line and exits non-zero,
the API answers with RFC 9457 problem JSON (422 / 404 / 409 / 403 / 202).
Every message says what is wrong and, where it can, how to fix it.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Self


class CustMDMError(Exception):
    """Base of every error the library raises on purpose."""

    exit_code = 1

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message

    def __str__(self) -> str:
        return self.message

    def prefixed(self, context: str) -> Self:
        """The same error (same class) with ``context`` in front of its message."""
        return self._with_message(f"{context}{self.message}")

    def suffixed(self, context: str) -> Self:
        """The same error (same class) with ``context`` after its message."""
        return self._with_message(f"{self.message}{context}")

    def _with_message(self, message: str) -> Self:
        clone = self._clone()
        clone.message = message
        clone.args = (message,)
        return clone

    def _clone(self) -> Self:
        # Not copy.copy: it calls __init__ again with the message alone, which errors
        # that take other arguments (UnknownReference) refuse.
        clone = type(self).__new__(type(self))
        clone.__dict__.update(self.__dict__)
        clone.args = self.args
        return clone


class ValidationError(CustMDMError, ValueError):
    """Input that cannot be accepted as it is (HTTP 422)."""

    exit_code = 2
    #: What kind of rule the input broke (the API's ``rule``); subclasses say more.
    rule = "invalid"
    #: The input field at fault (``identifiers.0``), where the use case knows it.
    field: str | None = None

    def at(self, field: str) -> Self:
        """The same error, saying it is about ``field`` (an inner field, set first,
        stays)."""
        if self.field is not None:
            return self
        clone = self._clone()
        clone.field = field
        return clone


@contextmanager
def in_field(field: str) -> Iterator[None]:
    """Validation errors raised inside the block are about ``field``."""
    try:
        yield
    except ValidationError as error:
        raise error.at(field) from None


class InvalidFormat(ValidationError):
    """A value has the wrong shape (characters, layout)."""

    rule = "format"


class InvalidLength(InvalidFormat):
    """A value has the wrong length."""

    rule = "length"


class InvalidChecksum(ValidationError):
    """A value's check character does not match: most likely a typing error."""

    rule = "checksum"


class InvalidComponent(ValidationError):
    """A part of a value is not one of its allowed values."""

    rule = "choice"


class PatternSyntaxError(ValidationError):
    """A coding-rule pattern cannot be used; ``position`` is 0-based in the pattern."""

    rule = "pattern"

    def __init__(self, message: str, pattern: str, position: int) -> None:
        super().__init__(f"{message} (at position {position + 1} of {pattern!r})")
        self.pattern = pattern
        self.position = position


class RuleViolation(ValidationError):
    """A configured rule (coding, naming, validation) refuses the input; names the rule."""

    rule = "configured_rule"


class UnknownReference(ValidationError):
    """A code that must exist in reference data (region, industry, country) does not."""

    rule = "reference"

    def __init__(self, what: str, value: str, suggestions: Sequence[str] = ()) -> None:
        hint = f"; did you mean {', '.join(suggestions)}?" if suggestions else ""
        super().__init__(f"unknown {what} {value!r}{hint}")
        self.what = what
        self.value = value
        self.suggestions = list(suggestions)


class NotFound(CustMDMError):
    """The thing asked for does not exist (HTTP 404)."""

    exit_code = 3


class Conflict(CustMDMError):
    """The change clashes with the current state: duplicate, stale version, code taken (409)."""

    exit_code = 4


class StaleVersion(Conflict):
    """The change was made against a version of the customer that is no longer current
    (HTTP 412 when it came with If-Match): read it again and redo the change."""


class CounterExhausted(Conflict):
    """A coding rule's counter has reached its width; counters never wrap."""


class PermissionDenied(CustMDMError):
    """The actor may not do this (HTTP 403)."""

    exit_code = 5


class ApprovalRequired(CustMDMError):
    """The change was recorded as a change request and waits for approval (HTTP 202)."""

    exit_code = 6

    def __init__(self, message: str, request_id: int | None = None) -> None:
        super().__init__(message)
        self.request_id = request_id


class ConfigurationError(CustMDMError):
    """The installation is not set up to do this: a key file missing or not matching the
    register, a setting that cannot be used (HTTP 500: the operator must fix it)."""

    exit_code = 7
