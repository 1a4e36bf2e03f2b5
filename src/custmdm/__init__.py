"""CustMDM: the customer master-data and customer-coding hub.

>>> import custmdm
>>> register = custmdm.open_register("sqlite:///:memory:")  # doctest: +SKIP
"""

from custmdm.core.context import Actor
from custmdm.core.customers import CustomerDraft, CustomerRecord
from custmdm.core.registry import CustomerFilter
from custmdm.domain.identifiers import Identifier
from custmdm.register import Register, open_register

__version__ = "0.1.0"

__all__ = [
    "Actor",
    "CustomerDraft",
    "CustomerFilter",
    "CustomerRecord",
    "Identifier",
    "Register",
    "__version__",
    "open_register",
]
