"""The `kisdb` CLI commands, one module each, every one with a `register(app)`."""
