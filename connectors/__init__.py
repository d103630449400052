"""Temporal-free adapters to the systems the hub talks to: ports (``ports.py``), one error taxonomy
(``errors.py``) and one adapter module per upstream protocol."""
