"""The live twin: follow a running batch, forecast its end with intervals, recommend set points."""
