"""MLX's function transforms over Python functions and pytrees.

The C++ transforms work on flat lists of arrays; here the arguments (lists, tuples, dicts and
arrays, with any other leaves kept as constants) are flattened on the way in and the results are
rebuilt in the caller's structure on the way out.
"""

import copy
import functools

from tessera import _core
from tessera._core import array

# ---------------------------------------------------------------- flat trees
# A spec is None for a leaf, or (kind, keys, children, original) for a list, tuple or dict;
# `original` is kept for dict subclasses (an nn.Module passed as an argument) so that arguments
# are rebuilt as the same kind of object.


def _flatten(tree, leaves):
    if isinstance(tree, (list, tuple)):
        kind = type(tree) if type(tree) in (list, tuple) else tuple
        return (kind, None, [_flatten(t, leaves) for t in tree], None)
    if isinstance(tree, dict):
        keys = list(tree.keys())
        return (dict, keys, [_flatten(tree[k], leaves) for k in keys], None if type(tree) is dict else tree)
    leaves.append(tree)
    return None


def flatten(tree):
    leaves = []
    spec = _flatten(tree, leaves)
    return leaves, spec


def _unflatten(spec, it, preserve):
    if spec is None:
        return next(it)
    kind, keys, children, original = spec
    if kind is dict:
        if preserve and original is not None:
            # A shallow copy keeps the subclass and its attributes; its entries are replaced.
            out = copy.copy(original)
            for k, c in zip(keys, children):
                dict.__setitem__(out, k, _unflatten(c, it, preserve))
            return out
        return {k: _unflatten(c, it, preserve) for k, c in zip(keys, children)}
    return kind(_unflatten(c, it, preserve) for c in children)


def unflatten(spec, leaves, preserve=False):
    """Rebuilds a tree; with ``preserve`` dict subclasses come back as (copies of) themselves."""
    return _unflatten(spec, iter(leaves), preserve)


def _array_positions(leaves):
    return [i for i, leaf in enumerate(leaves) if isinstance(leaf, array)]


def _with_arrays(leaves, positions, arrays):
    out = list(leaves)
    for p, a in zip(positions, arrays):
        out[p] = a
    return out


def _spec_key(spec):
    """A hashable form of a spec (dict keys included, so a differently keyed tree retraces)."""
    if spec is None:
        return None
    kind, keys, children, original = spec
    sub = None if original is None else (type(original), id(original))
    return (kind, tuple(keys) if keys is not None else None, tuple(_spec_key(c) for c in children), sub)


def _constant_key(leaf):
    try:
        hash(leaf)
        return (type(leaf), leaf)
    except TypeError:
        return (type(leaf), id(leaf))


def _broadcast_prefix(prefix, tree, what):
    """One entry of ``prefix`` per leaf of ``tree`` (``prefix`` is a prefix tree of it)."""
    if prefix is None or isinstance(prefix, int):
        n = len(flatten(tree)[0])
        return [prefix] * n
    if isinstance(prefix, (list, tuple)) and isinstance(tree, (list, tuple)):
        if len(prefix) != len(tree):
            raise ValueError(f"[{what}] The axes tree has {len(prefix)} entries for {len(tree)} inputs or outputs.")
        out = []
        for p, t in zip(prefix, tree):
            out.extend(_broadcast_prefix(p, t, what))
        return out
    if isinstance(prefix, dict) and isinstance(tree, dict):
        out = []
        for k in tree:
            out.extend(_broadcast_prefix(prefix[k], tree[k], what))
        return out
    raise ValueError(f"[{what}] The axes {prefix!r} do not match the structure of the tree.")


# ---------------------------------------------------------------- autodiff


def _normalize_argnums(argnums, argnames, what):
    if isinstance(argnames, str):
        argnames = [argnames]
    argnames = list(argnames)
    if argnums is None and not argnames:
        argnums = 0
    single = isinstance(argnums, int)
    if argnums is None:
        nums = ()
    elif single:
        nums = (argnums,)
    else:
        nums = tuple(argnums)
    if len(set(nums)) != len(nums):
        raise ValueError(f"[{what}] Duplicate argnums {nums}.")
    return nums, single, argnames


def value_and_grad(fun, argnums=None, argnames=()):
    """Returns ``fun(*args)`` and the gradient of its first output (a scalar) with respect to the
    arguments in ``argnums`` and the keyword arguments in ``argnames``."""
    nums, single, names = _normalize_argnums(argnums, argnames, "value_and_grad")

    @functools.wraps(fun)
    def wrapper(*args, **kwargs):
        for i in nums:
            if i < -len(args) or i >= len(args):
                raise ValueError(
                    f"[value_and_grad] Can't compute the gradient of argument index {i} because the function is "
                    f"called with only {len(args)} positional arguments."
                )
        pos = [i % len(args) for i in nums]
        for n in names:
            if n not in kwargs:
                raise ValueError(
                    f"[value_and_grad] Can't compute the gradient of argument '{n}' because the function is called "
                    "without it."
                )
        leaves, spec = flatten(([args[i] for i in pos], {n: kwargs[n] for n in names}))
        for leaf in leaves:
            if not isinstance(leaf, array):
                raise ValueError(
                    "[value_and_grad] The arguments to differentiate must be arrays or trees of arrays; got "
                    f"{type(leaf).__name__}."
                )
        info = {}

        def call(sel):
            p, kw = sel
            a = list(args)
            for j, i in enumerate(pos):
                a[i] = p[j]
            k = dict(kwargs)
            k.update(kw)
            return fun(*a, **k)

        def inner(flat):
            out = call(unflatten(spec, flat, preserve=True))
            if isinstance(out, array):
                info["single"] = True
                return [out]
            if isinstance(out, (list, tuple)) and len(out) > 0 and isinstance(out[0], array):
                aux, aux_spec = flatten(list(out[1:]))
                positions = _array_positions(aux)
                info.update(single=False, kind=type(out), aux=aux, aux_spec=aux_spec, positions=positions)
                return [out[0]] + [aux[p] for p in positions]
            raise ValueError(
                "[value_and_grad] The return value of the function whose gradient we want to compute should be "
                f"either a scalar array or a tuple with the first value being a scalar array; got {type(out).__name__}."
            )

        if leaves:
            outs, grads = _core._value_and_grad(inner, leaves, list(range(len(leaves))))
        else:
            outs, grads = inner([]), []
        if info["single"]:
            value = outs[0]
        else:
            aux = unflatten(info["aux_spec"], _with_arrays(info["aux"], info["positions"], outs[1:]))
            value = info["kind"]([outs[0], *aux])
        g_pos, g_kw = unflatten(spec, grads)
        g = g_pos[0] if single else tuple(g_pos)
        if names:
            g = (g, g_kw)
        return value, g

    return wrapper


def grad(fun, argnums=None, argnames=()):
    """Returns a function computing the gradient of ``fun``'s scalar output (see value_and_grad)."""
    vg = value_and_grad(fun, argnums, argnames)

    @functools.wraps(fun)
    def wrapper(*args, **kwargs):
        return vg(*args, **kwargs)[1]

    return wrapper


def _as_output_list(out, what):
    if isinstance(out, array):
        return [out]
    if isinstance(out, (list, tuple)) and all(isinstance(o, array) for o in out):
        return list(out)
    raise ValueError(f"[{what}] The function must return an array or a list/tuple of arrays.")


def vjp(fun, primals, cotangents):
    """Computes ``fun(*primals)`` and the vector-Jacobian products of its outputs with
    ``cotangents``. Returns ``(outputs, vjps)`` as lists."""
    primals = list(primals)
    cotangents = list(cotangents)
    return _core._vjp(lambda flat: _as_output_list(fun(*flat), "vjp"), primals, cotangents)


def jvp(fun, primals, tangents):
    """Computes ``fun(*primals)`` and the Jacobian-vector products with ``tangents``. Returns
    ``(outputs, jvps)`` as lists."""
    primals = list(primals)
    tangents = list(tangents)
    return _core._jvp(lambda flat: _as_output_list(fun(*flat), "jvp"), primals, tangents)


# ---------------------------------------------------------------- vmap


def vmap(fun, in_axes=0, out_axes=0):
    """Vectorizes ``fun`` over an axis of its inputs. ``in_axes`` and ``out_axes`` are ints, None
    (not mapped) or prefix trees of the inputs / outputs."""

    @functools.wraps(fun)
    def wrapper(*args):
        leaves, spec = flatten(args)
        axes = _broadcast_prefix(tuple(in_axes) if isinstance(in_axes, list) else in_axes, args, "vmap")
        positions = _array_positions(leaves)
        inputs = [leaves[p] for p in positions]
        flat_axes = []
        for p in positions:
            ax = axes[p]
            if ax is None:
                flat_axes.append(-1)
                continue
            nd = leaves[p].ndim
            if ax < -nd or ax >= nd:
                raise ValueError(f"[vmap] Axis {ax} is out of range for an input with {nd} dimensions.")
            flat_axes.append(ax % nd)
        info = {}

        def inner(flat):
            out = fun(*unflatten(spec, _with_arrays(leaves, positions, flat), preserve=True))
            oleaves, ospec = flatten(out)
            opos = _array_positions(oleaves)
            info.update(leaves=oleaves, spec=ospec, positions=opos, out=out)
            return [oleaves[p] for p in opos]

        results = _core._vmap(inner, inputs, flat_axes, [])
        oaxes = _broadcast_prefix(out_axes, info["out"], "vmap")
        fixed = []
        for p, r in zip(info["positions"], results):
            ax = oaxes[p]
            if ax is None:
                # Not mapped: the output must not depend on the batch, so any entry will do.
                r = r[0]
            elif ax != 0:
                r = _core.moveaxis(r, 0, ax)
            fixed.append(r)
        return unflatten(info["spec"], _with_arrays(info["leaves"], info["positions"], fixed))

    return wrapper


# ---------------------------------------------------------------- compile


_MISSING = object()


def _replace_leaves_in_place(tree, arrays_iter):
    """Writes new arrays into the array leaves of the (mutable) containers of ``tree``; leaves
    past the end of ``arrays_iter`` (state the function added while tracing) stay as they are."""
    if isinstance(tree, list):
        for i, v in enumerate(tree):
            if isinstance(v, array):
                new = next(arrays_iter, _MISSING)
                if new is not _MISSING:
                    tree[i] = new
            else:
                _replace_leaves_in_place(v, arrays_iter)
    elif isinstance(tree, dict):
        for k, v in list(tree.items()):
            if isinstance(v, array):
                new = next(arrays_iter, _MISSING)
                if new is not _MISSING:
                    tree[k] = new
            else:
                _replace_leaves_in_place(v, arrays_iter)
    elif isinstance(tree, tuple):
        for v in tree:
            if isinstance(v, array):
                raise ValueError("[compile] Captured state must keep its arrays in lists or dicts, not tuples.")
            _replace_leaves_in_place(v, arrays_iter)


def _state_arrays(tree):
    if tree is None:
        return []
    leaves, _ = flatten(tree)
    return [leaf for leaf in leaves if isinstance(leaf, array)]


class _CompiledEntry:
    __slots__ = ("fn", "out_leaves", "out_spec", "out_positions", "n_state_out")


def compile(fun=None, inputs=None, outputs=None, shapeless=False):
    """Compiles ``fun``: traced once per input structure, dtypes and shapes (ranks if
    ``shapeless``), simplified and fused, then replayed. ``inputs`` / ``outputs`` are trees of
    captured state (e.g. a model's and an optimizer's) read before / written back after each call.
    Non-array arguments are constants of the trace: a new value traces again."""
    if fun is None:
        return functools.partial(compile, inputs=inputs, outputs=outputs, shapeless=shapeless)
    cache = {}

    @functools.wraps(fun)
    def wrapper(*args, **kwargs):
        leaves, spec = flatten((args, kwargs))
        positions = _array_positions(leaves)
        constants = tuple(_constant_key(leaf) for i, leaf in enumerate(leaves) if not isinstance(leaf, array))
        state_in = _state_arrays(inputs)
        key = (_spec_key(spec), tuple(positions), constants, len(state_in))
        entry = cache.get(key)
        if entry is None:
            entry = _CompiledEntry()
            n_args = len(positions)

            def traced(flat):
                saved = _state_arrays(inputs)
                if inputs is not None:
                    _replace_leaves_in_place(inputs, iter(flat[n_args:]))
                try:
                    a, k = unflatten(spec, _with_arrays(leaves, positions, flat[:n_args]), preserve=True)
                    out = fun(*a, **k)
                    oleaves, ospec = flatten(out)
                    opos = _array_positions(oleaves)
                    st = _state_arrays(outputs)
                finally:
                    if inputs is not None:
                        _replace_leaves_in_place(inputs, iter(saved))
                entry.out_leaves, entry.out_spec, entry.out_positions = oleaves, ospec, opos
                entry.n_state_out = len(st)
                return [oleaves[p] for p in opos] + st

            entry.fn = _core._compile(traced, shapeless)
            cache[key] = entry
        results = entry.fn([leaves[p] for p in positions] + state_in)
        n_out = len(entry.out_positions)
        if outputs is not None and entry.n_state_out:
            _replace_leaves_in_place(outputs, iter(results[n_out:]))
        return unflatten(entry.out_spec, _with_arrays(entry.out_leaves, entry.out_positions, results[:n_out]))

    return wrapper


# ---------------------------------------------------------------- checkpoint and custom functions


def _traced_call(make, fun, args, kwargs):
    """Calls ``fun`` through the flat C++ wrapper ``make(inner)``; returns its rebuilt outputs."""
    leaves, spec = flatten((args, kwargs))
    positions = _array_positions(leaves)
    info = {}

    def inner(flat):
        a, k = unflatten(spec, _with_arrays(leaves, positions, flat), preserve=True)
        out = fun(*a, **k)
        oleaves, ospec = flatten(out)
        opos = _array_positions(oleaves)
        info.update(leaves=oleaves, spec=ospec, positions=opos)
        return [oleaves[p] for p in opos]

    results = make(inner)([leaves[p] for p in positions])
    return unflatten(info["spec"], _with_arrays(info["leaves"], info["positions"], results)), info


def checkpoint(fun):
    """Rematerialization: gradients through ``fun`` recompute its intermediates from its inputs
    instead of keeping them from the forward pass."""

    @functools.wraps(fun)
    def wrapper(*args, **kwargs):
        return _traced_call(_core._checkpoint, fun, args, kwargs)[0]

    return wrapper


class custom_function:
    """A function with user-defined transforms (MLX's ``mx.custom_function``)::

        @mx.custom_function
        def f(x, y): ...

        @f.vjp
        def f_vjp(primals, cotangent, output): ...   # one cotangent per primal

        @f.jvp
        def f_jvp(primals, tangents): ...            # the output's tangent

        @f.vmap
        def f_vmap(inputs, axes): ...                # (outputs, output axes)
    """

    def __init__(self, fun):
        functools.update_wrapper(self, fun)
        self.fun = fun
        self._vjp = None
        self._jvp = None
        self._vmap = None

    def vjp(self, f):
        self._vjp = f
        return f

    def jvp(self, f):
        self._jvp = f
        return f

    def vmap(self, f):
        self._vmap = f
        return f

    def __call__(self, *args, **kwargs):
        leaves, spec = flatten(args)
        positions = _array_positions(leaves)
        info = {}

        def rebuild_args(flat):
            return unflatten(spec, _with_arrays(leaves, positions, flat), preserve=True)

        def rebuild_out(flat):
            out = unflatten(info["spec"], _with_arrays(info["leaves"], info["positions"], flat))
            return out

        def inner(flat):
            out = self.fun(*rebuild_args(flat), **kwargs)
            oleaves, ospec = flatten(out)
            opos = _array_positions(oleaves)
            info.update(leaves=oleaves, spec=ospec, positions=opos)
            return [oleaves[p] for p in opos]

        def per_primal(res):
            if len(args) == 1 and not isinstance(res, (list, tuple)):
                res = (res,)
            flat, _ = flatten(list(res))
            return [r for r in flat if isinstance(r, array)]

        vjp_fn = jvp_fn = vmap_fn = None
        if self._vjp is not None:

            def vjp_fn(primals, cotangents, outputs):
                return per_primal(self._vjp(rebuild_args(primals), rebuild_out(cotangents), rebuild_out(outputs)))

        if self._jvp is not None:

            def jvp_fn(primals, tangents, argnums):
                full = [_core.zeros_like(p) for p in primals]
                for i, t in zip(argnums, tangents):
                    full[i] = t
                res = self._jvp(rebuild_args(primals), rebuild_args(full))
                return _as_output_list(res, "custom_function")

        if self._vmap is not None:

            def vmap_fn(inputs, axes):
                ax = [None if a == -1 else a for a in axes]
                outs, out_axes = self._vmap(rebuild_args(inputs), rebuild_args(ax))
                outs = _as_output_list(outs, "custom_function")
                if isinstance(out_axes, int) or out_axes is None:
                    out_axes = [out_axes] * len(outs)
                return outs, [-1 if a is None else a for a in out_axes]

        fn = _core._custom_function(inner, vjp_fn, jvp_fn, vmap_fn)
        results = fn([leaves[p] for p in positions])
        return rebuild_out(results)
