"""What the API tests share: customers to post, and the check of a problem response."""

from __future__ import annotations

from typing import Any

HUASHENG = {"kind": "enterprise", "legal_name": "深圳市华盛电子科技有限公司",
            "region": "440305", "identifiers": [{"scheme": "cn.uscc",
                                                 "value": "914403001922038216"}]}
PERSON = {"kind": "individual", "legal_name": "张伟", "region": "110105",
          "identifiers": [{"scheme": "cn.ric", "value": "11010519491231002X"}],
          "phones": ["138 0013 8000"]}


def problem(response: Any, status: int, slug: str) -> dict[str, Any]:
    """The body of an RFC 9457 problem response with ``status`` and type ``slug``; no
    stack trace in it."""
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == "application/problem+json"
    body: dict[str, Any] = response.json()
    assert body["type"] == f"/problems/{slug}" and body["status"] == status
    assert "Traceback" not in response.text
    return body
