"""``fg.nn``: layers, activations and losses on NCHW arrays (composites of lax primitives)."""
