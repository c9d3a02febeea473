"""runtime stage of slap-edge."""
