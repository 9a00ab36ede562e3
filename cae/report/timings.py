"""The reproducibility chapter's measurements, read from the files that recorded them.

Wall times and peak memory of runs come from each run's `provenance.json` (or, for the
benchmark reruns, from `benchmarks/throughput.py`'s JSON); the multi-process throughput from
`benchmarks/distributed_throughput.py`'s JSON; the quality tests of bf16 against fp32 and of
the fast against the exact kernels from `benchmarks/quality_parity.py`'s JSON; the training
speed of both kernels from `benchmarks/throughput.py`'s. Which run each row of the wall-time
table reads is written once, in `TIMED_RUNS`.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from cae.errors import CaeError
from cae.infra.run_files import read_run_json
from cae.report.readouts import format_seconds
from cae.report.verdicts import dataset_name

PHASES = ("train", "evaluate", "baselines")
THROUGHPUT_FILE = "distributed-cpu-2core-epyc.json"
BF16_FILE = "bf16-quality-epyc-avx512bf16.json"
KERNELS_FILE = "kernels-quality-xeon-amx.json"
SPEED_FILE = "cpu-2core-xeon-amx.json"  # benchmarks/throughput.py with the exact and fast kernels
SPEED_TARGET = 5.0  # issue 24: the fast kernels at 5x the usual pipeline on this CPU kind
PROTOCOL_WORDS = {"knn": "kNN accuracy", "lin": "linear-probe accuracy"}


@dataclass(frozen=True)
class TimedRun:
    """One row of the wall-time table: what ran, on which machine, and where its times are.

    `runs` are run folders under the runs root (several: the row gives the range per run
    and the sum); `benchmark` names a throughput JSON under the benchmarks folder and the
    dataset of its `reproduce_paper_<dataset>` measurement instead."""

    what: str
    profile: str
    machine: str
    runs: tuple[str, ...] = ()
    benchmark: tuple[str, str] | None = None


FIRST = "first (AVX2)"
SECOND = "second (AVX-512 BF16)"
THIRD = "third (AVX-512 BF16 and AMX)"
ABLATION = tuple(f"ablation/pneumoniamnist-paper-{variant}-seed{seed}"
                 for variant in ("autoencoder", "contrastive") for seed in range(3))
TIMED_RUNS: tuple[TimedRun, ...] = (
    TimedRun("PneumoniaMNIST seed 0, `cae reproduce`, computing the floors", "paper", THIRD,
             ("pneumoniamnist-paper-seed0",)),
    TimedRun("MNIST seed 0, `cae reproduce`, computing the floors", "paper", THIRD,
             ("mnist-paper-seed0",)),
    TimedRun("MNIST seed 1, `cae reproduce` (the first 25 min of training shared the cores "
             "with other jobs)", "paper", FIRST, ("mnist-paper-seed1",)),
    TimedRun("PneumoniaMNIST loss ablation, the autoencoder and contrastive variants, one run "
             "per variant and seed (`scripts/run_ablation.sh`, no floors or baselines)",
             "paper", FIRST, ABLATION),
    TimedRun("MNIST seed 0, `cae reproduce`, computing and caching the pixel floors (other "
             "work shared the cores at times)", "validated", SECOND, ("mnist-validated-seed0",)),
    TimedRun("MNIST seed 1, `cae reproduce`, with the cached pixel floors (other work shared "
             "the cores at times)", "validated", SECOND, ("mnist-validated-seed1",)),
    TimedRun("PneumoniaMNIST seed 1, `cae reproduce`, with the cached pixel floors", "validated",
             SECOND, ("pneumoniamnist-validated-seed1",)),
    TimedRun("PneumoniaMNIST, `cae reproduce` with fp32 `auto`, computing the floors", "paper",
             SECOND, benchmark=("cpu-2core-epyc-avx512bf16.json", "pneumoniamnist")),
    TimedRun("MNIST, `cae reproduce` with fp32 `auto`, computing the floors (their KMeans "
             "searches are the peak)", "paper", SECOND, ("benchmark/mnist-paper-seed0",)),
)


def clock(seconds: float) -> str:
    """A duration as a reader reads a clock: '5 min 17 s', '1 h 14 min'."""
    seconds = round(seconds)
    if seconds < 3600:
        return f"{seconds // 60} min {seconds % 60} s" if seconds >= 60 else f"{seconds} s"
    minutes = round(seconds / 60)
    return f"{minutes // 60} h {minutes % 60} min"


def _gb(megabytes: float) -> str:
    return f"{megabytes / 1000:.1f} GB"


def _memory(record: dict) -> str:
    if "peak_rss_mb" not in record:
        return "not recorded"
    after = (record.get("peak_rss_mb_after") or {}).get("train")
    return _gb(record["peak_rss_mb"]) + (f" ({_gb(after)} after training)" if after else "")


def _read(path: Path) -> dict:
    if not path.is_file():
        raise CaeError(f"{path} not found: the reproducibility chapter's timings read it "
                       "(commit it, or rerun the run or benchmark that writes it)")
    return read_run_json(path)


def _records(row: TimedRun, runs_root: Path, benchmarks: Path) -> list[dict]:
    """Per run of the row: the phases' seconds, the total and the peak memory if recorded."""
    if row.benchmark:
        name, dataset = row.benchmark
        data = _read(benchmarks / name)
        return [{**data[f"reproduce_paper_{dataset}_phases_s"],
                 "wall": data[f"reproduce_paper_{dataset}_s"],
                 "peak_rss_mb": data[f"reproduce_paper_{dataset}_peak_rss_mb"]}]
    records = []
    for run in row.runs:
        provenance = _read(runs_root / run / "provenance.json")
        records.append({**provenance["wall_time_s"],
                        **{k: provenance[k] for k in ("peak_rss_mb", "peak_rss_mb_after")
                           if k in provenance}})
    return records


def _how(provenance: dict) -> str:
    """Precision, and the kernels where the run recorded them (runs before the setting: exact)."""
    kernels = provenance.get("kernels")
    return provenance["precision"] + (f", {kernels} kernels" if kernels else "")


def _phases(record: dict) -> str:
    return ", ".join(f"{phase} {format_seconds(record[phase])}" for phase in PHASES if phase in record)


def wall_times_table(runs_root: str | Path, benchmarks: str | Path) -> str:
    """The wall-time table in Markdown, one row per TIMED_RUNS entry."""
    lines = ["| Run | Profile | Machine, precision | Phases | Compute in all | Peak memory |",
             "|---|---|---|---|---|---|"]
    for row in TIMED_RUNS:
        records = _records(row, Path(runs_root), Path(benchmarks))
        precision = "fp32" if row.benchmark else ", ".join(sorted(
            {_how(_read(Path(runs_root) / run / "provenance.json")) for run in row.runs}))
        if len(records) == 1:
            record = records[0]
            total = clock(record["total"])
            if "wall" in record:
                total += f" ({clock(record['wall'])} from start to end)"
            phases, memory = _phases(record), _memory(record)
        else:
            totals = [r["total"] for r in records]
            total = (f"{format_seconds(min(totals))} to {format_seconds(max(totals))} per run; "
                     f"{clock(sum(totals))} for all {len(records)}")
            phases, memory = "—", "not recorded"
        lines.append(f"| {row.what} | `{row.profile}` | {row.machine}, {precision} | {phases} "
                     f"| {total} | {memory} |")
    return "\n".join(lines)


def throughput_table(benchmarks: str | Path) -> str:
    """The multi-process throughput in Markdown: a row per configuration (pairs per second,
    the median and every repeat), then how the two-process run compares with the others."""
    data = _read(Path(benchmarks) / THROUGHPUT_FILE)
    configs = data["configurations"]
    lines = ["| Processes | Threads each | Backend | Pairs per second (repeats) |",
             "|---|---|---|---|"]
    for c in configs:
        repeats = ", ".join(f"{p:,.0f}" for p in c["pairs_per_s_repeats"])
        lines.append(f"| {c['processes']} | {c['threads_per_process']} | {c['backend'] or '—'} "
                     f"| {c['pairs_per_s']:,.0f} ({repeats}) |")
    rate = {(c["processes"], c["threads_per_process"]): c["pairs_per_s"] for c in configs}
    if {(1, 2), (1, 1), (2, 1)} <= set(rate):
        lines += ["", f"Two processes ran at {rate[2, 1] / rate[1, 2]:.2f} times the rate of one "
                      f"process with two threads, and at {rate[2, 1] / rate[1, 1]:.2f} times the "
                      "rate of one process with one thread."]
    return "\n".join(lines)


def _cell(entry: dict) -> str:
    return f"{entry['mean']:.3f} [{entry['lo']:.3f}, {entry['hi']:.3f}]"


PARITY_FILES = {"precision": (BF16_FILE, "bf16", "fp32"),
                "kernels": (KERNELS_FILE, "fast", "exact")}


def quality_parity(benchmarks: str | Path, setting: str) -> str:
    """`benchmarks/quality_parity.py`'s test of one speed setting (precision: bf16 against
    fp32; kernels: fast against exact) in Markdown: a line per split and protocol (mean and
    95% interval over the seeds under each value), and whether each mean lies inside the
    other value's interval."""
    name, a, b = PARITY_FILES[setting]
    data = _read(Path(benchmarks) / name)
    cells = data["cells"]
    seeds = sorted({s for c in cells for v in (a, b) for s in c[v]["seeds"]})
    lines = [f"`{data['profile']}` runs of {dataset_name(data['dataset'])} under each value, seeds "
             f"{', '.join(map(str, seeds))}, on an {data['cpu']} CPU with "
             f"{', '.join(data['cpu_flags'])}: mean over the seeds [95% interval].", ""]
    lines += [f"- {c['split']} {PROTOCOL_WORDS.get(c['protocol'], c['protocol'])}: {a} "
              f"{_cell(c[a])}, {b} {_cell(c[b])}." for c in cells]
    inside = sum(c[f"{a}_mean_in_{b}_interval"] and c[f"{b}_mean_in_{a}_interval"] for c in cells)
    lines += ["", f"In {inside} of the {len(cells)} lines each value's mean lies inside the "
                  "other's interval."]
    return "\n".join(lines)


def training_speed(benchmarks: str | Path) -> str:
    """`benchmarks/throughput.py`'s measurement in Markdown: pairs per second of the usual
    pipeline and of our step with the exact and the fast kernels (medians, every repeat),
    the ratios to the usual pipeline against the target, and the achieved FLOP/s against
    the matmul peak measured in the same run."""
    data = _read(Path(benchmarks) / SPEED_FILE)
    samples = data["samples_pairs_per_s"]
    rows = [("usual pipeline (fp32)", "usual", None),
            (f"ours, exact kernels ({data['precision']})", "ours_exact", data["speedup_exact"]),
            (f"ours, fast kernels ({data['precision']})", "ours_fast", data["speedup_fast"])]
    lines = [f"{data['device_name']} ({', '.join(data['cpu_flags'])}), {data['threads']} threads, "
             f"{dataset_name(data['dataset'])}, batch {data['batch_size']}, median of "
             f"{data['repeats']} repeats of {data['steps']} steps:", "",
             "| Pipeline | Pairs per second (repeats) | Times the usual pipeline |",
             "|---|---|---|"]
    for label, key, ratio in rows:
        repeats = ", ".join(f"{v:,.0f}" for v in samples[key])
        lines.append(f"| {label} | {data[key + '_pairs_per_s']:,.0f} ({repeats}) | "
                     f"{'1' if ratio is None else f'{ratio:.2f}'} |")
    fast = data["speedup_fast"]
    peak = data["matmul_peak_gflop_per_s"][data["precision"]]
    gain = data["ours_fast_pairs_per_s"] / data["ours_exact_pairs_per_s"]
    spread = max((max(samples[k]) - min(samples[k])) / data[k + "_pairs_per_s"]
                 for k in ("ours_exact", "ours_fast"))
    lines += ["", f"The fast kernels ran {gain:.2f} "
                  f"times the exact ones (the repeats of each spread over up to {spread:.0%} of "
                  f"its median, so the difference is "
                  f"{'within' if abs(gain - 1) <= spread else 'beyond'} the noise), {fast:.2f} times the "
                  "usual pipeline: "
                  f"{'at or above' if fast >= SPEED_TARGET else 'short of'} the target of "
                  f"{SPEED_TARGET:g} times. The step as a run resolves it (kernels "
                  f"`{data['kernels']}`) reached {data['ours_gflop_per_s']:.0f} GFLOP/s, "
                  f"{data['ours_fraction_of_matmul_peak']:.0%} of the {peak:,.0f} GFLOP/s "
                  f"{data['precision']} matmul peak measured in the same run: most of a "
                  "step's time goes to small convolutions, element-wise GELU and the "
                  "augmentations, which run far below the matmul peak "
                  "(`benchmarks/step_kernels.py`)."]
    return "\n".join(lines)


EVALUATION_GLOB = "evaluation-fresh-*.json"  # benchmarks/evaluation.py's results
EVALUATION_TARGETS = {"wall_s": 60, "peak_rss_mb": 1500}  # issue 24: a fresh PneumoniaMNIST evaluation


def evaluation_profile(benchmarks: str | Path) -> str:
    """`benchmarks/evaluation.py`'s measurements in Markdown: per profile, a fresh
    evaluation's wall time and peak memory against the targets, and its three largest parts
    (from the profiled repeat)."""
    lines = []
    for path in sorted(Path(benchmarks).glob(EVALUATION_GLOB)):
        r = _read(path)
        verdict = ", ".join(
            f"{'under' if r[name] < limit else 'over'} the {limit:,} "
            f"{'MB' if name == 'peak_rss_mb' else 's'} target"
            for name, limit in EVALUATION_TARGETS.items())
        groups: dict[str, list[str]] = {}  # each part, with its indented sub-parts after it
        for name, seconds in r["parts_s"].items():
            if not name.startswith(" "):
                groups[name] = [f"{seconds:.0f} s"]
            elif seconds:
                groups[list(groups)[-1]].append(f"{name.strip()} {seconds:.0f} s")
        groups.pop("evaluation in all", None)
        largest = sorted(groups, key=lambda name: -r["parts_s"][name])[:3]
        listed = "; ".join(f"{name} {said[0]}" + (f" ({', '.join(said[1:])})" if said[1:] else "")
                           for name in largest for said in [groups[name]])
        lines.append(f"- `{r['profile']}` profile ({dataset_name(r['dataset'])}, clustering head "
                     f"{r['head_method'].upper()}), {r['cpu']}: {r['wall_s']:.0f} s and a peak of "
                     f"{r['peak_rss_mb']:,} MB ({verdict}). Its largest parts, timed in a "
                     f"repeat under cProfile: {listed}.")
    return "\n".join(lines) or "Not yet measured: run `benchmarks/evaluation.py`."


def time_and_peak(runs_root: str | Path, run: str) -> tuple[str, str]:
    """A run's total compute time and peak memory, as the prose quotes them."""
    provenance = _read(Path(runs_root) / run / "provenance.json")
    return clock(provenance["wall_time_s"]["total"]), _memory({"peak_rss_mb": provenance["peak_rss_mb"]})


BINDER_GLOB = "binder-1core-*.json"  # benchmarks/binder.py's results


def binder_note(benchmarks: str | Path) -> str:
    """The Binder-sized rerun in Markdown: per measured CPU, the PneumoniaMNIST chapter's
    wall time and peak memory on one core against the targets, and what the imports alone
    cost; a line saying it was not measured when no result is committed."""
    results = sorted(Path(benchmarks).glob(BINDER_GLOB))
    if not results:
        return "Not yet measured: run `benchmarks/binder.py` (its results go to `benchmarks/results/`)."
    lines = []
    for path in results:
        r = _read(path)
        verdict = ", ".join(f"{'under' if r['met'][name] else 'over'} the {limit:,} "
                            f"{'MB' if name == 'peak_rss_mb' else 's'} target"
                            for name, limit in r["targets"].items())
        imports = "; ".join(f"`import {m}` {c['seconds']:.1f} s and {c['peak_rss_mb']:,} MB"
                            for m, c in r["imports"].items())
        trained = "".join(f" ({run['steps']:,} optimizer steps in {run['precision']}, training "
                          f"{clock(run['wall_time_s']['train'])})" for run in r.get("runs", [])[:1])
        lines.append(f"- {r['cpu']} ({', '.join(r['cpu_flags'])}), one core, `{r['profile']}` "
                     f"profile, fresh runs folder{trained}: {clock(r['wall_s'])} and a peak of "
                     f"{r['peak_rss_mb']:,} MB ({verdict}). Alone, {imports}.")
    lines.append("\nA CPU without bf16 units trains in fp32, which is slower "
                 "per step: read the time as this CPU's; the memory does not depend on the CPU.")
    return "\n".join(lines)
