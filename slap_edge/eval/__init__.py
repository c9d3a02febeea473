"""eval stage of slap-edge."""
