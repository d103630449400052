"""The benchmark: its figures and a tiny run of it (figures are not asserted on, only their shape)."""
