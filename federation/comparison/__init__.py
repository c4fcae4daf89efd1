"""Site comparison for a process: parameter distributions per phase, outcomes and capability,
envelopes and equipment of two or more sites, as plot-ready data."""
