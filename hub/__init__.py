"""Everything around the workflows, by audience: ``runtime`` (what the worker and the API run on), ``client``
(the Python client backends use), ``cli`` (the operator's ``hub`` command), ``dev`` (the local stack) and
``verify`` (bench and chaos)."""
