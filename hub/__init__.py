"""The hub's runtime around the workflows: settings, logging, the client backends use, and the embedded
stack that `make run` starts."""
