"""nn.value_and_grad and nn.checkpoint: transforms over a model's trainable parameters."""

import functools

import tessera.core as mx


def value_and_grad(model, fn):
    """Returns ``fn(*args)`` and its gradient with respect to ``model.trainable_parameters()``."""

    def inner_fn(params, *args, **kwargs):
        model.update(params)
        return fn(*args, **kwargs)

    value_grad_fn = mx.value_and_grad(inner_fn)

    @functools.wraps(fn)
    def wrapped(*args, **kwargs):
        return value_grad_fn(model.trainable_parameters(), *args, **kwargs)

    return wrapped


def checkpoint(module, fn=None):
    """Calls ``module`` (or ``fn``) so that its backward pass recomputes intermediates."""
    if fn is None:
        fn = module.__call__

    def inner_fn(params, *args, **kwargs):
        module.update(params)
        return fn(*args, **kwargs)

    checkpointed = mx.checkpoint(inner_fn)

    @functools.wraps(fn)
    def wrapped(*args, **kwargs):
        return checkpointed(module.trainable_parameters(), *args, **kwargs)

    return wrapped
