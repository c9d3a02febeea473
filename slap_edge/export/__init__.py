"""export stage of slap-edge."""
