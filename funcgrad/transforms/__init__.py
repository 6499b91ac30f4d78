"""The transforms, one interpreter per module: ``ad`` (jvp, vjp, grad, Jacobians),
``batching`` (vmap), ``custom`` (custom_jvp, custom_vjp, checkpoint, stop_gradient)."""
