"""train stage of slap-edge."""
