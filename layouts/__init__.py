"""Pure view code: domain objects in, Dash components and figures out.

No I/O and no callbacks here; layouts never import queries.
"""
