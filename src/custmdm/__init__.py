"""CustMDM: the customer master-data and customer-coding hub."""

__version__ = "0.1.0"
