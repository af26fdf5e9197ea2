"""Command groups of the `cityops` CLI; each module has `register(subparsers)`."""
