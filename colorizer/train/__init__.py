"""Training and evaluation of colourisers (no Qt imports)."""
