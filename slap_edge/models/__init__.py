"""models stage of slap-edge."""
