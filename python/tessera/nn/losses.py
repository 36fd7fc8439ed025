"""Loss functions with MLX's signatures and default reductions."""

import math

import tessera.core as mx


def _reduce(loss, reduction="none"):
    if reduction == "mean":
        return mx.mean(loss)
    if reduction == "sum":
        return mx.sum(loss)
    if reduction == "none":
        return loss
    raise ValueError("Invalid reduction. Must be 'none', 'mean', or 'sum'.")


def cross_entropy(logits, targets, weights=None, axis=-1, label_smoothing=0.0, reduction="none"):
    """Cross entropy of ``logits`` with class indices (one fewer dimension) or probabilities
    (the logits' shape) as ``targets``."""
    if label_smoothing < 0 or label_smoothing >= 1:
        raise ValueError(f"Label smoothing must in [0, 1), got {label_smoothing}.")
    probs = targets.ndim == logits.ndim
    if not probs and targets.ndim != logits.ndim - 1:
        raise ValueError(f"Targets shape {targets.shape} does not match logits shape {logits.shape}.")
    if probs:
        score = mx.sum(logits * targets, axis=axis)
    else:
        score = mx.take_along_axis(logits, mx.expand_dims(targets, axis), axis).squeeze(axis)
    logsumexp_logits = mx.logsumexp(logits, axis=axis)
    if label_smoothing > 0:
        adjusted_score = (1 - label_smoothing) * score
        mean_logits = logits.mean(axis=axis)
        loss = logsumexp_logits - adjusted_score - label_smoothing * mean_logits
    else:
        loss = logsumexp_logits - score
    if weights is not None:
        if weights.shape != loss.shape:
            raise ValueError(f"Weights with shape {weights.shape} is not the same as output loss with shape "
                             f"{loss.shape}.")
        loss = loss * weights
    return _reduce(loss, reduction)


def binary_cross_entropy(inputs, targets, weights=None, with_logits=True, reduction="mean"):
    if inputs.shape != targets.shape:
        raise ValueError(f"Inputs shape {inputs.shape} does not match targets shape {targets.shape}.")
    if with_logits:
        loss = mx.logaddexp(0.0, inputs) - inputs * targets
    else:
        log_inputs_clip = mx.clip(mx.log(inputs), a_min=-100, a_max=None)
        log_inputs_inv_clip = mx.clip(mx.log(1 - inputs), a_min=-100, a_max=None)
        loss = -(targets * log_inputs_clip + (1 - targets) * log_inputs_inv_clip)
    if weights is not None:
        loss = loss * weights
    return _reduce(loss, reduction)


def l1_loss(predictions, targets, reduction="mean"):
    if predictions.shape != targets.shape:
        raise ValueError(f"Predictions shape {predictions.shape} does not match targets shape {targets.shape}.")
    return _reduce(mx.abs(predictions - targets), reduction)


def mse_loss(predictions, targets, reduction="mean"):
    if predictions.shape != targets.shape:
        raise ValueError(f"Predictions shape {predictions.shape} does not match targets shape {targets.shape}.")
    return _reduce(mx.square(predictions - targets), reduction)


def nll_loss(inputs, targets, axis=-1, reduction="none"):
    loss = -mx.take_along_axis(inputs, mx.expand_dims(targets, axis), axis).squeeze(axis)
    return _reduce(loss, reduction)


def gaussian_nll_loss(inputs, targets, vars, full=False, eps=1e-6, reduction="mean"):
    vars = mx.maximum(vars, eps)
    loss = 0.5 * (mx.log(vars) + mx.square(targets - inputs) / vars)
    if full:
        loss = loss + 0.5 * math.log(2 * math.pi)
    return _reduce(loss, reduction)


def kl_div_loss(inputs, targets, axis=-1, reduction="none"):
    """KL divergence with log-probabilities as both ``inputs`` and ``targets``."""
    loss = mx.sum(mx.exp(targets) * (targets - inputs), axis)
    return _reduce(loss, reduction)


def smooth_l1_loss(predictions, targets, beta=1.0, reduction="mean"):
    if predictions.shape != targets.shape:
        raise ValueError(f"Predictions shape {predictions.shape} does not match targets shape {targets.shape}.")
    diff = mx.abs(predictions - targets)
    loss = mx.where(diff < beta, 0.5 * mx.square(diff) / beta, diff - 0.5 * beta)
    return _reduce(loss, reduction)


def triplet_loss(anchors, positives, negatives, axis=-1, p=2, margin=1.0, eps=1e-6, reduction="none"):
    pos = mx.sqrt(mx.power(anchors - positives, p).sum(axis) + eps)
    neg = mx.sqrt(mx.power(anchors - negatives, p).sum(axis) + eps)
    return _reduce(mx.maximum(pos - neg + margin, 0), reduction)


def hinge_loss(inputs, targets, reduction="none"):
    return _reduce(mx.maximum(1 - inputs * targets, 0), reduction)


def huber_loss(inputs, targets, delta=1.0, reduction="none"):
    errors = inputs - targets
    abs_errors = mx.abs(errors)
    quadratic = mx.minimum(abs_errors, delta)
    linear = abs_errors - quadratic
    return _reduce(0.5 * quadratic**2 + delta * linear, reduction)


def log_cosh_loss(inputs, targets, reduction="none"):
    errors = inputs - targets
    loss = mx.logaddexp(errors, -errors) - math.log(2)
    return _reduce(loss, reduction)


def cosine_similarity_loss(x1, x2, axis=1, eps=1e-8, reduction="none"):
    x1_norm = mx.sqrt(mx.sum(mx.square(x1), axis=axis))
    x2_norm = mx.sqrt(mx.sum(mx.square(x2), axis=axis))
    loss = mx.sum(x1 * x2, axis=axis) / mx.maximum(x1_norm * x2_norm, eps)
    return _reduce(loss, reduction)


def margin_ranking_loss(inputs1, inputs2, targets, margin=0.0, reduction="none"):
    if not (inputs1.shape == inputs2.shape == targets.shape):
        raise ValueError(f"The shapes of the arguments do not match. The provided shapes are inputs1.shape="
                         f"{inputs1.shape}, inputs2.shape={inputs2.shape}, and targets.shape={targets.shape}.")
    return _reduce(mx.maximum(-targets * (inputs1 - inputs2) + margin, 0), reduction)
