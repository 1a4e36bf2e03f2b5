"""Security: keys, the audit chain's MAC, users and permissions, field encryption.

Pure logic and key handling only; what is stored lives in :mod:`custmdm.store`, and the
use cases that check permissions live in :mod:`custmdm.core`.
"""
