"""Training: builds on araquote.inference, never the reverse."""
