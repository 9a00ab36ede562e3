"""The `authors` profile's options (the first author's AESIMCLR code): each one changes
exactly what it names and nothing at its default."""

import numpy as np
import pytest
import torch
from torch import nn

from cae.method.clustering import elbow_k, prototype_elbow
from cae.config import make_config
from cae.errors import CaeError
from cae.evaluation.protocols import knn_protocol, labelled_pool, linear_probe
from cae.method.models import Projector
from cae.method.optim import make_lars


def test_authors_profile_carries_the_code_s_choices():
    cfg = make_config("authors")
    assert (cfg.channels, cfg.encoder_batch_norm) == ((32, 64, 128), True)
    assert (cfg.projector_batch_norm, cfg.projector_activation) == (False, "relu")
    assert (cfg.lars_trust_coefficient, cfg.lars_adapt_all, cfg.weight_decay) == (0.001, True, 0.0)
    assert (cfg.k_min, cfg.k_max, cfg.elbow_fallback, cfg.elbow_normalised) == (2, 19, 11, False)
    assert (cfg.eval_train_images, cfg.knn_metric, cfg.probe_standardize) == (12_544, "euclidean", False)
    assert (cfg.probe_lr, cfg.probe_epochs, cfg.probe_fraction) == (1e-3, 100, 1.0)
    assert (cfg.epochs, cfg.warmup_epochs) == (100, 50)  # the paper's schedule


@pytest.mark.parametrize("field, value", [("projector_activation", "tanh"), ("knn_metric", "l1"),
                                          ("elbow_fallback", 40), ("eval_train_images", -1)])
def test_authors_options_refuse_values_out_of_range(field, value):
    with pytest.raises(CaeError, match=field):
        make_config("smoke", **{field: value})


def test_projector_keeps_its_layer_indices_and_drops_only_batch_norm():
    default = Projector(8, (6, 6, 4))
    assert [type(m).__name__ for m in default.net] == [
        "Linear", "BatchNorm1d", "GELU", "Linear", "BatchNorm1d", "GELU", "Linear"]
    authors = Projector(8, (6, 6, 4), batch_norm=False, activation="relu")
    assert [type(m).__name__ for m in authors.net] == ["Linear", "ReLU", "Linear", "ReLU", "Linear"]
    assert authors(torch.randn(3, 8)).shape == (3, 4)


def test_lars_adapts_and_decays_every_parameter_in_the_authors_profile():
    opt = make_lars([nn.Linear(2, 1)], make_config("authors", weight_decay=0.1))
    (group,) = opt.param_groups
    assert [p.ndim for p in group["params"]] == [2, 1]
    assert group["always_adapt"] and group["weight_decay"] == 0.1 and group["trust_coeff"] == 0.001


def test_elbow_fallback_is_used_only_without_a_knee():
    straight = [2, 3, 4, 5, 6], [5.0, 4.0, 3.0, 2.0, 1.0]  # a straight line has no knee
    assert elbow_k(*straight) == 2
    assert elbow_k(*straight, fallback=4) == 4
    assert elbow_k(*straight, fallback=11) == 6  # capped to the range searched
    assert elbow_k([2, 3, 4, 5, 6, 7], [100, 20, 15, 12, 10, 9], fallback=6) == 3


def test_prototypes_on_raw_rows_keep_their_scale():
    rng = np.random.default_rng(0)
    h = torch.from_numpy(np.concatenate([rng.normal(10, 0.1, (30, 2)),
                                         rng.normal(-10, 0.1, (30, 2))])).float()
    raw = prototype_elbow(h, make_config("smoke", k_max=3, elbow_normalised=False))
    unit = prototype_elbow(h, make_config("smoke", k_max=3))
    assert np.linalg.norm(raw.centroids, axis=1).max() > 5
    np.testing.assert_allclose(np.linalg.norm(unit.centroids[:2], axis=1), 1, atol=1e-3)


def test_labelled_pool_is_all_of_train_or_a_seeded_sorted_subset():
    assert labelled_pool(10, 0, seed=0).tolist() == list(range(10))
    assert labelled_pool(10, 12, seed=0).tolist() == list(range(10))
    pool = labelled_pool(100, 20, seed=3)
    assert len(set(pool.tolist())) == 20 and pool.tolist() == sorted(pool.tolist())
    assert pool.tolist() == labelled_pool(100, 20, seed=3).tolist()
    assert pool.tolist() != labelled_pool(100, 20, seed=4).tolist()


def test_euclidean_knn_differs_from_cosine_where_length_matters():
    # the query (1, 0) points the way of (5, 0) but lies nearer (0.6, 0.8) in distance
    bank = torch.tensor([[5.0, 0.0], [0.6, 0.8]])
    query = torch.tensor([[1.0, 0.0]])
    assert knn_protocol(bank, torch.tensor([0, 1]), query, 2, k=1).y_pred.tolist() == [0]
    assert knn_protocol(bank, torch.tensor([0, 1]), query, 2, k=1,
                        metric="euclidean").y_pred.tolist() == [1]


def test_probe_without_standardising_reads_raw_features():
    # the same seed and data: only the scaling of the features differs between the two heads
    x = torch.randn(64, 2, generator=torch.Generator().manual_seed(0)) * torch.tensor([1.0, 50.0])
    y = (x[:, 0] > 0).long()
    args = dict(n_classes=2, fraction=1.0, epochs=20, lr=0.05, batch_size=16, seed=0)
    scaled = linear_probe(x, y, {"train": x}, standardize=True, **args)["train"]
    raw = linear_probe(x, y, {"train": x}, standardize=False, **args)["train"]
    assert (scaled.y_pred == y.numpy()).mean() > 0.9
    assert not np.allclose(scaled.scores, raw.scores)


@pytest.mark.parametrize("dataset", ["pneumoniamnist", "mnist"])
def test_beyond_is_validated_plus_the_screen_s_two_changes(dataset):
    from cae.config import differences
    beyond, validated = make_config("beyond", dataset=dataset), make_config("validated", dataset=dataset)
    changed = {k: v[1] for k, v in differences(validated, beyond).items()
               if k not in ("epochs", "warmup_epochs", "lr_warmup_epochs")}
    assert changed == {"intensity_jitter": 0.4, "batch_size": 1024, "min_steps": 1600}
