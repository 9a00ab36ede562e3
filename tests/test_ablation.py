"""Ablations read from hand-made run directories: loss variants over seeds, single changes."""

from __future__ import annotations

import json

import pytest
from conftest import T_975_DF1, metrics_row, write_run

from cae.config import make_config
from cae.errors import CaeError
from cae.infra.runs import RunArtifacts, class_count_k, composition_ks, read_against_k
from cae.report import ablation


def _runs(tmp_path, accuracy: dict[str, list[float]], extra_main_seed: bool = True):
    """Main runs (the combination) and ablation runs of seeds 0 and 1 under tmp_path."""
    main, abl = tmp_path / "artifacts", tmp_path / "artifacts" / "ablation"
    weights = {"autoencoder alone": dict(contrastive_weight=0.0),
               "contrastive alone": dict(alpha=0.0), "both (paper)": {},
               "variational (both + KL)": dict(variational=True)}
    for variant, values in accuracy.items():
        for seed, value in enumerate(values):
            rows = [metrics_row("CAE (ours)", "test", "knn", seed, value),
                    metrics_row("raw pixels", "test", "knn", seed, 0.99)]
            if variant == "both (paper)":
                write_run(main, "pneumoniamnist", seed, rows)
            else:
                write_run(abl, "pneumoniamnist", seed, rows, name=f"{variant[:3]}-seed{seed}",
                          **weights[variant])
    if extra_main_seed:  # a seed the ablation lacks: left out of the comparison
        write_run(main, "pneumoniamnist", 7, [metrics_row("CAE (ours)", "test", "knn", 7, 0.1)])
    return abl, main


def test_variant_of_reads_the_loss_weights():
    assert ablation.variant_of(make_config("smoke", contrastive_weight=0.0)) == "autoencoder alone"
    assert ablation.variant_of(make_config("smoke", alpha=0.0)) == "contrastive alone"
    assert ablation.variant_of(make_config("smoke")) == "both (paper)"
    assert ablation.variant_of(make_config("smoke", variational=True)) == "variational (both + KL)"


def test_ablation_rows_and_table_over_the_shared_seeds(tmp_path):
    abl, main = _runs(tmp_path, {"autoencoder alone": [0.70, 0.80],
                                 "contrastive alone": [0.85, 0.85],
                                 "both (paper)": [0.90, 0.80],
                                 "variational (both + KL)": [0.60, 0.60]})
    rows = ablation.ablation_rows(abl, main, profile="smoke")
    assert set(rows["model"]) == set(ablation.VARIANTS)  # encoder rows only, renamed
    assert ablation.seeds_note(rows) == ("Seeds: autoencoder alone 0, 1; contrastive alone 0, 1; "
                                         "both (paper) 0, 1; variational (both + KL) 0, 1.")
    table = ablation.ablation_table(rows)
    assert list(table.columns) == ["(b) kNN", "n"]  # the protocols across
    accuracy = table.loc[("pneumoniamnist", "test", "accuracy")]
    assert list(accuracy.index) == list(ablation.VARIANTS)
    # the seeds of contrastive alone and of the variational runs agree: no "± 0.000"
    assert accuracy["(b) kNN"].tolist() == [f"0.750 ± {0.05 * T_975_DF1:.3f}", "0.850",
                                            f"0.850 ± {0.05 * T_975_DF1:.3f}", "0.600"]
    assert accuracy["n"].tolist() == ["2", "2", "2", "2"]
    assert list(table.index.get_level_values("metric").unique()) == ["accuracy"]


def test_ablation_refuses_runs_that_differ_in_more_than_the_loss(tmp_path):
    abl, main = _runs(tmp_path, {"autoencoder alone": [0.7], "both (paper)": [0.9]})
    write_run(abl, "pneumoniamnist", 1, [metrics_row("CAE (ours)", "test", "knn", 1, 0.5)],
              name="odd", alpha=0.0, temperature=0.2)
    with pytest.raises(CaeError, match="differ in more than the seed and the loss weights"):
        ablation.ablation_rows(abl, main, profile="smoke")


def test_ablation_without_runs_says_how_to_make_them(tmp_path):
    assert ablation.ablation_runs(tmp_path / "none") == []
    assert "scripts/run_ablation.sh" in ablation.missing_note(tmp_path / "none")
    with pytest.raises(CaeError, match="scripts/run_ablation.sh"):
        ablation.ablation_rows(tmp_path / "none", tmp_path, profile="smoke")


def _single_run(root, name, accuracies, against_k, elbow_k, **overrides):
    """A finished MNIST run with our three protocols on test, its elbow and its curve against k."""
    rows = [metrics_row("CAE (ours)", "test", p, 0, a) for p, a in zip(("stat", "knn", "lin"), accuracies)]
    run_dir = write_run(root, "mnist", 0, rows, name=name, **overrides)
    (run_dir / "elbow.json").write_text(json.dumps({"k": elbow_k, "ks": [2, 3, 4]}))
    (run_dir / "mapping_vs_k.json").write_text(json.dumps(against_k))
    return RunArtifacts.read(run_dir)


def _against_k(accuracy, nmi, ari):
    """Protocol (a) against k = 2..4 on a 3-class test split (so k = 3 is compared)."""
    composition = [[[1, 0, 0]] * k for k in (2, 3, 4)]
    return {"ks": [2, 3, 4], "test": {"accuracy": accuracy, "nmi": nmi, "ari": ari,
                                      "composition": composition}}


def test_single_change_table_sets_two_runs_side_by_side(tmp_path):
    paper = _single_run(tmp_path, "paper", (0.4, 0.97, 0.96),
                        _against_k([0.2, 0.3, 0.5], [0.1, 0.2, 0.4], [0.0, 0.1, 0.3]), elbow_k=3)
    noflip = _single_run(tmp_path, "noflip", (0.6, 0.98, 0.97),
                         _against_k([0.2, 0.4, 0.7], [0.1, 0.3, 0.6], [0.0, 0.2, 0.5]), elbow_k=4,
                         hflip=False)
    assert ablation.single_change(paper, noflip) == ("hflip", True, False)
    table = ablation.single_change_table(paper, noflip, "test")
    assert list(table.columns) == ["hflip = True", "hflip = False", "change"]
    assert table.loc["(a) mapping, elbow's k"].tolist() == [0.4, 0.6, 0.2]
    assert table.loc["elbow's k"].tolist() == [3, 4, 1]
    assert table.loc["(a) mapping at k = 3"].tolist() == [0.3, 0.4, 0.1]
    assert table.loc["NMI at k = 3"].tolist() == [0.2, 0.3, 0.1]
    assert table.loc["(c) linear"].tolist() == [0.96, 0.97, 0.01]
    curves = ablation.single_change_curves(paper, noflip, "test").axes[0].lines
    assert [line.get_label() for line in curves][::2] == ["hflip = True: mapped accuracy",
                                                          "hflip = False: mapped accuracy"]
    assert curves[2].get_ydata().tolist() == [0.2, 0.4, 0.7]


def test_single_change_refuses_runs_differing_in_two_settings(tmp_path):
    curve = _against_k([0.2, 0.3, 0.5], [0.1, 0.2, 0.4], [0.0, 0.1, 0.3])
    paper = _single_run(tmp_path, "paper", (0.4, 0.97, 0.96), curve, elbow_k=3)
    other = _single_run(tmp_path, "other", (0.4, 0.97, 0.96), curve, elbow_k=3, hflip=False,
                        temperature=0.2)
    with pytest.raises(CaeError, match="exactly one setting; they differ in hflip, temperature"):
        ablation.single_change(paper, other)
    (other.run_dir / "mapping_vs_k.json").write_text(json.dumps({"ks": [2], "test": {
        "accuracy": [0.5], "nmi": [0.1], "ari": [0.0]}}))
    with pytest.raises(CaeError, match="older than the cluster composition"):
        read_against_k(other.run_dir)


def test_class_count_k_is_the_range_k_nearest_the_classes():
    assert class_count_k([2, 3, 4, 5], 10) == 5
    assert class_count_k([2, 3, 4, 5], 3) == 3
    assert class_count_k([3, 4], 2) == 3
    assert composition_ks({"k": 5, "ks": list(range(2, 11))}, n_classes=10) == [5, 10]
    assert composition_ks({"k": 2, "ks": list(range(2, 11))}, n_classes=2) == [2]
