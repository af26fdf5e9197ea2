"""Dashboard pages; each has PATH and layout(lang=..., **query) and registers its callbacks."""
