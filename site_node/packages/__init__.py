"""Knowledge packages at the receiving site: verify, validate and import them as knowledge."""
