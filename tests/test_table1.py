"""Table 1 assembly on hand-made run directories: collection, interval maths, paper mapping."""

from __future__ import annotations

import json
import math

import numpy as np
import pandas as pd
import pytest
import torch
from conftest import T_975_DF1, T_975_DF2, metrics_row, write_run

from cae.data.datasets import Dataset, Split
from cae.errors import CaeError
from cae.infra.runs import RunArtifacts
from cae.report import paper, readouts, stats, table1


def test_paper_table_rows_all_map_to_our_models_and_splits():
    assert len(paper.PAPER_TABLE1) == 15
    assert {(m, d) for m, d, *_ in paper.PAPER_TABLE1} == {
        (m, d) for m in paper.PAPER_MODELS for d in paper.PAPER_DATASETS}
    assert paper.PAPER_MODELS["Ours (kNN)"] == ("CAE (ours)", "knn")
    assert paper.PAPER_MODELS["Feature+KM"] == ("Feature+KM", "stat")
    assert paper.PAPER_DATASETS["Pneumonia val"] == ("pneumoniamnist", "val")
    assert paper.PAPER_DATASETS["MNIST"] == ("mnist", "test")
    lin_test = next(r for r in paper.PAPER_TABLE1 if r[:2] == ("Ours (lin)", "Pneumonia test"))
    assert lin_test[2:] == (0.84, 0.80, 0.88)


def test_t_interval_two_and_three_values_and_one_value():
    lo, hi = stats.t_interval(np.array([0.7, 0.9]))  # mean 0.8, s / sqrt(n) = 0.1
    assert lo == pytest.approx(0.8 - 0.1 * T_975_DF1, abs=1e-12)
    assert hi == pytest.approx(0.8 + 0.1 * T_975_DF1, abs=1e-12)
    lo, hi = stats.t_interval(np.array([0.8, 0.9, 1.0]))  # mean 0.9, s = 0.1
    assert (lo, hi) == pytest.approx((0.9 - T_975_DF2 * 0.1 / math.sqrt(3),
                                      0.9 + T_975_DF2 * 0.1 / math.sqrt(3)), abs=1e-9)
    assert all(math.isnan(v) for v in stats.t_interval(np.array([0.5])))
    assert stats.t_interval(np.array([0.6, 0.6, 0.6])) == pytest.approx((0.6, 0.6))


def test_summarise_mean_interval_n_and_missing_values():
    rows = pd.DataFrame([
        dict(dataset="mnist", **metrics_row("CAE (ours)", "test", "knn", 0, 0.7, nmi=math.nan)),
        dict(dataset="mnist", **metrics_row("CAE (ours)", "test", "knn", 1, 0.9, nmi=math.nan)),
        dict(dataset="mnist", **metrics_row("CAE (ours)", "test", "stat", 0, 0.5, nmi=0.25)),
        dict(dataset="mnist", **metrics_row("CAE (ours)", "test", "stat", 1, 0.6, nmi=math.nan)),
    ])
    summary = stats.summarise(rows).set_index(["protocol", "metric"])
    knn = summary.loc[("knn", "accuracy")]
    assert (knn["n"], knn["mean"], knn["seeds"]) == (2, pytest.approx(0.8), "0,1")
    assert knn["lo"] == pytest.approx(0.8 - 0.1 * T_975_DF1)
    assert ("knn", "nmi") not in summary.index  # never defined for kNN: no row at all
    nmi = summary.loc[("stat", "nmi")]
    assert (nmi["n"], nmi["mean"], nmi["seeds"]) == (1, 0.25, "0")
    assert math.isnan(nmi["lo"]) and math.isnan(nmi["hi"])
    assert list(summary.loc["knn"].index) == ["accuracy", "precision_weighted", "recall_weighted"]


def _two_seed_summary() -> pd.DataFrame:
    rows = []
    for seed, acc in ((0, 0.80), (1, 0.90)):
        rows += [dict(dataset="pneumoniamnist", **metrics_row("CAE (ours)", "val", "knn", seed, acc,
                                                       precision_weighted=acc - 0.1,
                                                       precision_macro=0.5, precision_pos=0.7)),
                 dict(dataset="pneumoniamnist", **metrics_row("ResNet18", "test", "transfer", seed, 0.6,
                                                       weights="untrained"))]
    return stats.summarise(pd.DataFrame(rows))


def test_compare_with_paper_maps_rows_and_takes_the_difference():
    comparison = table1.compare_with_paper(_two_seed_summary())
    assert len(comparison) == 15 * 3
    cell = comparison.set_index(["paper_model", "paper_dataset", "metric"])
    knn_acc = cell.loc[("Ours (kNN)", "Pneumonia val", "accuracy")]
    assert (knn_acc["paper"], knn_acc["mean"], knn_acc["n"]) == (0.84, pytest.approx(0.85), 2)
    assert knn_acc["difference"] == pytest.approx(0.85 - 0.84)
    assert knn_acc["lo"] == pytest.approx(0.85 - 0.05 * T_975_DF1)
    knn_prec = cell.loc[("Ours (kNN)", "Pneumonia val", "precision")]
    assert knn_prec["ours_as"] == "precision_weighted"
    assert (knn_prec["paper"], knn_prec["mean"]) == (0.86, pytest.approx(0.75))
    assert (knn_prec["macro"], knn_prec["pos"]) == (0.5, 0.7)
    resnet = cell.loc[("ResNet18", "Pneumonia test", "recall")]
    assert (resnet["model"], resnet["protocol"], resnet["split"]) == ("ResNet18", "transfer", "test")
    assert resnet["weights"] == "untrained" and resnet["difference"] == pytest.approx(0.6 - 0.74)
    missing = cell.loc[("Ours (lin)", "MNIST", "accuracy")]
    assert missing["n"] == 0 and math.isnan(missing["mean"]) and math.isnan(missing["difference"])


def test_comparison_table_text_flags_untrained_and_missing_runs():
    table = table1.comparison_table(table1.compare_with_paper(_two_seed_summary()))
    knn = table.loc[("Ours (kNN)", "Pneumonia val", "precision (weighted)")]
    low, high = 0.75 - 0.05 * T_975_DF1, 0.75 + 0.05 * T_975_DF1
    assert knn.to_dict() == {"paper": "0.86", "ours": "0.750", "95% CI": f"[{low:.3f}, {high:.3f}]",
                             "CI over": "seeds (t)", "n": 2, "ours - paper": "-0.110", "macro": "0.500",
                             "positive": "0.700"}
    assert table.loc[("ResNet18 [UNTRAINED]", "Pneumonia test", "accuracy"),
                     "ours - paper"] == "-0.140"
    missing = table.loc[("Ours (lin)", "MNIST", "accuracy")]
    assert (missing["ours"], missing["95% CI"], missing["n"]) == ("not run", "", 0)
    assert table1.format_interval(math.nan, math.nan, 1) == "n=1"


def _bootstrapped_rows(seeds: list[int]) -> pd.DataFrame:
    return pd.DataFrame([dict(dataset="mnist",
                              **metrics_row("CAE (ours)", "test", "knn", seed, 0.9 + seed / 100,
                                            accuracy_lo=0.8 + seed / 100, accuracy_hi=0.95,
                                            precision_weighted_lo=0.7,
                                            precision_weighted_hi=0.99))
                         for seed in seeds])


def test_few_seeds_use_the_mean_bootstrap_over_images_many_seeds_the_t_interval():
    two = table1.compare_with_paper(stats.summarise(_bootstrapped_rows([0, 1]))).set_index(
        ["paper_model", "paper_dataset", "metric"])
    acc = two.loc[("Ours (kNN)", "MNIST", "accuracy")]
    assert (acc["lo"], acc["hi"], acc["interval"]) == (pytest.approx(0.805), 0.95,
                                                       "images (bootstrap)")
    recall = two.loc[("Ours (kNN)", "MNIST", "recall")]  # weighted recall = accuracy
    assert (recall["lo"], recall["hi"]) == (pytest.approx(0.805), 0.95)
    precision = two.loc[("Ours (kNN)", "MNIST", "precision")]
    assert (precision["lo"], precision["hi"]) == (0.7, 0.99)
    three = table1.compare_with_paper(stats.summarise(_bootstrapped_rows([0, 1, 2]))).set_index(
        ["paper_model", "paper_dataset", "metric"]).loc[("Ours (kNN)", "MNIST", "accuracy")]
    assert three["interval"] == "seeds (t)"
    assert (three["lo"], three["hi"]) == pytest.approx((0.91 - T_975_DF2 * 0.01 / math.sqrt(3),
                                                        0.91 + T_975_DF2 * 0.01 / math.sqrt(3)))
    one = table1.comparison_table(table1.compare_with_paper(stats.summarise(
        _bootstrapped_rows([0])))).loc[("Ours (kNN)", "MNIST", "accuracy")]
    assert (one["95% CI"], one["CI over"], one["n"]) == ("[0.800, 0.950]", "images (bootstrap)", 1)


def test_estimate_text_never_prints_a_zero_half_width():
    assert table1.estimate_text(0.85, 0.80, 0.90) == "0.850 ± 0.050"
    assert table1.estimate_text(0.85, math.nan, math.nan) == "0.850"  # one seed: no interval
    assert table1.estimate_text(0.974, 0.974, 0.974) == "0.974"  # seeds that agree
    assert table1.estimate_text(0.974, 0.9736, 0.9744) == "0.974"  # narrower than the last digit
    assert table1.estimate_text(0.974, 0.9730, 0.9750) == "0.974 ± 0.001"


def test_estimates_table_mean_plus_minus_half_width():
    summary = _two_seed_summary()
    table = table1.estimates_table(summary, ["CAE (ours)"], ["accuracy", "precision_macro"])
    line = table.loc[("pneumoniamnist", "val", "CAE (ours)", "knn")]
    assert line.to_dict() == {"accuracy": f"0.850 ± {0.05 * T_975_DF1:.3f}",
                              "precision macro": "0.500", "n": 2}


def _floor_summary() -> pd.DataFrame:
    """Two seeds of the three floors on PneumoniaMNIST test: the majority class and raw
    pixels the same on both seeds, the untrained encoder not."""
    rows = []
    for seed in (0, 1):
        rows += [metrics_row("majority class", "test", "-", seed, 0.625, auc=0.5),
                 metrics_row("raw pixels", "test", "knn", seed, 0.824, auc=0.867),
                 metrics_row("raw pixels", "test", "stat", seed, 0.832, auc=0.88, nmi=0.241),
                 metrics_row("untrained encoder", "test", "knn", seed, 0.80 + 0.04 * seed, auc=0.9)]
    return stats.summarise(pd.DataFrame([dict(dataset="pneumoniamnist", **r) for r in rows]))


def test_floors_table_has_the_protocols_across_and_one_line_per_metric():
    table = table1.floors_table(_floor_summary())
    assert list(table.columns) == [("majority class", "any protocol"), ("raw pixels", "(a) mapping"),
                                   ("raw pixels", "(b) kNN"), ("untrained encoder", "(b) kNN"),
                                   ("n", "")]
    assert list(table.index) == [("pneumoniamnist", "test", m) for m in (
        "accuracy", "precision weighted", "AUC", "NMI")]
    accuracy = table.loc[("pneumoniamnist", "test", "accuracy")]
    assert accuracy.tolist() == ["0.625", "0.832", "0.824", f"0.820 ± {0.02 * T_975_DF1:.3f}", "2"]
    nmi = table.loc[("pneumoniamnist", "test", "NMI")]  # defined for protocol (a) only
    assert nmi.tolist() == ["", "0.241", "", "", "2"]
    assert not table.map(lambda cell: "± 0.000" in str(cell)).any().any()


def test_collect_runs_reads_one_profile_and_checks_configs(tmp_path):
    write_run(tmp_path, "mnist", 0, [metrics_row("CAE (ours)", "test", "knn", 0, 0.9)])
    write_run(tmp_path, "mnist", 1, [metrics_row("CAE (ours)", "test", "knn", 1, 0.8)])
    write_run(tmp_path, "mnist", 0, [metrics_row("CAE (ours)", "test", "knn", 0, 0.1)], profile="quick")
    (tmp_path / "unfinished").mkdir()
    rows = table1.collect_runs(tmp_path, "smoke")
    assert list(rows[["dataset", "seed", "accuracy"]].itertuples(index=False, name=None)) == [
        ("mnist", 0, 0.9), ("mnist", 1, 0.8)]
    assert list(rows.columns[:6]) == ["dataset", "seed", "run", "model", "split", "protocol"]
    assert table1.runs_overview(tmp_path, "smoke")["wall time"].tolist() == ["42 s", "42 s"]
    assert "`mnist`: 2 seeds (0, 1)" in table1.runs_note(tmp_path, "smoke")
    with pytest.raises(CaeError, match="no finished 'paper' runs"):
        table1.collect_runs(tmp_path, "paper")
    write_run(tmp_path, "mnist", 2, [metrics_row("CAE (ours)", "test", "knn", 2, 0.8)], temperature=0.2)
    with pytest.raises(CaeError, match="differ in more than the seed"):
        table1.collect_runs(tmp_path, "smoke")


def test_provenance_note_and_metrics_view(tmp_path):
    rows = [metrics_row("CAE (ours)", "test", "stat", 0, 0.8123, k=3.0, nmi=0.5),
            metrics_row("ResNet18", "test", "transfer", 0, 0.5, weights="untrained")]
    artifacts = RunArtifacts.read(write_run(tmp_path, "mnist", 0, rows))
    note = readouts.provenance_note(artifacts)
    assert "profile **smoke**, seed 0" in note and "`mnist.npz` `" + "0" * 32 + "`" in note
    assert "Wall time: 42 s (train 30 s, evaluate 12 s)." in note and "Peak memory" not in note
    provenance = json.loads((artifacts.run_dir / "provenance.json").read_text())
    (artifacts.run_dir / "provenance.json").write_text(json.dumps({**provenance,
                                                                   "peak_rss_mb": 1536}))
    assert "Peak memory: 1.5 GiB." in readouts.provenance_note(RunArtifacts.read(artifacts.run_dir))
    view = readouts.metrics_view(artifacts.metrics, ["CAE (ours)"])
    assert view.loc[("CAE (ours)", "test", "stat"), ("accuracy", "")] == "0.812"
    assert view.loc[("CAE (ours)", "test", "stat"), ("precision", "weighted")] == "0.812"
    assert view.loc[("CAE (ours)", "test", "stat"), ("k", "")] == "3"
    assert "weights" not in view.columns.get_level_values(0)
    assert "UNTRAINED" in readouts.weights_warning(artifacts.metrics)


def test_class_proportions_counts_and_shares():
    def split(labels):
        return Split(torch.zeros(len(labels), 1, 28, 28, dtype=torch.uint8), torch.tensor(labels))

    data = Dataset("toy", {"train": split([0, 1, 1, 1]), "test": split([0, 0, 1])},
                   ["normal", "pneumonia"])
    table = readouts.class_proportions(data)
    assert table.loc["train"].tolist() == [4, 1, 3, 0.25, 0.75]
    assert table.loc["test", "normal share"] == 0.667


def test_accuracy_verdicts_against_the_paper_and_the_pixel_floor():
    rows = pd.DataFrame([dict(dataset="pneumoniamnist", **r) for r in (
        metrics_row("CAE (ours)", "test", "knn", 0, 0.86),
        metrics_row("raw pixels", "test", "knn", 0, 0.82),
        metrics_row("CAE (ours)", "test", "lin", 0, 0.80),
        metrics_row("raw pixels", "test", "lin", 0, 0.83))])
    summary = stats.summarise(rows)
    verdicts = table1.accuracy_verdicts(table1.compare_with_paper(summary), summary)
    assert verdicts.loc[("Ours (kNN)", "Pneumonia test")].to_dict() == {
        "paper": "0.84", "ours": "0.860", "n": 1, "paper target": "met", "raw pixels": "0.820",
        "pixel floor": "beaten by 0.040"}
    lin = verdicts.loc[("Ours (lin)", "Pneumonia test")]
    assert (lin["paper target"], lin["pixel floor"]) == ("missed by 0.040", "not beaten (-0.030)")
    assert len(verdicts) == 2  # rows without runs are left out


def test_clustering_head_rows_are_compared_with_the_papers_mapping_cell():
    rows = pd.DataFrame([dict(dataset="mnist", **r) for r in (
        metrics_row("CAE (ours)", "test", "stat", 0, 0.60),
        metrics_row("CAE (ours)", "test", "hungarian", 0, 0.61),
        metrics_row("CAE + clustering head", "test", "stat", 0, 0.95),
        metrics_row("CAE + clustering head", "test", "hungarian", 0, 0.94),
        metrics_row("raw pixels", "test", "stat", 0, 0.55),
        metrics_row("raw pixels", "test", "hungarian", 0, 0.53))])
    summary = stats.summarise(rows)
    verdicts = table1.accuracy_verdicts(table1.compare_with_paper(summary), summary)
    head = verdicts.loc[(table1.HEAD_ROW, "MNIST")]
    assert (head["ours"], head["paper target"], head["pixel floor"]) == ("0.950", "met",
                                                                          "beaten by 0.400")
    assert verdicts.loc[("Ours (stat)", "MNIST"), "paper target"] == "missed by 0.300"
    hungarian = table1.hungarian_table(summary)
    assert set(hungarian.index.get_level_values("model")) == {
        "CAE (ours)", "CAE + clustering head", "raw pixels"}
    assert hungarian.loc[("mnist", "test", "CAE + clustering head", "hungarian"), "accuracy"] == "0.940"
    assert ("mnist", "test", "raw pixels", "stat") not in hungarian.index


def test_profile_change_lines_up_two_profiles():
    before = stats.summarise(pd.DataFrame([dict(dataset="mnist",
                                                **metrics_row("CAE (ours)", "test", "knn", 0, 0.9))]))
    after = stats.summarise(pd.DataFrame([dict(dataset="mnist", **r) for r in (
        metrics_row("CAE (ours)", "test", "knn", 0, 0.95),
        metrics_row("CAE + clustering head", "test", "hungarian", 0, 0.9))]))
    change = table1.profile_change(before, after)
    assert change.loc[("mnist", "test", "CAE (ours)", "knn")].tolist() == ["0.900", "0.950", "0.050"]
    assert change.loc[("mnist", "test", "CAE + clustering head", "hungarian")].tolist() == ["", "0.900", ""]


def test_has_runs_finds_a_profile(tmp_path):
    assert not table1.has_runs(tmp_path / "missing", "validated")
    write_run(tmp_path, "mnist", 0, [metrics_row("CAE (ours)", "test", "knn", 0, 0.9)], profile="validated")
    assert table1.has_runs(tmp_path, "validated") and not table1.has_runs(tmp_path, "paper")


def test_collect_runs_counts_shared_floor_rows_once(tmp_path):
    shared = metrics_row("raw pixels", "test", "knn", 0, 0.97, floors_cache="mnist-0123.json")
    write_run(tmp_path, "mnist", 0, [metrics_row("CAE (ours)", "test", "knn", 0, 0.9), shared])
    write_run(tmp_path, "mnist", 1, [metrics_row("CAE (ours)", "test", "knn", 1, 0.8), shared])
    rows = table1.collect_runs(tmp_path, "smoke")
    assert rows.groupby("model").size().to_dict() == {"CAE (ours)": 2, "raw pixels": 1}
    clash = metrics_row("raw pixels", "test", "knn", 0, 0.5, floors_cache="mnist-0123.json")
    write_run(tmp_path, "mnist", 2, [metrics_row("CAE (ours)", "test", "knn", 2, 0.8), clash])
    with pytest.raises(CaeError, match="two runs"):
        table1.collect_runs(tmp_path, "smoke")


def test_reporting_imports_no_training_code():
    import subprocess
    import sys

    code = ("import sys, cae.report.table1, cae.report.ablation, cae.report.readouts; "
            "print(' '.join(m for m in sys.modules if m.startswith('cae.')))")
    loaded = set(subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                                check=True).stdout.split())
    training = {"cae.method.train", "cae.pipeline", "cae.method.models", "cae.method.losses", "cae.method.optim",
                "cae.method.augment", "cae.evaluation.baselines", "cae.method.cluster_head"}
    assert "cae.report.table1" in loaded and not loaded & training
