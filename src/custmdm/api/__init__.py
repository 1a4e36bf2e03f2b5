"""The REST API: FastAPI over the core use cases (see app.py)."""

from custmdm.api.app import create_app

__all__ = ["create_app"]
