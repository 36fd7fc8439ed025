#!/usr/bin/env python3
"""Tessera's benchmark suite in one run.

Runs, in this order and in one invocation (so every number comes from the same machine state):
  1. stream_probe          the machine's ceilings: STREAM copy/scale/add/triad/read bandwidth
                           (copy and add also with streaming stores; the limit is the better),
                           the measured core clock and FMA throughput (run again at the end; the
                           limits are the best of the two);
  2. the Google Benchmark programs (build/benchmarks/*_bench) with TESSERA_NUM_THREADS;
  3. benchmarks/peers.py   the same cases through NumPy and PyTorch (Debian's /usr/bin/python3).
On a shared machine other processes distort everything: the record says how much CPU they took
during the run (foreign_cpu_share), and --wait-idle S waits for a quiet moment first.
Then prints one table: Tessera's median, the best peer's median, the speed ratio
(best peer time / Tessera time: above 1 means Tessera is faster), and the percentage of the
physical limit each reaches, next to the issue's target (benchmarks/targets.json).

BLAS environment variants: OpenBLAS picks its kernels from OPENBLAS_CORETYPE at load time (and
OPENBLAS_L2_SIZE tunes blocking). The matmul cases therefore run per variant:
  as-is    the caller's environment;
  unset    both variables removed (run only when the caller set one of them);
  forced   OPENBLAS_CORETYPE=NAME (--openblas-coretype; "auto" picks SkylakeX when neither
           variable is set and the CPU has AVX-512, because OpenBLAS 0.3.21 does not recognise
           every new Xeon and otherwise falls back to its generic Prescott core).
Both Tessera (it calls OpenBLAS for matmul) and the peers run under each variant.

Writes benchmarks/results/latest.json (everything, raw results included). --json prints the same
summary as JSON on stdout instead of the table.
"""

import argparse
import datetime
import json
import os
import platform
import resource
import shutil
import statistics
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
MiB = 1024 * 1024
N16M = 16 * MiB

# The cases, as data. tessera: (binary, Google Benchmark run name); per: the median is divided by
# it (per-op numbers); work: bytes or FLOPs one call must move or do; limit: which ceiling the
# work is compared with ("stream:<kernel>" bandwidth, "flops" the FMA peak, None for overheads);
# peer_case: the peers.py case to compare with when it is not the case's own id.
CASES = [
    dict(id="add_16M", label="add f32 16M", tessera=("elementwise_bench", "BM_Add/real_time"),
         work=("bytes", 3 * N16M * 4), limit="stream:add"),
    dict(id="exp_16M", label="exp f32 16M", tessera=("elementwise_bench", "BM_Exp/real_time"),
         work=("bytes", 2 * N16M * 4), limit="stream:copy"),
    dict(id="chain5_16M", label="exp(2x+1)*x-0.5 f32 16M", tessera=("elementwise_bench", "BM_Chain5/real_time"),
         work=("bytes", 2 * N16M * 4), limit="stream:copy"),
    dict(id="sum_16M", label="sum f32 16M", tessera=("reduce_bench", "BM_Sum/real_time"),
         work=("bytes", N16M * 4), limit="stream:read"),
    dict(id="softmax_4096", label="softmax f32 4096x4096", tessera=("reduce_bench", "BM_Softmax/real_time"),
         work=("bytes", 2 * 4096 * 4096 * 4), limit="stream:copy"),
    dict(id="rms_norm_4096", label="rms_norm f32 4096x4096", tessera=("reduce_bench", "BM_RmsNorm/real_time"),
         work=("bytes", 2 * 4096 * 4096 * 4), limit="stream:copy"),
    dict(id="matmul_f32_2048", label="matmul f32 2048", tessera=("matmul_bench", "BM_MatmulF32/2048/real_time"),
         work=("flops", 2 * 2048 ** 3), limit="flops", blas=True),
    dict(id="matmul_f32_4096", label="matmul f32 4096", tessera=("matmul_bench", "BM_MatmulF32/4096/real_time"),
         work=("flops", 2 * 4096 ** 3), limit="flops", blas=True),
    dict(id="matmul_bf16_2048", label="matmul bf16 2048", tessera=("matmul_bench", "BM_MatmulBF16/2048/real_time"),
         work=("flops", 2 * 2048 ** 3), limit="flops", blas=True,
         limit_note="float32 FMA peak; AMX/AVX512-BF16 bf16 peaks are higher and not measured"),
    # compile (transforms issue): the same chain fused into one kernel; the first call of a fresh
    # compiled function (trace, simplify, fuse and run; the eager peers have no compile step, so
    # their row is their plain call); a cache hit of a compiled 100-op function on [16] (graph
    # replay, not evaluated; peers run the 100 ops, torch.jit calls a traced function).
    dict(id="chain5_16M_compiled", label="exp(2x+1)*x-0.5 f32 16M, compiled",
         tessera=("compile_bench", "BM_Chain5Compiled/real_time"), work=("bytes", 2 * N16M * 4), limit="stream:copy"),
    dict(id="compile_first_call_16M", label="  first call of a fresh compiled fn",
         tessera=("compile_bench", "BM_Chain5FirstCall/real_time"), peer_case="chain5_16M", work=None, limit=None),
    dict(id="compile_cache_hit_100", label="compiled 100-op fn [16], cache hit",
         tessera=("compile_bench", "BM_CacheHit100/real_time"), work=None, limit=None),
    dict(id="eval_1op_16", label="eval 1-op graph, 16 f32", tessera=("eval_overhead_bench", "BM_Eval1Op/real_time"),
         work=None, limit=None),
    dict(id="chain100_16", label="100-op chain, per op", tessera=("eval_overhead_bench", "BM_Chain100Eval/real_time"),
         per=100, work=None, limit=None),
    dict(id="chain100_build_16", label="  of which graph build, per op",
         tessera=("eval_overhead_bench", "BM_Chain100Build/real_time"), per=100, work=None, limit=None),
]

# Run first, in this order; any other built *_bench program (one per benchmarks/*_bench.cpp) runs
# after them and its results are listed as extra rows, without peers.
BINARIES = ["elementwise_bench", "reduce_bench", "matmul_bench", "eval_overhead_bench", "compile_bench"]
# Per-binary Google Benchmark settings: matmul 4096 takes up to seconds per call with a generic
# BLAS core, so each repetition is one call; everything else is short.
GB_SETTINGS = {"matmul_bench": dict(repetitions=5, min_time=0.1)}

BLAS_VARS = ("OPENBLAS_CORETYPE", "OPENBLAS_L2_SIZE")
UNIT_S = {"ns": 1e-9, "us": 1e-6, "ms": 1e-3, "s": 1.0}


def log(msg):
    print(f"[run_all {time.strftime('%H:%M:%S')}] {msg}", file=sys.stderr, flush=True)


def run(cmd, env, timeout):
    log(" ".join(cmd))
    p = subprocess.run(cmd, env=env, cwd=ROOT, capture_output=True, text=True, timeout=timeout)
    if p.returncode != 0:
        raise RuntimeError(f"{cmd[0]} exited with {p.returncode}:\n{p.stderr[-4000:]}")
    return p.stdout


# ---------------------------------------------------------------- machine facts
def machine_info():
    info = {"platform": platform.platform()}
    try:
        out = subprocess.run(["lscpu"], capture_output=True, text=True).stdout
        for line in out.splitlines():
            k, _, v = line.partition(":")
            if k.strip() in ("Model name", "CPU(s)", "Core(s) per socket", "Socket(s)", "Thread(s) per core",
                             "L2 cache", "L3 cache", "Hypervisor vendor", "Model", "CPU family"):
                info[k.strip()] = v.strip()
    except OSError:
        pass
    try:
        with open("/proc/meminfo") as f:
            for line in f:
                if line.startswith("MemTotal:"):
                    info["MemTotal_GiB"] = round(int(line.split()[1]) / MiB, 1)
    except OSError:
        pass
    try:
        with open("/proc/cpuinfo") as f:
            flags = next((ln.split(":", 1)[1].split() for ln in f if ln.startswith("flags")), [])
        info["avx512f"] = "avx512f" in flags
        info["amx_bf16"] = "amx_bf16" in flags
    except OSError:
        info["avx512f"] = False
    info["loadavg_at_start"] = os.getloadavg()
    return info


def git_info():
    def g(*a):
        try:
            return subprocess.run(["git", *a], cwd=ROOT, capture_output=True, text=True).stdout.strip()
        except OSError:
            return ""

    return {"commit": g("rev-parse", "HEAD"), "describe": g("log", "-1", "--format=%h %s"),
            "dirty": bool(g("status", "--porcelain", "--untracked-files=no"))}


def cpu_busy_s():
    """Busy CPU-seconds of the whole machine so far (all CPUs; steal included: the host took them)."""
    with open("/proc/stat") as f:
        v = [int(x) for x in f.readline().split()[1:]]
    user, nice, system, idle, iowait, irq, softirq, steal = (v + [0] * 8)[:8]
    return (user + nice + system + irq + softirq + steal) / os.sysconf("SC_CLK_TCK")


def own_children_cpu_s():
    r = resource.getrusage(resource.RUSAGE_CHILDREN)
    return r.ru_utime + r.ru_stime


def foreign_busy_fraction(seconds=1.0):
    """Share of the machine's CPUs that something other than this script used during `seconds`."""
    b0, t0 = cpu_busy_s(), time.time()
    time.sleep(seconds)
    return (cpu_busy_s() - b0) / ((time.time() - t0) * (os.cpu_count() or 1))


def wait_idle(max_wait, threshold=0.15):
    """Waits (up to max_wait s) for a second in which other processes use < threshold of the CPUs."""
    deadline = time.time() + max_wait
    busy = foreign_busy_fraction()
    while busy >= threshold and time.time() < deadline:
        log(f"machine {busy:.0%} busy with other work; waiting (--wait-idle)")
        time.sleep(4)
        busy = foreign_busy_fraction()
    return busy


# ---------------------------------------------------------------- runners
def run_gbench(binary, env, args):
    s = dict(repetitions=args.repetitions, min_time=args.min_time)
    s.update(GB_SETTINGS.get(os.path.basename(binary), {}))
    cmd = [binary, "--benchmark_format=json", f"--benchmark_repetitions={s['repetitions']}",
           f"--benchmark_min_time={s['min_time']}"]
    data = json.loads(run(cmd, env, timeout=600))
    results = {}
    for b in data.get("benchmarks", []):
        name = b.get("run_name", b["name"])
        r = results.setdefault(name, {"samples_s": []})
        if b.get("error_occurred"):
            r["error"] = b.get("error_message", "error")
            continue
        t = b["real_time"] * UNIT_S[b.get("time_unit", "ns")]
        counters = {k: v for k, v in b.items() if k not in (
            "name", "run_name", "run_type", "repetitions", "threads", "aggregate_name", "aggregate_unit",
            "iterations", "real_time", "cpu_time", "time_unit", "family_index", "per_family_instance_index",
            "repetition_index", "label", "error_occurred", "error_message")}
        if b.get("run_type") == "aggregate":
            if b.get("aggregate_name") == "median":
                r["median_s"] = t
                r["counters"] = counters
        else:
            r["samples_s"].append(t)
            r["iterations"] = b.get("iterations")
            r.setdefault("counters", counters)  # replaced by the median aggregate when there is one
            if "label" in b:
                r["label"] = b["label"]
    for r in results.values():
        if "median_s" not in r and r["samples_s"]:
            r["median_s"] = statistics.median(r["samples_s"])
    return {"context": data.get("context", {}), "results": results}


def run_peers(env, args, only=None, label=""):
    cmd = [args.peer_python, os.path.join(HERE, "peers.py"), "--threads", str(args.threads), "--label", label,
           "--min-time", str(args.peer_min_time)]
    if only:
        cmd += ["--only", ",".join(only)]
    return json.loads(run(cmd, env, timeout=900))


def blas_variants(base_env, choice):
    """[(name, env)] for the matmul cases; the first is the caller's environment."""
    variants = [("as-is", dict(base_env))]
    if any(v in base_env for v in BLAS_VARS):
        variants.append(("unset", {k: v for k, v in base_env.items() if k not in BLAS_VARS}))
    forced = choice
    if choice == "auto":
        forced = "SkylakeX" if not any(v in base_env for v in BLAS_VARS) and machine_info().get("avx512f") else None
    if forced and forced != "none":
        env = {k: v for k, v in base_env.items() if k not in BLAS_VARS}
        env["OPENBLAS_CORETYPE"] = forced
        variants.append((f"CORETYPE={forced}", env))
    return variants


def env_label(env):
    return ", ".join(f"{k}={env[k]}" for k in BLAS_VARS if k in env) or "both unset"


# ---------------------------------------------------------------- summary
def best_stream(runs):
    """The per-metric best over several probe runs (each a ceiling, so the highest is the truest)."""
    best = json.loads(json.dumps(runs[0]))
    for r in runs[1:]:
        for k, v in r["bandwidth"].items():
            if v["best_GBps"] > best["bandwidth"][k]["best_GBps"]:
                best["bandwidth"][k] = v
        for sec, key in (("clock", "measured_GHz"), ("fma", "measured_GFLOPs")):
            if r[sec][key] > best[sec][key]:
                best[sec] = r[sec]
    best["runs"] = len(runs)
    return best


def limits_from(stream, threads):
    bw = {k: v["best_GBps"] * 1e9 for k, v in stream["bandwidth"].items()}
    # copy and add: the better of plain and streaming (non-temporal) stores, since a kernel may
    # use either; which one won is kept for the table.
    nt_won = []
    for k in ("copy", "add"):
        if bw.get(k + "_nt", 0) > bw.get(k, 0):
            bw[k] = bw[k + "_nt"]
            nt_won.append(k)
    ghz = stream["clock"]["measured_GHz"]
    fma_units, lanes = 2, 16  # per core: 2 AVX-512 FMA ports, 16 float32 lanes (the formula)
    peak = threads * fma_units * lanes * 2 * ghz * 1e9
    return {
        "bandwidth_Bps": bw,
        "peak_flops": peak,
        "peak_formula": f"{threads} cores x {fma_units} FMA units x {lanes} lanes x 2 x {ghz:.3f} GHz "
                        f"(clock measured by stream_probe's dependent-imul loop; /proc/cpuinfo says "
                        f"{stream['clock']['cpuinfo_MHz']:.0f} MHz)",
        "measured_fma_flops": stream["fma"]["measured_GFLOPs"] * 1e9,
        "nt_stores_won": nt_won,
    }


def pct_of_limit(case, seconds, limits):
    if not case.get("work") or not case.get("limit") or not seconds:
        return None
    kind, amount = case["work"]
    rate = amount / seconds
    if case["limit"] == "flops":
        return 100.0 * rate / limits["peak_flops"]
    return 100.0 * rate / limits["bandwidth_Bps"][case["limit"].split(":")[1]]


def limit_text(case, limits):
    lim = case.get("limit")
    if not lim:
        return "-"
    if lim == "flops":
        return f"f32 FMA peak {limits['peak_flops'] / 1e9:.0f} GFLOP/s" + ("*" if case.get("limit_note") else "")
    k = lim.split(":")[1]
    nt = " (NT stores)" if k in limits.get("nt_stores_won", []) else ""
    return f"STREAM {k}{nt} {limits['bandwidth_Bps'][k] / 1e9:.1f} GB/s"


def summarize(record, targets):
    limits = record["limits"]
    rows = []
    variants = record["blas_variants"]
    for case in CASES:
        per = case.get("per", 1)
        for vi, (vname, _) in enumerate(variants):
            if vi > 0 and not case.get("blas"):
                continue
            gb = record["tessera"][vname]
            binary, run_name = case["tessera"]
            t_res = gb.get(binary, {}).get("results", {}).get(run_name)
            peers_out = record["peers"].get(vname, {})
            p_res = peers_out.get("cases", {}).get(case.get("peer_case", case["id"]), {}).get("peers", {})
            row = {"case": case["id"], "label": case["label"], "blas_variant": vname if case.get("blas") else None,
                   "limit": limit_text(case, limits), "target": targets.get(case["id"])}
            if case.get("limit_note"):
                row["limit_note"] = case["limit_note"]
            if t_res is None:
                row["tessera"] = {"missing": "not built (op not in the library yet)" if binary in gb
                                  else f"{binary} not run"}
            elif "error" in t_res:
                row["tessera"] = {"error": t_res["error"]}
            else:
                t = t_res["median_s"] / per
                row["tessera"] = {"median_s": t, "pct_of_limit": pct_of_limit(case, t_res["median_s"], limits),
                                  "peak_extra_bytes": t_res.get("counters", {}).get("peak_extra_bytes"),
                                  "blas_core": t_res.get("label")}
            row["peers"] = {k: {"median_s": v["median_s"], "pct_of_limit": pct_of_limit(case, v["median_s"] * per,
                                                                                        limits)}
                            for k, v in p_res.items()}
            if row["peers"]:
                best = min(row["peers"], key=lambda k: row["peers"][k]["median_s"])
                row["best_peer"] = best
                if "median_s" in row["tessera"]:
                    row["speed_vs_best_peer"] = row["peers"][best]["median_s"] / row["tessera"]["median_s"]
            rows.append(row)
    # Benchmarks no case names (new programs): Tessera's median and its own counters.
    known = {c["tessera"] for c in CASES}
    for binary, out in record["tessera"].get(variants[0][0], {}).items():
        for run_name, res in out.get("results", {}).items():
            if (binary, run_name) in known:
                continue
            row = {"case": f"{binary}:{run_name}", "label": run_name.replace("/real_time", ""), "blas_variant": None,
                   "limit": "-", "target": targets.get(run_name), "peers": {}, "extra": True}
            if "error" in res:
                row["tessera"] = {"error": res["error"]}
            else:
                c = res.get("counters", {})
                row["tessera"] = {"median_s": res["median_s"], "pct_of_limit": None,
                                  "peak_extra_bytes": c.get("peak_extra_bytes"),
                                  "rates": {k: c[k] for k in ("FLOP/s", "bytes_per_second") if k in c}}
            rows.append(row)
    return rows


def load_targets():
    try:
        with open(os.path.join(HERE, "targets.json")) as f:
            return {k: v for k, v in json.load(f).items() if not k.startswith("_")}
    except (OSError, ValueError):
        return {}


def fmt_time(s):
    if s is None:
        return "-"
    for unit, scale in (("s", 1.0), ("ms", 1e-3), ("us", 1e-6), ("ns", 1e-9)):
        if s >= scale:
            return f"{s / scale:.3g} {unit}"
    return f"{s / 1e-9:.3g} ns"


def fmt_pct(p):
    return "-" if p is None else f"{p:.0f}%"


def fmt_mib(b):
    return "-" if b is None else f"{b / MiB:.0f}"


def table(rows, markdown=False):
    head = ["case", "BLAS", "Tessera", "%lim", "best peer", "peer", "%lim", "speed", "mem+ MiB", "limit", "target"]
    lines = []
    for r in rows:
        t = r["tessera"]
        tt = fmt_time(t.get("median_s")) if "median_s" in t else ("MISSING" if "missing" in t else "ERROR")
        best = r.get("best_peer")
        bp = r["peers"][best] if best else {}
        target = r.get("target") or {}
        limit = r["limit"]
        if r.get("extra") and t.get("rates"):
            limit = "own: " + ", ".join(f"{k} {v / 1e9:.3g} G" for k, v in t["rates"].items())
        lines.append([r["label"], r["blas_variant"] or "", tt, fmt_pct(t.get("pct_of_limit")),
                      fmt_time(bp.get("median_s")) if best else "-", best or "-", fmt_pct(bp.get("pct_of_limit")),
                      f"{r['speed_vs_best_peer']:.2f}x" if "speed_vs_best_peer" in r else "-",
                      fmt_mib(t.get("peak_extra_bytes")), limit,
                      target.get("text", "-") if isinstance(target, dict) else str(target)])
    if markdown:
        out = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
        out += ["| " + " | ".join(str(c).strip() or " " for c in ln) + " |" for ln in lines]
        return "\n".join(out)
    widths = [max(len(str(x[i])) for x in lines + [head]) for i in range(len(head))]
    out = ["  ".join(str(h).ljust(w) for h, w in zip(head, widths))]
    out.append("  ".join("-" * w for w in widths))
    for ln in lines:
        out.append("  ".join(str(c).ljust(w) for c, w in zip(ln, widths)))
    return "\n".join(out)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--build", default="build", help="CMake build folder holding benchmarks/ (default: build)")
    ap.add_argument("--json", action="store_true", help="print the summary as JSON instead of the table")
    ap.add_argument("--markdown", action="store_true", help="print the table as Markdown (for RESULTS.md)")
    ap.add_argument("--from-json", metavar="FILE", help="run nothing: print the table of an earlier record")
    ap.add_argument("--out", default=os.path.join(HERE, "results", "latest.json"),
                    help="where to write the full record (default: benchmarks/results/latest.json)")
    ap.add_argument("--threads", type=int, default=2, help="TESSERA_NUM_THREADS, OPENBLAS_NUM_THREADS, torch "
                                                           "threads and stream_probe threads (default 2)")
    ap.add_argument("--repetitions", type=int, default=5, help="Google Benchmark repetitions (median over them)")
    ap.add_argument("--min-time", type=float, default=0.2, help="Google Benchmark min time per repetition, s")
    ap.add_argument("--peer-python", default="/usr/bin/python3", help="interpreter with numpy and torch")
    ap.add_argument("--peer-min-time", type=float, default=0.3, help="peers.py seconds per case and framework")
    ap.add_argument("--openblas-coretype", default="auto",
                    help="extra matmul variant with OPENBLAS_CORETYPE=NAME; 'auto' (default) or 'none'")
    ap.add_argument("--skip-peers", action="store_true", help="Tessera and the probe only")
    ap.add_argument("--wait-idle", type=float, default=0, metavar="S",
                    help="first wait up to S seconds for other processes to leave the CPUs idle")
    args = ap.parse_args()

    if args.from_json:
        with open(args.from_json) as f:
            record = json.load(f)
        record["summary"] = summarize(record, load_targets())  # today's targets and code
        return report(record, args)

    build = args.build if os.path.isabs(args.build) else os.path.join(ROOT, args.build)
    bench_dir = os.path.join(build, "benchmarks")
    probe = os.path.join(bench_dir, "stream_probe")
    if not os.path.exists(probe):
        ap.error(f"{probe} not found: build first (make build, or ninja -C {args.build} stream_probe)")
    sources = sorted(f[:-len(".cpp")] for f in os.listdir(HERE) if f.endswith("_bench.cpp"))
    names = BINARIES + [b for b in sources if b not in BINARIES]
    binaries = [os.path.join(bench_dir, b) for b in names if os.path.exists(os.path.join(bench_dir, b))]
    missing = [b for b in names if not os.path.exists(os.path.join(bench_dir, b))]
    if missing:
        log(f"not built (is libbenchmark-dev installed?): {', '.join(missing)}")
    lib = os.path.join(build, "libtessera.a")
    stale = [os.path.basename(b) for b in binaries
             if os.path.exists(lib) and os.path.getmtime(b) < os.path.getmtime(lib)]
    if stale:
        log(f"warning: older than libtessera.a, so they measure an older library: {', '.join(stale)} "
            f"(rebuild: ninja -C {args.build} {' '.join(stale)}; make bench does)")
    if not args.skip_peers and not shutil.which(args.peer_python):
        log(f"{args.peer_python} not found: peers skipped")
        args.skip_peers = True

    busy_before = wait_idle(args.wait_idle) if args.wait_idle > 0 else foreign_busy_fraction()
    started = time.time()
    busy0, own0 = cpu_busy_s(), own_children_cpu_s()
    base_env = dict(os.environ)
    base_env["TESSERA_NUM_THREADS"] = str(args.threads)
    base_env["OPENBLAS_NUM_THREADS"] = str(args.threads)
    # As the tessera command runs: OpenBLAS's idle workers sleep instead of spinning on
    # sched_yield against Tessera's threads (and the peers' own).
    base_env.setdefault("OPENBLAS_THREAD_TIMEOUT", "4")
    # Also as the tessera command runs: a larger per-thread malloc cache for the bursts of small
    # blocks a lazy graph frees. Peers run without it (unless the caller set it): it made
    # PyTorch 1.13's float32 training step about twice as slow here.
    tunables_added = "GLIBC_TUNABLES" not in base_env
    base_env.setdefault("GLIBC_TUNABLES", "glibc.malloc.tcache_count=2048")
    record = {
        "date": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
        "machine": machine_info(),
        "git": git_info(),
        "threads": args.threads,
        "env_as_is": {k: os.environ.get(k) for k in BLAS_VARS},
        "stale_binaries": stale,
    }
    record["machine"]["foreign_busy_before"] = round(busy_before, 3)
    if busy_before > 0.15:
        log(f"warning: other work keeps {busy_before:.0%} of the CPUs busy; it will disturb the timings "
            "(--wait-idle S waits for a quiet moment)")
    variants = blas_variants(base_env, args.openblas_coretype)
    record["blas_variants"] = [(name, env_label(env)) for name, env in variants]

    # 1. Ceilings, measured again at the end: a ceiling is the best the machine showed.
    probe_cmd = [probe, "--threads", str(args.threads)]
    record["stream_runs"] = [json.loads(run(probe_cmd, base_env, timeout=300))]

    # 2. Tessera, every binary as-is; matmul again under each other BLAS variant.
    record["tessera"] = {}
    for vi, (vname, env) in enumerate(variants):
        out = {}
        for b in binaries:
            if vi > 0 and os.path.basename(b) != "matmul_bench":
                continue
            out[os.path.basename(b)] = run_gbench(b, env, args)
        record["tessera"][vname] = out

    # 3. Peers, the same way.
    record["peers"] = {}
    if not args.skip_peers:
        blas_cases = [c["id"] for c in CASES if c.get("blas")]
        for vi, (vname, env) in enumerate(variants):
            peer_env = {k: v for k, v in env.items() if not (k == "GLIBC_TUNABLES" and tunables_added)}
            record["peers"][vname] = run_peers(peer_env, args, only=None if vi == 0 else blas_cases,
                                               label=f"{vname}: {env_label(peer_env)}")

    record["stream_runs"].append(json.loads(run(probe_cmd, base_env, timeout=300)))
    record["stream"] = best_stream(record["stream_runs"])
    record["limits"] = limits_from(record["stream"], args.threads)
    record["summary"] = summarize(record, load_targets())
    record["machine"]["loadavg_at_end"] = os.getloadavg()
    record["wall_s"] = round(time.time() - started, 1)
    foreign = (cpu_busy_s() - busy0) - (own_children_cpu_s() - own0)
    record["foreign_cpu_share"] = round(max(0.0, foreign) / (record["wall_s"] * (os.cpu_count() or 1)), 3)
    if record["foreign_cpu_share"] > 0.05:
        log(f"warning: other processes (or the hypervisor) took {record['foreign_cpu_share']:.0%} of the CPUs "
            "during the run: the timings are disturbed")

    os.makedirs(os.path.dirname(os.path.abspath(args.out)), exist_ok=True)
    with open(args.out, "w") as f:
        json.dump(record, f, indent=1)
    log(f"wrote {args.out} ({record['wall_s']} s)")
    return report(record, args)


def report(record, args):
    if args.json:
        keys = ("date", "machine", "git", "threads", "blas_variants", "stream", "limits", "summary", "wall_s")
        print(json.dumps({k: record.get(k) for k in keys}, indent=1))
        return 0
    m = record["machine"]
    print(f"{m.get('Model name', '?')}, {m.get('CPU(s)', '?')} CPUs, {m.get('MemTotal_GiB', '?')} GiB; "
          f"commit {record['git']['describe']}{' (dirty)' if record['git']['dirty'] else ''}; {record['date']}; "
          f"{record.get('wall_s', '?')} s; other processes used {record.get('foreign_cpu_share', 0):.0%} of the CPUs "
          f"meanwhile")
    s = record["stream"]["bandwidth"]
    print("STREAM best GB/s (%d threads, 64 MiB arrays; _nt: streaming stores): " % record["threads"] +
          ", ".join(f"{k} {v['best_GBps']:.1f}" for k, v in s.items()))
    print(f"Peak FLOP/s: {record['limits']['peak_flops'] / 1e9:.0f} GFLOP/s = {record['limits']['peak_formula']}; "
          f"FMA loop measured {record['limits']['measured_fma_flops'] / 1e9:.0f} GFLOP/s")
    for name, label in record["blas_variants"]:
        cores = []
        t = record["tessera"].get(name, {}).get("matmul_bench", {}).get("results", {})
        cores += sorted({r.get("label") for r in t.values() if r.get("label")})
        for lib in record["peers"].get(name, {}).get("blas", {}).get("libraries", []):
            if lib.get("core"):
                cores.append(f"peers:{lib['core']}")
        print(f"BLAS variant {name}: {label}; cores: {', '.join(cores) or '?'}")
    print("speed = best peer time / Tessera time (>1: Tessera faster); %lim = share of the physical limit; "
          "mem+ = Tessera's peak memory above what was live before the op")
    print(table(record["summary"], args.markdown))
    notes = sorted({r["limit_note"] for r in record["summary"] if r.get("limit_note")})
    for n in notes:
        print(f"* {n}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
