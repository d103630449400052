"""Verification of the hub as a whole: ``make bench`` (:mod:`hub.verify.bench`), ``make chaos``
(:mod:`hub.verify.chaos`) and the billed Temporal actions read from a history (:mod:`hub.verify.actions`)."""
