"""What every connector shares: the protocol, the registry, and helpers for reading inputs."""
