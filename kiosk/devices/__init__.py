"""One worker per device: the machine's effects become driver calls on the device's own
thread, and the drivers' news become session events (posted to the runner)."""
