"""Reference data shipped with CustMDM: regions (GB/T 2260), countries (ISO 3166-1) and
industries (GB/T 4754-2017), each read lazily from a TSV file in ``data/``."""
