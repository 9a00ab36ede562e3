"""The book's verdicts in words, generated from the runs: no number in them is typed.

Every sentence reads two frames: `cae.report.table1.compare_with_paper` (our mean against
the paper's value, met when it reaches it, `cae.report.table1.meets_paper`) and
`cae.report.paired.paired_differences` (our latent minus each floor, paired by seed, with
its 95% t-interval over seeds). A floor is *beaten* when the whole interval is above zero,
*lost to* when it is below, *tied* when it holds zero: those seeds cannot tell the two
apart. Cells of the paper's ResNet-18 rows that ran on untrained weights are not the
paper's baseline and are counted apart, never as met or missed.
"""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import numpy as np
import pandas as pd

from cae import names
from cae.errors import CaeError
from cae.evaluation.protocols import mapping_ceiling
from cae.infra.runs import RunArtifacts, finished_under, read_against_k
from cae.report import paired, stats, table1
from cae.report.paper import PAPER_DATASETS, PAPER_MODELS, PAPER_TABLE1
from cae.report.selection_screen import FLOOR_WORDS

# the profiles in the order the book introduces them; others follow alphabetically
PROFILE_ORDER = ("paper", "validated", "beyond", "authors")
DATASET_NAMES = {"mnist": "MNIST", "pneumoniamnist": "PneumoniaMNIST"}
SPLIT_ORDER = ("test", "val")
FLOOR_ORDER = (names.RAW_PIXELS, names.UNTRAINED, names.MAJORITY)
PROTOCOL_ORDER = (names.STAT, names.KNN, names.LIN, names.HUNGARIAN)
VERDICT_WORDS = {"beats": "beats", "ties": "ties", "loses": "loses to",
                 "one seed": "has a single seed, too few for a verdict, against"}
REWEIGHTS_HINT = ("`cae baselines --dataset DATASET --weights-path resnet18-f37072fd.pth` "
                  "(or online, without `--allow-untrained-weights`)")


def dataset_name(dataset: str) -> str:
    """How the book writes a dataset: MNIST, PneumoniaMNIST, else the MedMNIST flag."""
    return DATASET_NAMES.get(dataset, dataset)


def profiles_with_runs(runs_root: str | Path, dataset: str | None = None) -> list[str]:
    """The profiles with finished runs directly under runs_root (of `dataset` if given),
    in the book's order."""
    root = Path(runs_root)
    found = {r.config.profile for r in finished_under(root)
             if dataset is None or r.config.dataset == dataset} if root.is_dir() else set()
    return [p for p in PROFILE_ORDER if p in found] + sorted(found - set(PROFILE_ORDER))


def _chosen(runs_root: str | Path, profiles: list[str] | None, dataset: str | None = None) -> list[str]:
    """`profiles` (default: every profile with runs) less those without finished runs (of
    `dataset` if given) under runs_root, so a page asking for a profile not yet run still builds."""
    found = profiles_with_runs(runs_root, dataset)
    return found if profiles is None else [p for p in profiles if p in found]


def cell_status(line: pd.Series) -> str:
    """One paper cell: 'met', 'missed', 'not run', or 'untrained' for a ResNet-18 cell that
    ran on untrained weights (not the paper's baseline, so neither met nor missed)."""
    if not line["n"]:
        return "not run"
    if "untrained" in str(line.get("weights", "")):
        return "untrained"
    return "met" if table1.meets_paper(line["mean"], line["paper"]) else "missed"


def met_counts(comparison: pd.DataFrame) -> Counter[str]:
    """How many of the paper's cells are met, missed, untrained or not run."""
    return Counter(comparison.apply(cell_status, axis=1))


def _protocol(protocol: str) -> str:
    if protocol == names.HUNGARIAN:
        return "Hungarian (k = classes)"
    return paired.PROTOCOL_NAMES.get(protocol, protocol)


def _difference(row: pd.Series) -> str:
    interval = "" if pd.isna(row["lo"]) else f" [{row['lo']:+.3f}, {row['hi']:+.3f}]"
    return f"{row['difference']:+.3f}{interval}"


def _in_protocol_order(rows: pd.DataFrame) -> pd.DataFrame:
    order = {p: i for i, p in enumerate(PROTOCOL_ORDER)}
    return rows.sort_values("protocol", key=lambda c: c.map(order).fillna(len(order)), kind="stable")


def floor_clause(differences: pd.DataFrame, floor: str, only_unbeaten: bool = False,
                 intervals: bool = True) -> str:
    """Our latent against one floor on one dataset and split, grouped by verdict, e.g.
    'beats raw pixels on (b) kNN (+0.034 [+0.020, +0.047]); loses to them on (a) mapping
    (-0.106 [-0.126, -0.086])'. With only_unbeaten, the protocols it beats are left out
    ('' when none is left); without intervals, the differences are left out."""
    rows = _in_protocol_order(differences[differences["floor"] == floor])
    clauses: list[str] = []
    for verdict in ("beats", "ties", "loses", "one seed"):
        if only_unbeaten and verdict == "beats":
            continue
        hits = rows[rows["verdict"] == verdict]
        if hits.empty:
            continue
        listed = ", ".join(_protocol(r["protocol"]) + (f" ({_difference(r)})" if intervals else "")
                           for _, r in hits.iterrows())
        target = FLOOR_WORDS.get(floor, floor) if not clauses else (
            "them" if floor == names.RAW_PIXELS else "it")
        clauses.append(f"{VERDICT_WORDS[verdict]} {target} on {listed}")
    return "; ".join(clauses)


def floors_sentence(differences: pd.DataFrame, intervals: bool = True) -> str:
    """Our latent against raw pixels and the untrained encoder (every verdict) and the
    majority class (only where it is not beaten), on one dataset and split."""
    parts = [floor_clause(differences, floor, intervals=intervals) for floor in FLOOR_ORDER[:2]]
    parts.append(floor_clause(differences, names.MAJORITY, only_unbeaten=True, intervals=intervals))
    seeds = int(differences["seeds"].max()) if len(differences) else 0
    text = "; ".join(p for p in parts if p)
    said = ", ours minus the floor and its 95% interval" if intervals else ""
    return f"{text} ({seeds} seed{'s' if seeds != 1 else ''}{said})"


def paper_sentence(comparison: pd.DataFrame, dataset: str | None = None) -> str:
    """How many of the paper's cells (of `dataset`, or all) the profile meets, with the
    untrained and unrun cells said apart."""
    if dataset is not None:
        comparison = comparison[comparison["dataset"] == dataset]
    counts = met_counts(comparison)
    judged = counts["met"] + counts["missed"]
    text = f"meets {counts['met']} of the {judged} paper numbers it can be judged on"
    extra = []
    if counts["untrained"]:
        n = counts["untrained"]
        extra.append(f"{n} ResNet-18 number{'s' * (n != 1)} ran on untrained weights and "
                     f"{'is' if n == 1 else 'are'} not counted")
    if counts["not run"]:
        n = counts["not run"]
        extra.append(f"{n} {'has' if n == 1 else 'have'} no run")
    return text + (f" ({'; '.join(extra)})" if extra else "")


def paper_beside_run(artifacts: RunArtifacts) -> str:
    """Markdown: per split the paper reports for this run's dataset, the paper's accuracy of
    our three protocols beside this run's (a notebook chapter's one run, one seed)."""
    metrics = artifacts.metrics
    lines = []
    for paper_dataset, (dataset, split) in PAPER_DATASETS.items():
        if dataset != artifacts.config.dataset:
            continue
        cells = []
        for model, _, accuracy, _, _ in (r for r in PAPER_TABLE1 if r[1] == paper_dataset):
            ours, protocol = PAPER_MODELS[model]
            if ours != names.OURS:
                continue
            hit = metrics[(metrics["model"] == ours) & (metrics["split"] == split)
                          & (metrics["protocol"] == protocol)]
            run = f"{hit['accuracy'].iloc[0]:.3f}" if len(hit) else "not scored"
            cells.append(f"{_protocol(protocol)} {accuracy:.2f} (this run: {run})")
        lines.append(f"- {split}: " + "; ".join(cells) + ".")
    if not lines:
        return f"The paper reports no accuracy for {dataset_name(artifacts.config.dataset)}."
    return (f"The paper's accuracy for {dataset_name(artifacts.config.dataset)}, beside this "
            "run's:\n\n" + "\n".join(lines))


def profile_frames(runs_root: str | Path, profile: str) -> tuple[pd.DataFrame, pd.DataFrame]:
    """A profile's comparison with the paper and its paired differences."""
    rows = table1.collect_runs(runs_root, profile)
    return table1.compare_with_paper(stats.summarise(rows)), paired.paired_differences(rows)


def mapping_ceilings(runs: list[RunArtifacts]) -> pd.DataFrame:
    """Per run and eval split: the elbow's k (protocol (a) maps from its prototypes), the
    classes, the accuracy any labelling of k clusters could reach at best (`mapping_ceiling`,
    from the split's class counts in mapping_vs_k.json) and what (a) scored. Runs without
    that file are left out."""
    rows = []
    for run in runs:
        try:
            against_k = read_against_k(run.run_dir)
        except CaeError:
            continue
        for split in [s for s in SPLIT_ORDER if s in against_k]:
            class_counts = np.asarray(against_k[split]["composition"][0]).sum(axis=0)
            m = run.metrics
            hit = m[(m["model"] == names.OURS) & (m["split"] == split)
                    & (m["protocol"] == names.STAT)]
            k = int(run.elbow["k"])
            rows.append(dict(seed=run.config.seed, split=split, k=k, classes=len(class_counts),
                             ceiling=mapping_ceiling(class_counts, k),
                             accuracy=float(hit["accuracy"].iloc[0]) if len(hit) else np.nan))
    return pd.DataFrame(rows, columns=["seed", "split", "k", "classes", "ceiling", "accuracy"])


def _listed(values: list[str]) -> str:
    """'a', 'a and b', 'a, b and c'."""
    return values[0] if len(values) == 1 else f"{', '.join(values[:-1])} and {values[-1]}"


def ceiling_sentence(ceilings: pd.DataFrame) -> str:
    """Markdown: where the elbow gave fewer clusters than classes, the cap that puts on
    protocol (a) whatever the latent ('' where it gave at least as many everywhere)."""
    short = ceilings[ceilings["k"] < ceilings["classes"]].sort_values(["split", "seed"])
    if short.empty:
        return ""
    by_k = short.drop_duplicates("seed").groupby("k")["seed"].apply(list)
    chosen = _listed([f"{k} (seed{'s' * (len(seeds) > 1)} {', '.join(map(str, seeds))})"
                      for k, seeds in by_k.items()])
    caps = []
    for split in [s for s in SPLIT_ORDER if s in set(short["split"])]:
        group = short[short["split"] == split]
        ceiling = _listed([f"{c:.3f}" for c in dict.fromkeys(group["ceiling"])])
        scored = _listed(["not scored" if pd.isna(a) else f"{a:.3f}" for a in group["accuracy"]])
        caps.append(f"at most {ceiling} on {split} (it scored {scored})")
    classes = int(short["classes"].max())
    return (f"(a) mapping: the elbow chose k = {chosen}, fewer clusters than the {classes} "
            f"classes; k clusters can name at most k classes, so whatever the latent, (a) "
            f"could reach {'; '.join(caps)}")


def dataset_findings(runs_root: str | Path, dataset: str, profiles: list[str] | None = None,
                     intervals: bool = True) -> str:
    """Markdown bullets: per profile with runs of `dataset`, the paper cells it meets and,
    per split, where our latent beats, ties or loses to each floor."""
    lines = []
    in_paper = dataset in {d for d, _ in PAPER_DATASETS.values()}
    for profile in _chosen(runs_root, profiles, dataset):
        try:
            comparison, differences = profile_frames(runs_root, profile)
        except CaeError as exc:  # e.g. runs of one profile with different settings
            lines.append(f"- **`{profile}`**: not summarised: {exc}")
            continue
        head = f"- **`{profile}`**"
        if in_paper:
            head += f": {paper_sentence(comparison, dataset)}."
        lines.append(head)
        mine = differences[differences["dataset"] == dataset] if len(differences) else differences
        for split in [s for s in SPLIT_ORDER if len(mine) and s in set(mine["split"])]:
            sentence = floors_sentence(mine[mine["split"] == split], intervals)
            lines.append(f"  - {split}: our latent {sentence}.")
        runs = [r for r in table1.finished_runs(runs_root, profile) if r.config.dataset == dataset]
        if ceiling := ceiling_sentence(mapping_ceilings(runs)):
            lines.append(f"  - {ceiling}.")
    if not lines:
        return f"No finished run of {dataset_name(dataset)} under `{runs_root}`."
    return "\n".join(lines)


def resnet_note(runs_root: str | Path, profiles: list[str]) -> str:
    """A sentence on the ResNet-18 baselines: whether any ran on untrained weights and how
    to rerun them with the ImageNet weights."""
    untrained = sum(met_counts(profile_frames(runs_root, p)[0])["untrained"] for p in profiles)
    if not untrained:
        return ""
    return ("**The paper's main comparison is not reproduced here.** The ImageNet ResNet-18 "
            "weights could not be downloaded on the machines that made these runs, so the "
            "ResNet18 and Feature+KM rows ran on an untrained ResNet-18: they are grey in "
            "every grid, marked [UNTRAINED], and left out of every count above. With the "
            f"weights, rerun them with {REWEIGHTS_HINT}.")


def findings_at_a_glance(runs_root: str | Path) -> str:
    """The body of the intro's Findings at a glance (its heading is the intro's own): per
    dataset and profile, what the runs meet and where the floors win; then the ResNet-18 note."""
    profiles = profiles_with_runs(runs_root)
    datasets = sorted({r.config.dataset for r in finished_under(runs_root)},
                      key=lambda d: (d not in DATASET_NAMES, d))
    parts = ["Generated from the committed runs (`python -m cae.report.fragments artifacts`); "
             "each profile is described in the method chapter. *Meets* means our mean over "
             "the seeds reaches the paper's value. Against a floor, *beats* and *loses to* "
             "mean the 95% interval of our accuracy minus the floor's, paired by seed, lies "
             "wholly above or below zero; *ties* means it holds zero, so these seeds cannot "
             "tell the two apart. Protocols: (a) cluster-to-label mapping, (b) 5-nearest "
             "neighbours, (c) linear probe; Hungarian is KMeans with one cluster per class "
             "(k given from the labels).", ""]
    for profile in profiles:
        comparison, _ = profile_frames(runs_root, profile)
        parts.append(f"- **`{profile}`**, all of Table 1: {paper_sentence(comparison)}.")
    parts.append("")
    for dataset in datasets:
        parts += [f"**{dataset_name(dataset)}**", "",
                  dataset_findings(runs_root, dataset, intervals=False), ""]
    note = resnet_note(runs_root, profiles)
    return "\n".join(parts + ([note, ""] if note else []))


def averaging_findings(runs_root: str | Path, profiles: list[str] | None = None,
                       paper_model: str = "Ours (lin)") -> str:
    """Markdown: per profile, which averaging of our precision and recall lies nearest the
    paper's `paper_model` row (`cae.report.averaging`), and how often an exchanged pair
    (precision and recall swapped) is the nearest by shape."""
    from cae.report import averaging

    lines, exchanged, judged = [], 0, 0
    for profile in _chosen(runs_root, profiles):
        closest = averaging.closest_averaging(averaging.averaging_candidates(
            stats.summarise(table1.collect_runs(runs_root, profile))))
        if closest.empty:
            continue
        rows = closest[(closest["paper_model"] == paper_model) & ~closest["shape_tie"]]
        exchanged += int(rows["by_shape"].str.endswith("exchanged").sum())
        judged += len(rows)
        lines += [f"- `{profile}`: {sentence}" for sentence in averaging.findings(closest, paper_model)]
    if not lines:
        return f"No finished run under `{runs_root}` has a {paper_model} row of the paper's datasets."
    reading = ("so the runs support the reading that the paper printed them exchanged"
               if judged and exchanged > judged / 2 else
               "so the runs do not single out the exchanged reading: the paper's pairs fit no "
               "one averaging, swapped or not, across profiles and splits")
    lines.append(f"\nOf the {judged} {paper_model} rows where one averaging stands out by shape, "
                 f"{exchanged} are nearest with precision and recall exchanged, {reading}.")
    return "\n".join(lines)


def met_by_profile(runs_root: str | Path, profiles: list[str] | None = None) -> pd.DataFrame:
    """Which profile meets which cell of the paper's Table 1: one line per paper cell, one
    column per profile with runs ('met', 'missed', 'untrained', 'not run'), and `met by`
    naming the profiles that meet it ('none' where no profile does)."""
    comparisons = {profile: profile_frames(runs_root, profile)[0]
                   for profile in _chosen(runs_root, profiles)}
    if not comparisons:
        raise CaeError(f"no finished run of {', '.join(profiles or ['any profile'])} under {runs_root}")
    statuses = {profile: c.apply(cell_status, axis=1) for profile, c in comparisons.items()}
    keys = next(iter(comparisons.values()))[["paper_model", "paper_dataset", "metric"]]
    table = pd.concat([keys, pd.DataFrame(statuses)], axis=1)
    met = table[list(statuses)].eq("met")
    untrained = table[list(statuses)].eq("untrained").any(axis=1)
    table["met by"] = [", ".join(p for p in statuses if row[p]) or
                       ("untrained weights" if untrained[i] else "none")
                       for i, row in met.iterrows()]
    return table.set_index(["paper_model", "paper_dataset", "metric"]).rename_axis(
        index=["row (paper)", "dataset", "metric"])


def unmet_sentence(table: pd.DataFrame) -> str:
    """Markdown: the paper cells no profile meets, from `met_by_profile`'s table."""
    unmet = table[table["met by"] == "none"]
    untrained = int((table["met by"] == "untrained weights").sum())
    cells = "; ".join(f"{model}, {dataset}, {metric}" for model, dataset, metric in unmet.index)
    text = (f"No profile meets {len(unmet)} of the paper's {len(table)} numbers: {cells}."
            if len(unmet) else f"Every judged cell of the paper's {len(table)} is met by some profile.")
    return text + (f" The {untrained} ResNet-18 cells ran on untrained weights and are not judged."
                   if untrained else "")
