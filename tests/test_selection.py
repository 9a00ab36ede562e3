"""The selection split and the training budget in steps (issue 22): a stratified, fixed
hold-out of train that screens choose on, and epochs stretched to a number of steps."""

import json

import numpy as np
import pytest
import torch

from cae.config import (
    load_config,
    make_config,
    planned_train_size,
    selection_size,
    step_budget,
    steps_per_epoch,
)
from cae.data.datasets import SELECTION, load_dataset
from cae.errors import CaeError
from cae.infra.runs import steps_of
from cae.method.augment import AugmentParams, augment
from cae.method.models import Encoder


def _rows(images: torch.Tensor) -> set[tuple[int, ...]]:
    return {tuple(img.reshape(-1).tolist()) for img in images}


def test_selection_split_is_stratified_fixed_disjoint_and_recorded(fake_mnist_dir):
    full = load_dataset("mnist", fake_mnist_dir).splits["train"]
    a = load_dataset("mnist", fake_mnist_dir, selection_fraction=0.1, seed=0)
    b = load_dataset("mnist", fake_mnist_dir, selection_fraction=0.1, seed=5)
    assert SELECTION not in a.splits  # reported runs drop it: the selection split is for screens
    s = load_dataset("mnist", fake_mnist_dir, selection_fraction=0.1, score_on="selection", seed=0)
    assert list(s.splits) == ["train", SELECTION] and s.eval_splits == [SELECTION]
    selection, train = s.splits[SELECTION], s.splits["train"]
    assert len(selection) == 60 and len(train) == 540 == len(a.splits["train"])
    assert np.bincount(selection.labels.numpy()).tolist() == [20, 20, 20]  # stratified
    assert torch.equal(a.splits["train"].images, b.splits["train"].images)  # run seed: same split
    assert not _rows(selection.images) & _rows(train.images)
    assert _rows(selection.images) | _rows(train.images) == _rows(full.images)
    assert s.selection["size"] == 60 and s.selection["stratified"] and s.selection["seed"] == 0
    assert len(s.selection["indices_sha256"]) == 64 and a.selection == s.selection


def test_screen_on_mnist_uses_the_held_out_val_as_its_selection_split(fake_mnist_dir):
    val = load_dataset("mnist", fake_mnist_dir, val_holdout=100).splits["val"]
    s = load_dataset("mnist", fake_mnist_dir, val_holdout=100, score_on="selection")
    assert list(s.splits) == ["train", SELECTION]
    assert torch.equal(s.splits[SELECTION].images, val.images)
    assert s.selection["size"] == 100 and not s.selection["stratified"]


def test_selection_errors_are_one_line(fake_mnist_dir):
    with pytest.raises(CaeError, match="score_on=selection needs a selection split"):
        load_dataset("mnist", fake_mnist_dir, score_on="selection")
    with pytest.raises(CaeError, match="cannot hold out a stratified selection split"):
        load_dataset("mnist", fake_mnist_dir, selection_fraction=0.001)  # 1 image, 3 classes
    with pytest.raises(CaeError, match="score_on must be one of"):
        load_dataset("mnist", fake_mnist_dir, score_on="test")
    with pytest.raises(CaeError, match="selection_fraction must be in"):
        make_config("smoke", selection_fraction=0.7)


def test_planned_train_size_follows_the_hold_outs_and_the_subset():
    assert planned_train_size(make_config("paper", dataset="pneumoniamnist")) == 4708
    assert planned_train_size(make_config("validated", dataset="mnist")) == 50_000
    cfg = make_config("validated", dataset="pneumoniamnist", selection_fraction=0.1)
    assert planned_train_size(cfg) == 4708 - selection_size(4708, 0.1) == 4237
    assert planned_train_size(make_config("smoke", dataset="pneumoniamnist")) == 512
    assert steps_per_epoch(256, 4237) == 16 and steps_per_epoch(256, 100) == 1
    assert steps_per_epoch(256, 0) == 0


def test_step_budget_stretches_epochs_warmup_and_lr_schedule_together():
    base = make_config("validated", dataset="pneumoniamnist", selection_fraction=0.1)
    cfg = make_config("validated", dataset="pneumoniamnist", selection_fraction=0.1, min_steps=7500)
    assert (base.epochs, base.warmup_epochs, base.lr_warmup_epochs) == (100, 50, 10)
    assert cfg.epochs == 469 and cfg.epochs * 16 >= 7500 > (cfg.epochs - 1) * 16
    assert cfg.warmup_epochs == 235 and cfg.lr_warmup_epochs == 47  # the same shares
    assert step_budget(cfg) == cfg  # met already: unchanged, so a saved config is its own result
    met = make_config("validated", dataset="pneumoniamnist", min_steps=100)
    assert met.epochs == 100  # a budget already met changes nothing
    assert make_config("validated", dataset="mnist", min_steps=7500).epochs == 100


def test_stretched_config_saves_and_reloads_to_the_same_fingerprint(tmp_path):
    cfg = make_config("quick", dataset="pneumoniamnist", min_steps=5000)
    cfg.save(tmp_path / "config.json")
    loaded = load_config(tmp_path / "config.json")
    assert loaded == cfg and loaded.fingerprint() == cfg.fingerprint()
    assert json.loads((tmp_path / "config.json").read_text())["min_steps"] == 5000


# fingerprints of the profiles before the selection split, the step budget, the jitter and
# the BatchNorm encoder existed (commit ccb2ccb): committed runs must keep matching them
FINGERPRINTS_BEFORE = {("paper", "pneumoniamnist"): ("5b9b46d47e33e16d", "3aab981212278a92"),
                       ("validated", "mnist"): ("4823f54a77fbab54", "48ad1552fa7ed749"),
                       ("smoke", "pneumoniamnist"): ("0cb7ab01f2bd8095", "90249d41d49a5a1e")}


@pytest.mark.parametrize("profile, dataset", list(FINGERPRINTS_BEFORE))
def test_new_fields_at_their_defaults_keep_the_fingerprints_of_committed_runs(profile, dataset):
    cfg = make_config(profile, dataset=dataset)
    assert (cfg.fingerprint(), cfg.fingerprint(training_only=True)) == FINGERPRINTS_BEFORE[
        (profile, dataset)]
    assert make_config(profile, dataset=dataset, intensity_jitter=0.4).fingerprint() != cfg.fingerprint()
    assert (make_config(profile, dataset=dataset, score_on="selection",
                        val_holdout=10).fingerprint(training_only=True)
            != cfg.fingerprint(training_only=True))  # the hold-out changes training
    assert (make_config(profile, dataset=dataset, score_on="selection").fingerprint(training_only=True)
            == cfg.fingerprint(training_only=True))  # which splits are scored: evaluation only


def test_steps_of_counts_full_batches(fake_mnist_dir):
    data = load_dataset("mnist", fake_mnist_dir)
    cfg = make_config("smoke", batch_size=128, epochs=3, warmup_epochs=2, min_steps=0)
    assert steps_of(cfg, data) == {"per_epoch": 4, "phase1": 8, "phase2": 4, "total": 12,
                                   "min_steps": 0}


def test_no_intensity_jitter_draws_no_random_numbers():
    x = torch.rand(6, 1, 28, 28)
    plain = augment(x, AugmentParams(), torch.Generator().manual_seed(3))
    zero = augment(x, AugmentParams(intensity_jitter=0.0), torch.Generator().manual_seed(3))
    assert torch.equal(plain, zero)
    jittered = augment(x, AugmentParams(intensity_jitter=0.4), torch.Generator().manual_seed(3))
    assert not torch.equal(plain, jittered) and 0 <= jittered.min() and jittered.max() <= 1


def test_intensity_jitter_scales_brightness_and_contrast_within_its_range():
    from cae.method.augment import intensity_jitter

    x = torch.full((64, 1, 4, 4), 0.5)
    x[:, :, :2] = 0.25
    out = intensity_jitter(x, 0.4, 1.0, torch.Generator().manual_seed(0))
    ratio = out.mean(dim=(1, 2, 3)) / x.mean(dim=(1, 2, 3))  # brightness (contrast keeps the mean)
    assert ((ratio > 0.6 - 1e-6) & (ratio < 1.4 + 1e-6)).all() and ratio.std() > 0.05
    untouched = intensity_jitter(x, 0.4, 0.0, torch.Generator().manual_seed(0))
    assert torch.allclose(untouched, x)


def test_batch_norm_encoder_has_the_authors_layers_and_the_plain_one_keeps_its_keys():
    plain, normed = Encoder(1, (4, 8, 16), 32), Encoder(1, (4, 8, 16), 32, batch_norm=True)
    assert sum(isinstance(m, torch.nn.BatchNorm2d) for m in normed.modules()) == 3
    assert list(plain.state_dict()) == ["features.0.weight", "features.0.bias",
                                        "features.2.weight", "features.2.bias",
                                        "features.4.weight", "features.4.bias",
                                        "to_latent.weight", "to_latent.bias"]
    assert normed(torch.rand(5, 1, 28, 28)).shape == (5, 32)
