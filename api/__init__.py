"""The HTTP face of the hub: the order API for backends and the signed webhooks upstreams push to."""
