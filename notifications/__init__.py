"""What the hub says to customers: notices decided by workflows, rendered into words per locale."""
