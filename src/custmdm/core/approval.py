"""Where maker-checker approval plugs in.

Governed changes (change of code, retirement, later merges and renames) ask the policy
first. Until governance lands, :class:`NoApprovalNeeded` lets every change through; a
policy that wants a second pair of eyes raises :class:`custmdm.errors.ApprovalRequired`
after recording a change request.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Protocol


class ApprovalPolicy(Protocol):
    """Decides whether a governed change may be applied now."""

    def check(self, actor_name: str, action: str, details: Mapping[str, Any]) -> None:
        """Return to apply the change now; raise ApprovalRequired to hold it."""


class NoApprovalNeeded:
    """Every change applies at once (the default until governance is configured)."""

    def check(self, actor_name: str, action: str, details: Mapping[str, Any]) -> None:
        return None
