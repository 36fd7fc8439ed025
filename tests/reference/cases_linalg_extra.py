"""NumPy reference cases: einsum, gather_mm, block_masked_mm, bfloat16/float16 GEMM."""
import numpy as np

from make_fixtures import Case, Input


def bf16_round(x):
    """float32 -> nearest bfloat16 (ties to even), returned as float32."""
    u = np.asarray(x, np.float32).view(np.uint32).astype(np.uint64)
    u = (u + 0x7FFF + ((u >> 16) & 1)) & 0xFFFF0000
    return u.astype(np.uint32).view(np.float32)


def einsum_cases(rng):
    f32 = np.float32

    def r(*shape):
        return rng.standard_normal(shape).astype(f32)

    specs = [
        ("matmul_implicit", "ij,jk", [r(5, 7), r(7, 3)]),
        ("matmul_explicit", "ij,jk->ik", [r(5, 7), r(7, 3)]),
        ("matmul_transposed_out", "ij,jk->ki", [r(4, 6), r(6, 5)]),
        ("diag", "ii->i", [r(5, 5)]),
        ("trace_implicit", "ii", [r(6, 6)]),
        ("trace_explicit", "ii->", [r(6, 6)]),
        ("sum_all", "ij->", [r(4, 7)]),
        ("sum_axis", "ij->j", [r(4, 7)]),
        ("transpose", "ij->ji", [r(3, 5)]),
        ("implicit_sorted", "ba", [r(2, 3)]),
        ("implicit_upper_first", "Ba", [r(2, 3)]),
        ("permute3", "ijk->kji", [r(2, 3, 4)]),
        ("identity", "ij", [r(3, 4)]),
        ("dot", "i,i", [r(9), r(9)]),
        ("dot_explicit", "i,i->", [r(9), r(9)]),
        ("outer", "i,j->ij", [r(4), r(5)]),
        ("outer_implicit", "i,j", [r(4), r(5)]),
        ("hadamard", "ij,ij->ij", [r(3, 4), r(3, 4)]),
        ("frobenius", "ij,ij->", [r(3, 4), r(3, 4)]),
        ("elementwise_vec", "i,i->i", [r(6), r(6)]),
        ("batched_matmul", "bij,bjk->bik", [r(3, 4, 5), r(3, 5, 2)]),
        ("attention_scores", "bhqd,bhkd->bhqk", [r(2, 3, 5, 8), r(2, 3, 7, 8)]),
        ("attention_values", "bhqk,bhkd->bhqd", [r(2, 3, 5, 7), r(2, 3, 7, 8)]),
        ("ellipsis_matmul", "...ij,...jk->...ik", [r(2, 3, 4, 5), r(3, 5, 6)]),
        ("ellipsis_broadcast1", "...ij,...jk->...ik", [r(2, 1, 4, 5), r(3, 5, 6)]),
        ("ellipsis_no_batch", "...ij,...jk->...ik", [r(4, 5), r(5, 6)]),
        ("ellipsis_implicit", "...ij,...jk", [r(2, 4, 5), r(2, 5, 6)]),
        ("ellipsis_middle", "i...j,j...k->...ik", [r(3, 2, 4), r(4, 2, 5)]),
        ("ellipsis_sum_letter", "i...->...", [r(3, 4, 5)]),
        ("ellipsis_trailing", "i...,i...->...", [r(3, 1), r(3, 4)]),
        ("ellipsis_identity", "...->...", [r(2, 3)]),
        ("ellipsis_dot_bcast", "...j,...j->...", [r(2, 3), r(5, 1, 3)]),
        ("chain3", "ij,jk,kl->il", [r(3, 40), r(40, 50), r(50, 2)]),
        ("chain3_implicit", "ij,jk,kl", [r(6, 4), r(4, 5), r(5, 3)]),
        ("tensor_contract", "abc,cd,de->abe", [r(2, 3, 4), r(4, 5), r(5, 6)]),
        ("contract_two_axes", "ijk,jkl->il", [r(3, 4, 5), r(4, 5, 6)]),
        ("repeated_then_sum", "iij->j", [r(3, 3, 4)]),
        ("repeated_three", "iii->i", [r(4, 4, 4)]),
        ("repeated_across", "ii,ij->j", [r(4, 4), r(4, 3)]),
        ("batch_diag", "bii->bi", [r(2, 3, 3)]),
        ("mixed_batch_free", "bi,bj->bij", [r(3, 4), r(3, 5)]),
        ("bilinear", "bn,anm,bm->ba", [r(2, 3), r(4, 3, 5), r(2, 5)]),
        ("size1_label_bcast", "ij,jk", [r(2, 1), r(3, 4)]),
        ("scalar_operand", ",ij->ij", [np.array(2.5, f32), r(2, 3)]),
        ("spaces", "ij , jk -> ik", [r(2, 3), r(3, 4)]),
        ("uppercase", "Ab,bA->A", [r(3, 4), r(4, 3)]),
        ("sum_unused_label", "ij,k->i", [r(3, 4), r(5)]),
    ]
    for name, subs, ops in specs:
        want = np.einsum(subs.replace(" ", ""), *[o.astype(np.float64) for o in ops])
        yield Case(f"einsum_{name}", "einsum", ops, np.asarray(want, np.float32), params={"subscripts": subs},
                   rtol=1e-4, atol=1e-4)
    a = rng.standard_normal((4, 6))
    b = rng.standard_normal((6, 3))
    yield Case("einsum_float64", "einsum", [a, b], np.einsum("ij,jk->ik", a, b), params={"subscripts": "ij,jk->ik"},
               rtol=1e-12, atol=1e-12, dtype="float64")
    ai = rng.integers(-5, 5, size=(3, 4)).astype(np.int32)
    bi = rng.integers(-5, 5, size=(4, 2)).astype(np.int32)
    yield Case("einsum_int32", "einsum", [ai, bi], np.einsum("ij,jk->ik", ai, bi).astype(np.int32),
               params={"subscripts": "ij,jk->ik"}, rtol=0, atol=0, dtype="int32")
    yield Case("einsum_int32_trace", "einsum", [ai[:3, :3]], np.einsum("ii", ai[:3, :3]).astype(np.int32),
               params={"subscripts": "ii"}, rtol=0, atol=0)
    h = rng.standard_normal((8, 16)).astype(np.float16)
    g = rng.standard_normal((16, 4)).astype(np.float16)
    yield Case("einsum_float16", "einsum", [h, g],
               (h.astype(np.float32) @ g.astype(np.float32)).astype(np.float16),
               params={"subscripts": "ij,jk->ik"}, rtol=3e-3, atol=3e-3, dtype="float16")
    p = r(3, 4)
    q = r(4, 2)
    yield Case("einsum_transposed_view", "einsum", [Input(p, view="T"), q], np.einsum("ij,jk->ik", p, q),
               params={"subscripts": "ij,jk->ik"}, rtol=1e-5, atol=1e-5)

    errs = [
        ("too_few_operands", "ij,jk", [r(2, 3)]),
        ("too_many_operands", "ij", [r(2, 3), r(3, 2)]),
        ("bad_char", "i1,1k", [r(2, 3), r(3, 2)]),
        ("bad_dot", "..ij", [r(2, 3)]),
        ("two_ellipses", "...i...", [r(2, 3)]),
        ("two_arrows", "ij->i->j", [r(2, 3)]),
        ("lone_dash", "ij-i", [r(2, 3)]),
        ("size_mismatch", "ij,jk", [r(3, 4), r(5, 6)]),
        ("repeat_size_mismatch", "ii", [r(2, 3)]),
        ("too_many_labels", "ijk", [r(2, 3)]),
        ("too_few_labels", "i", [r(2, 3)]),
        ("unknown_output", "ij->k", [r(2, 3)]),
        ("repeated_output", "ij->ii", [r(2, 2)]),
        ("output_missing_ellipsis", "...i->i", [r(2, 3)]),
        ("comma_in_output", "ij->i,j", [r(2, 3)]),
    ]
    for name, subs, ops in errs:
        yield Case(f"einsum_error_{name}", "einsum", ops, [], params={"subscripts": subs}, error="invalid_argument")


def gather_mm_cases(rng):
    f32 = np.float32
    a = rng.standard_normal((5, 4, 6)).astype(f32)
    b = rng.standard_normal((3, 6, 7)).astype(f32)
    li = np.array([0, 4, 2, 2, 1], np.int32)
    ri = np.array([2, 0, 1, 1, 0], np.int32)
    yield Case("gather_mm_both", "gather_mm", [a, b, li, ri], a[li] @ b[ri], params={"lhs": True, "rhs": True},
               rtol=1e-5, atol=1e-5)
    ri_sorted = np.sort(ri)
    yield Case("gather_mm_sorted", "gather_mm", [a, b, li, ri_sorted], a[li] @ b[ri_sorted],
               params={"lhs": True, "rhs": True, "sorted": True}, rtol=1e-5, atol=1e-5)
    # Broadcast index shapes: (2, 1) with (3,) -> batch (2, 3).
    li2 = np.array([[1], [3]], np.int32)
    ri2 = np.array([0, 2, 1], np.uint32)
    yield Case("gather_mm_broadcast_indices", "gather_mm", [a, b, li2, ri2], a[li2] @ b[ri2],
               params={"lhs": True, "rhs": True}, rtol=1e-5, atol=1e-5)
    # Only rhs indices: lhs defaults to every batch entry of a in order.
    x = rng.standard_normal((4, 2, 6)).astype(f32)
    ri3 = np.array([2, 2, 0, 1], np.int64)
    yield Case("gather_mm_rhs_only", "gather_mm", [x, b, ri3], x @ b[ri3], params={"rhs": True}, rtol=1e-5,
               atol=1e-5)
    # MoE-like: one token row per expert selection, a with no batch dims broadcast via index 0.
    tok = rng.standard_normal((6, 1, 6)).astype(f32)
    experts = rng.standard_normal((4, 6, 5)).astype(f32)
    sel = rng.integers(0, 4, size=(6, 2)).astype(np.int32)
    tok_idx = np.repeat(np.arange(6, dtype=np.int32)[:, None], 2, axis=1)
    yield Case("gather_mm_moe", "gather_mm", [tok, experts, tok_idx, sel], tok[tok_idx] @ experts[sel],
               params={"lhs": True, "rhs": True}, rtol=1e-5, atol=1e-5)
    # Multi-dimensional batch of a and b is flattened before indexing.
    a4 = rng.standard_normal((2, 3, 4, 5)).astype(f32)
    b4 = rng.standard_normal((2, 2, 5, 3)).astype(f32)
    li4 = np.array([5, 0, 3], np.int32)
    ri4 = np.array([1, 3, 2], np.int32)
    yield Case("gather_mm_flat_batch", "gather_mm", [a4, b4, li4, ri4],
               a4.reshape(-1, 4, 5)[li4] @ b4.reshape(-1, 5, 3)[ri4], params={"lhs": True, "rhs": True},
               rtol=1e-5, atol=1e-5)
    yield Case("gather_mm_no_indices", "gather_mm", [a[:3], b], a[:3] @ b, params={}, rtol=1e-5, atol=1e-5)
    yield Case("gather_mm_float_indices", "gather_mm", [a, b, li.astype(f32), ri], [],
               params={"lhs": True, "rhs": True}, error="invalid_argument")
    yield Case("gather_mm_shape_mismatch", "gather_mm", [a, a, li, ri], [], params={"lhs": True, "rhs": True},
               error="invalid_argument")
    yield Case("gather_mm_index_shape_mismatch", "gather_mm", [a, b, li, ri[:3]], [],
               params={"lhs": True, "rhs": True}, error="invalid_argument")


def expand_mask(m, bs, rows, cols):
    e = np.repeat(np.repeat(m, bs, axis=-2), bs, axis=-1)
    return e[..., :rows, :cols]


def block_masked_ref(a, b, bs, mo=None, ml=None, mr=None):
    a = a.astype(np.float64)
    b = b.astype(np.float64)
    M, K = a.shape[-2:]
    N = b.shape[-1]
    if ml is not None:
        e = expand_mask(ml, bs, M, K)
        a = np.where(e, a, 0) if e.dtype == np.bool_ else a * e
    if mr is not None:
        e = expand_mask(mr, bs, K, N)
        b = np.where(e, b, 0) if e.dtype == np.bool_ else b * e
    c = a @ b
    if mo is not None:
        e = expand_mask(mo, bs, M, N)
        c = np.where(e, c, 0) if e.dtype == np.bool_ else c * e
    return c.astype(np.float32)


def block_masked_cases(rng):
    f32 = np.float32
    bs = 32
    a = rng.standard_normal((96, 70)).astype(f32)   # tm=3, tk=3
    b = rng.standard_normal((70, 80)).astype(f32)   # tn=3
    mo = rng.random((3, 3)) > 0.4
    ml = rng.random((3, 3)) > 0.3
    mr = rng.random((3, 3)) > 0.3
    yield Case("block_masked_mm_all", "block_masked_mm", [a, b, mo, ml, mr], block_masked_ref(a, b, bs, mo, ml, mr),
               params={"block_size": bs, "masks": ["out", "lhs", "rhs"]}, rtol=1e-4, atol=1e-4)
    yield Case("block_masked_mm_out_only", "block_masked_mm", [a, b, mo], block_masked_ref(a, b, bs, mo=mo),
               params={"block_size": bs, "masks": ["out"]}, rtol=1e-4, atol=1e-4)
    yield Case("block_masked_mm_lhs_rhs", "block_masked_mm", [a, b, ml, mr], block_masked_ref(a, b, bs, ml=ml, mr=mr),
               params={"block_size": bs, "masks": ["lhs", "rhs"]}, rtol=1e-4, atol=1e-4)
    # Float masks scale blocks.
    mlf = rng.random((3, 3)).astype(f32)
    yield Case("block_masked_mm_float_mask", "block_masked_mm", [a, b, mlf], block_masked_ref(a, b, bs, ml=mlf),
               params={"block_size": bs, "masks": ["lhs"]}, rtol=1e-4, atol=1e-4)
    # Batched with broadcast batch dims and block size 64.
    ab = rng.standard_normal((2, 1, 100, 64)).astype(f32)   # tm=2, tk=1
    bb = rng.standard_normal((3, 64, 130)).astype(f32)      # tn=3
    mob = rng.random((2, 3, 2, 3)) > 0.5
    mlb = rng.random((2, 1, 2, 1)) > 0.3
    yield Case("block_masked_mm_batched", "block_masked_mm", [ab, bb, mob, mlb],
               block_masked_ref(ab, bb, 64, mo=mob, ml=mlb), params={"block_size": 64, "masks": ["out", "lhs"]},
               rtol=1e-4, atol=1e-4)
    # Masked-out blocks are zero even over inf.
    ai = a.copy()
    ai[0, 0] = np.inf
    ml0 = np.ones((3, 3), bool)
    ml0[0, 0] = False
    yield Case("block_masked_mm_masks_inf", "block_masked_mm", [ai, b, ml0], block_masked_ref(ai, b, bs, ml=ml0),
               params={"block_size": bs, "masks": ["lhs"]}, rtol=1e-4, atol=1e-4)
    yield Case("block_masked_mm_no_masks", "block_masked_mm", [a, b], a @ b, params={"block_size": bs, "masks": []},
               rtol=1e-4, atol=1e-4)
    yield Case("block_masked_mm_bad_block", "block_masked_mm", [a, b, mo], [],
               params={"block_size": 16, "masks": ["out"]}, error="invalid_argument")
    yield Case("block_masked_mm_bad_mask_shape", "block_masked_mm", [a, b, mo[:2]], [],
               params={"block_size": bs, "masks": ["out"]}, error="invalid_argument")
    yield Case("block_masked_mm_vector", "block_masked_mm", [a[0], b, mo], [],
               params={"block_size": bs, "masks": ["out"]}, error="invalid_argument")


def half_gemm_cases(rng):
    f32 = np.float32
    shapes = [((64, 64), (64, 64)), ((65, 33), (33, 17)), ((128, 256), (256, 96)), ((512, 512), (512, 512)),
              ((3, 64, 128), (128, 80)), ((2, 1, 64, 48), (3, 48, 64))]
    for sa, sb in shapes:
        a = rng.standard_normal(sa).astype(f32)
        b = rng.standard_normal(sb).astype(f32)
        tag = f"{sa}_{sb}".replace(" ", "")
        ar, br = bf16_round(a), bf16_round(b)
        want = ar.astype(np.float64) @ br.astype(np.float64)
        yield Case(f"matmul_bf16_{tag}", "matmul", [Input(a, cast="bfloat16"), Input(b, cast="bfloat16")],
                   want.astype(f32), rtol=1e-2, atol=1e-2, dtype="bfloat16")
        a16, b16 = a.astype(np.float16), b.astype(np.float16)
        want16 = a16.astype(np.float64) @ b16.astype(np.float64)
        yield Case(f"matmul_f16_{tag}", "matmul", [a16, b16], want16.astype(np.float16), rtol=3e-3, atol=1e-2,
                   dtype="float16")
    # Transposed operands (column-major views) and a strided one.
    a = rng.standard_normal((96, 160)).astype(f32)
    b = rng.standard_normal((160, 72)).astype(f32)
    want = bf16_round(a).astype(np.float64) @ bf16_round(b).astype(np.float64)
    yield Case("matmul_bf16_T_inputs", "matmul",
               [Input(a, view="T", cast="bfloat16"), Input(b, view="T", cast="bfloat16")], want.astype(f32),
               rtol=1e-2, atol=1e-2, dtype="bfloat16")
    yield Case("matmul_bf16_strided", "matmul", [Input(a, view="step2", cast="bfloat16"), Input(b, cast="bfloat16")],
               want.astype(f32), rtol=1e-2, atol=1e-2, dtype="bfloat16")
    a16, b16 = a.astype(np.float16), b.astype(np.float16)
    want16 = a16.astype(np.float64) @ b16.astype(np.float64)
    yield Case("matmul_f16_T_inputs", "matmul", [Input(a16, view="T"), Input(b16, view="T")], want16.astype(np.float16),
               rtol=3e-3, atol=1e-2, dtype="float16")
    # addmm in bfloat16 (alpha, beta through the primitive's scale and sum post-op).
    c = rng.standard_normal((96, 72)).astype(f32)
    want = 0.5 * (bf16_round(a).astype(np.float64) @ bf16_round(b).astype(np.float64)) + 2.0 * bf16_round(c)
    yield Case("addmm_bf16", "addmm", [Input(c, cast="bfloat16"), Input(a, cast="bfloat16"), Input(b, cast="bfloat16")],
               want.astype(f32), params={"alpha": 0.5, "beta": 2.0}, rtol=1e-2, atol=2e-2, dtype="bfloat16")
    want16 = 0.5 * (a16.astype(np.float64) @ b16.astype(np.float64)) + 2.0 * c.astype(np.float16)
    yield Case("addmm_f16", "addmm", [c.astype(np.float16), a16, b16], want16.astype(np.float16),
               params={"alpha": 0.5, "beta": 2.0}, rtol=3e-3, atol=2e-2, dtype="float16")


def cases(rng):
    yield from einsum_cases(rng)
    yield from gather_mm_cases(rng)
    yield from block_masked_cases(rng)
    yield from half_gemm_cases(rng)
