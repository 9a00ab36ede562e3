"""The book's verdict sentences (cae.report.verdicts) and its generated fragments."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from cae import names
from cae.errors import CaeError
from cae.infra.runs import RunArtifacts
from cae.report import fragments, verdicts

ROOT = Path(__file__).resolve().parent.parent


def _diff(protocol: str, floor: str, difference: float, lo: float, hi: float, seeds: int = 5) -> dict:
    verdict = "one seed" if np.isnan(lo) else "beats" if lo > 0 else "loses" if hi < 0 else "ties"
    return dict(dataset="pneumoniamnist", split="test", protocol=protocol, floor=floor,
                difference=difference, lo=lo, hi=hi, seeds=seeds, verdict=verdict)


@pytest.fixture
def differences() -> pd.DataFrame:
    return pd.DataFrame([
        _diff(names.KNN, names.RAW_PIXELS, 0.034, 0.020, 0.047),
        _diff(names.STAT, names.RAW_PIXELS, -0.106, -0.126, -0.086),
        _diff(names.LIN, names.RAW_PIXELS, -0.008, -0.016, 0.001),
        _diff(names.HUNGARIAN, names.UNTRAINED, -0.071, -0.111, -0.030),
        _diff(names.KNN, names.UNTRAINED, 0.039, 0.014, 0.065),
        _diff(names.KNN, names.MAJORITY, 0.232, 0.219, 0.246),
        _diff(names.HUNGARIAN, names.MAJORITY, -0.115, -0.148, -0.083),
    ])


def test_floor_clause_groups_protocols_by_verdict_in_protocol_order(differences):
    assert verdicts.floor_clause(differences, names.RAW_PIXELS) == (
        "beats raw pixels on (b) kNN (+0.034 [+0.020, +0.047]); "
        "ties them on (c) linear (-0.008 [-0.016, +0.001]); "
        "loses to them on (a) mapping (-0.106 [-0.126, -0.086])")
    assert verdicts.floor_clause(differences, names.UNTRAINED, intervals=False) == (
        "beats the untrained encoder on (b) kNN; loses to it on Hungarian (k = classes)")


def test_the_majority_class_is_named_only_where_it_is_not_beaten(differences):
    assert verdicts.floor_clause(differences, names.MAJORITY, only_unbeaten=True, intervals=False) == (
        "loses to the majority class on Hungarian (k = classes)")
    beaten = differences[differences["protocol"] == names.KNN]
    assert verdicts.floor_clause(beaten, names.MAJORITY, only_unbeaten=True) == ""
    sentence = verdicts.floors_sentence(differences, intervals=False)
    assert sentence.endswith("loses to the majority class on Hungarian (k = classes) (5 seeds)")


def _cell(mean: float, paper: float, n: int = 5, weights: str = "") -> dict:
    return dict(mean=mean, paper=paper, n=n, weights=weights, dataset="pneumoniamnist")


def test_untrained_baselines_are_neither_met_nor_missed():
    comparison = pd.DataFrame([_cell(0.86, 0.84), _cell(0.80, 0.84), _cell(0.84, 0.84),
                               _cell(0.90, 0.74, weights="untrained"), _cell(np.nan, 0.5, n=0)])
    assert list(comparison.apply(verdicts.cell_status, axis=1)) == [
        "met", "missed", "met", "untrained", "not run"]
    assert verdicts.paper_sentence(comparison) == (
        "meets 2 of the 3 paper numbers it can be judged on (1 ResNet-18 number ran on "
        "untrained weights and is not counted; 1 has no run)")


def test_committed_fragments_are_what_the_committed_runs_give():
    """book/generated/ must be regenerated (python -m cae.report.fragments artifacts) after
    any change to the runs, the benchmarks, the profiles or the sentences that read them."""
    for name, text in fragments.render(ROOT / "artifacts", ROOT / "benchmarks" / "results").items():
        committed = (ROOT / "book" / "generated" / name).read_text(encoding="utf8")
        assert committed == text, (f"book/generated/{name} is stale: run "
                                   "python -m cae.report.fragments artifacts")


def test_fragments_command_refuses_a_missing_runs_folder(tmp_path, capsys):
    assert fragments.main([str(tmp_path / "missing"), "--out", str(tmp_path / "out")]) == 2
    assert "error" in capsys.readouterr().err


def test_met_by_profile_names_the_profiles_meeting_each_paper_cell():
    table = verdicts.met_by_profile(ROOT / "artifacts", ["paper", "validated"])
    assert len(table) == 45
    for _, row in table.iterrows():
        met = [p for p in ("paper", "validated") if row[p] == "met"]
        untrained = (row[["paper", "validated"]] == "untrained").any()
        assert row["met by"] == (", ".join(met) or ("untrained weights" if untrained else "none"))
    assert verdicts.unmet_sentence(table).startswith("No profile meets")


def test_profiles_asked_for_without_runs_are_left_out(tmp_path):
    """The Table 1 chapter asks for every profile; a runs folder holding some still builds."""
    assert verdicts.met_by_profile(ROOT / "artifacts", ["paper", "no-such-profile"]).columns[0] == "paper"
    assert verdicts.averaging_findings(ROOT / "artifacts", ["no-such-profile"]).startswith("No finished run")
    with pytest.raises(CaeError, match="no finished run"):
        verdicts.met_by_profile(tmp_path, ["paper"])


def _ceiling(seed: int, split: str, k: int, ceiling: float, accuracy: float, classes: int = 10) -> dict:
    return dict(seed=seed, split=split, k=k, classes=classes, ceiling=ceiling, accuracy=accuracy)


def test_ceiling_sentence_says_what_too_few_clusters_cap_protocol_a_at():
    ceilings = pd.DataFrame([_ceiling(1, "test", 4, 0.42, 0.33), _ceiling(0, "test", 4, 0.42, 0.31),
                             _ceiling(2, "test", 7, 0.718, 0.5), _ceiling(0, "val", 4, 0.43, 0.3),
                             _ceiling(3, "test", 12, 1.0, 0.9)])
    assert verdicts.ceiling_sentence(ceilings) == (
        "(a) mapping: the elbow chose k = 4 (seeds 0, 1) and 7 (seed 2), fewer clusters than the "
        "10 classes; k clusters can name at most k classes, so whatever the latent, (a) could "
        "reach at most 0.420 and 0.718 on test (it scored 0.310, 0.330 and 0.500); at most "
        "0.430 on val (it scored 0.300)")
    assert verdicts.ceiling_sentence(ceilings[ceilings["k"] >= 10]) == ""


def test_mapping_ceilings_read_the_class_counts_of_a_committed_run():
    """MNIST's test split, by class 0-9 (its published counts): k clusters can be right on
    at most the share of its k largest classes (four: 1,135 + 1,032 + 1,028 + 1,010)."""
    mnist_test = sorted([980, 1135, 1032, 1010, 982, 892, 958, 1028, 974, 1009], reverse=True)
    run = RunArtifacts.read(ROOT / "artifacts" / "mnist-paper-seed0")
    ceilings = verdicts.mapping_ceilings([run])
    test = ceilings[ceilings["split"] == "test"].iloc[0]
    assert (test["k"], test["classes"]) == (run.elbow["k"], 10)
    assert test["ceiling"] == pytest.approx(sum(mnist_test[:test["k"]]) / 10_000)
    assert test["accuracy"] <= test["ceiling"]
