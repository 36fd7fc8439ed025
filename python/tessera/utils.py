"""Pytree helpers (MLX's ``mlx.utils``): trees are nested lists, tuples and dicts; everything
else is a leaf."""

from collections import defaultdict


def tree_map(fn, tree, *rest, is_leaf=None):
    """Applies ``fn`` to the leaves of ``tree`` (and the matching leaves of ``rest``)."""
    if is_leaf is not None and is_leaf(tree):
        return fn(tree, *rest)
    if isinstance(tree, (list, tuple)):
        kind = type(tree)
        return kind(tree_map(fn, child, *(r[i] for r in rest), is_leaf=is_leaf) for i, child in enumerate(tree))
    if isinstance(tree, dict):
        return {k: tree_map(fn, child, *(r[k] for r in rest), is_leaf=is_leaf) for k, child in tree.items()}
    return fn(tree, *rest)


def tree_map_with_path(fn, tree, *rest, is_leaf=None, path=None):
    """Like ``tree_map`` but ``fn`` also receives the dotted path of each leaf."""
    if is_leaf is not None and is_leaf(tree):
        return fn(path, tree, *rest)
    if isinstance(tree, (list, tuple)):
        prefix = f"{path}." if path else ""
        kind = type(tree)
        return kind(
            tree_map_with_path(fn, child, *(r[i] for r in rest), is_leaf=is_leaf, path=f"{prefix}{i}")
            for i, child in enumerate(tree)
        )
    if isinstance(tree, dict):
        prefix = f"{path}." if path else ""
        return {
            k: tree_map_with_path(fn, child, *(r[k] for r in rest), is_leaf=is_leaf, path=f"{prefix}{k}")
            for k, child in tree.items()
        }
    return fn(path, tree, *rest)


def tree_flatten(tree, prefix="", is_leaf=None):
    """The leaves of ``tree`` as ``(path, leaf)`` pairs with dotted paths ("layers.0.weight")."""
    out = []

    def walk(t, path):
        if (is_leaf is None or not is_leaf(t)) and isinstance(t, (list, tuple)):
            for i, child in enumerate(t):
                walk(child, f"{path}.{i}")
        elif (is_leaf is None or not is_leaf(t)) and isinstance(t, dict):
            for k, child in t.items():
                walk(child, f"{path}.{k}")
        else:
            out.append((path[1:], t))

    walk(tree, prefix)
    return out


def tree_unflatten(tree):
    """Rebuilds a tree from ``(path, leaf)`` pairs; levels whose keys are all integers become lists."""
    if len(tree) == 1 and tree[0][0] == "":
        return tree[0][1]

    children = defaultdict(list)
    for key, value in tree:
        current, _, rest = key.partition(".")
        children[current].append((rest, value))

    try:
        indices = {int(k): k for k in children}
    except ValueError:
        return {k: tree_unflatten(v) for k, v in children.items()}
    out = [None] * (max(indices) + 1)
    for i, k in indices.items():
        out[i] = tree_unflatten(children[k])
    return out


def tree_reduce(fn, tree, initializer=None, is_leaf=None):
    """Folds ``fn(accumulator, leaf)`` over the leaves of ``tree``."""
    acc = initializer
    first = initializer is None
    for _, leaf in tree_flatten(tree, is_leaf=is_leaf):
        if first:
            acc, first = leaf, False
        else:
            acc = fn(acc, leaf)
    return acc


def tree_merge(tree_a, tree_b, merge_fn=None):
    """Merges two trees whose leaves do not overlap (``merge_fn`` decides where they do)."""
    if isinstance(tree_a, (dict, list, tuple)) and len(tree_a) == 0:
        return tree_b
    if isinstance(tree_b, (dict, list, tuple)) and len(tree_b) == 0:
        return tree_a
    if isinstance(tree_a, (list, tuple)) and isinstance(tree_b, (list, tuple)):
        if len(tree_a) != len(tree_b):
            raise ValueError("Trees contain sequences of different lengths.")
        return type(tree_a)(tree_merge(a, b, merge_fn) for a, b in zip(tree_a, tree_b))
    if isinstance(tree_a, dict) and isinstance(tree_b, dict):
        out = dict(tree_a)
        for k, v in tree_b.items():
            out[k] = tree_merge(tree_a[k], v, merge_fn) if k in tree_a else v
        return out
    if tree_a is None:
        return tree_b
    if tree_b is None:
        return tree_a
    if merge_fn is None:
        raise ValueError("Trees contain elements at the same locations but no merge function was provided.")
    return merge_fn(tree_a, tree_b)
