"""dashboard: the composition root. The Dash app and the `cityops` CLI live here.

Importing this package is light: Dash is imported only by the pages that need it.
"""
