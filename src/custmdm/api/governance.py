"""Change requests (maker–checker) and the audit trail."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Path, Query

from custmdm.api.deps import RegisterDep
from custmdm.api.problems import PROBLEM_RESPONSES
from custmdm.api.responses import page
from custmdm.api.schemas import AuditEntryPublic, ChangeRequestPublic, Decision, Page, Reason
from custmdm.core.audit import AuditFilter

router = APIRouter(tags=["governance"], responses=PROBLEM_RESPONSES)
RequestId = Annotated[int, Path(ge=1, le=2**62, description="a change request's number")]


@router.get("/requests", response_model=Page[ChangeRequestPublic])
def list_requests(
    reg: RegisterDep,
    status: Annotated[str | None, Query(description="pending (default), applied, rejected, "
                                                    "conflict, withdrawn, or all")] = "pending",
    mine: bool = False, limit: Annotated[int, Query(ge=1, le=500)] = 50,
) -> Any:
    """One's own change requests and those one may approve, newest first."""
    found = reg.requests(None if status == "all" else status, mine=mine, limit=limit)
    return page(found)


@router.get("/requests/{request_id}", response_model=ChangeRequestPublic)
def get_request(request_id: RequestId, reg: RegisterDep) -> Any:
    return reg.request(request_id).to_dict()


@router.post("/requests/{request_id}/approve", response_model=ChangeRequestPublic)
def approve(request_id: RequestId, body: Decision, reg: RegisterDep) -> Any:
    """Apply the change as its requester would have (another user, with approve)."""
    return reg.approve(request_id, body.reason).to_dict()


@router.post("/requests/{request_id}/reject", response_model=ChangeRequestPublic)
def reject(request_id: RequestId, body: Reason, reg: RegisterDep) -> Any:
    return reg.reject(request_id, body.reason).to_dict()


@router.post("/requests/{request_id}/withdraw", response_model=ChangeRequestPublic)
def withdraw(request_id: RequestId, reg: RegisterDep) -> Any:
    """Take back one's own pending request."""
    return reg.withdraw(request_id).to_dict()


@router.get("/audit", response_model=Page[AuditEntryPublic])
def audit_log(
    reg: RegisterDep, actor: str | None = None,
    action: Annotated[str | None, Query(description="an action, or a family: customer.")]
    = None,
    code: Annotated[str | None, Query(description="any code the customer ever had")] = None,
    since: datetime | None = None, until: datetime | None = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 50,
) -> Any:
    """Audit entries, newest first (read_audit)."""
    found = reg.audit_log(AuditFilter(actor=actor, action=action, code=code, since=since,
                                      until=until, limit=limit))
    return page(found)


@router.get("/audit/verify")
def verify_audit(reg: RegisterDep,
                 anchor: Annotated[str | None, Query(description="SEQ:MAC")] = None,
                 ) -> dict[str, Any]:
    """Walk the audit chain: intact, or the first broken link."""
    report = reg.verify_audit(anchor)
    return {"intact": report.intact, "entries": report.entries, "last_seq": report.last_seq,
            "anchor": f"{report.last_seq}:{report.last_mac}", "broken_at": report.broken_at,
            "problem": report.problem}
