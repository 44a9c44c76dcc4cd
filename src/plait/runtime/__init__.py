"""The durable runtime: executes one run by replaying recorded steps and recording new ones."""
