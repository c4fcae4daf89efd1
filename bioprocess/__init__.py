"""Pure bioprocess domain logic (process twin, features, models) with no I/O."""
