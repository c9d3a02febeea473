"""bench stage of slap-edge."""
