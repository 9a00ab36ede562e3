"""ResNet-18 loading (cache, no network, untrained fallback), its features and the two baselines."""

import numpy as np
import pytest
import torch
from torchvision.models import resnet18

from cae.errors import CaeError
from cae.evaluation.baselines import (
    IMAGENET_WEIGHTS,
    imagenet_cache_path,
    kmeans_baseline,
    load_resnet18,
    resnet_features,
    transfer_baseline,
)


def _same_weights(model, state):
    return all(torch.equal(value, state[name]) for name, value in model.state_dict().items())

def test_missing_weights_raise_an_error_saying_what_to_do(offline_hub):
    with pytest.raises(CaeError) as error:
        load_resnet18(None, allow_untrained=False)
    message = str(error.value)
    assert str(offline_hub / "checkpoints" / "resnet18-f37072fd.pth") in message
    assert IMAGENET_WEIGHTS.url in message and "--allow-untrained-weights" in message
    assert not (offline_hub / "checkpoints").exists()  # the failed download left no folder
    with pytest.raises(CaeError, match="not found"):
        load_resnet18(str(offline_hub / "absent.pth"), allow_untrained=True)

def test_untrained_fallback_is_seeded_labelled_and_loud(offline_hub, capsys):
    model, label = load_resnet18(None, allow_untrained=True, seed=0)
    assert label == "untrained"
    err = capsys.readouterr().err
    assert "WARNING" in err and "Downloading" not in err and "downloaded" not in err
    assert _same_weights(load_resnet18(None, allow_untrained=True, seed=0)[0], model.state_dict())
    assert not _same_weights(load_resnet18(None, allow_untrained=True, seed=1)[0], model.state_dict())

def test_cached_and_explicit_weights_are_used(offline_hub):
    state = resnet18().state_dict()
    cache = imagenet_cache_path()
    assert cache == offline_hub / "checkpoints" / "resnet18-f37072fd.pth"
    cache.parent.mkdir()
    torch.save(state, cache)
    model, label = load_resnet18(None, allow_untrained=False)
    assert label == "imagenet" and _same_weights(model, state)
    model, label = load_resnet18(str(cache), allow_untrained=False)
    assert label == "imagenet" and _same_weights(model, state)

def test_features_shape_determinism_and_grey_to_rgb(offline_hub):
    model, _ = load_resnet18(None, allow_untrained=True, seed=0)
    generator = torch.Generator().manual_seed(0)
    grey = torch.randint(0, 256, (5, 1, 28, 28), dtype=torch.uint8, generator=generator)
    features = resnet_features(model, grey, image_size=28, batch_size=2)
    assert features.shape == (5, 512)
    torch.testing.assert_close(resnet_features(model, grey, batch_size=5), features)
    torch.testing.assert_close(resnet_features(model, grey.expand(-1, 3, -1, -1)), features)
    assert resnet_features(model, grey, image_size=32).shape == (5, 512)

def _two_orthogonal_clusters(n_per_class, seed):
    generator = torch.Generator().manual_seed(seed)
    y = torch.arange(2 * n_per_class) % 2
    axes = torch.tensor([[1.0, 0.0, 0.0], [0.0, 1.0, 0.0]])
    scale = 1 + 5 * torch.rand(len(y), 1, generator=generator)  # norms differ: only directions matter
    return (axes[y] + 0.05 * torch.rand(len(y), 3, generator=generator)) * scale, y

def test_transfer_baseline_learns_raw_features():
    x, y = _two_orthogonal_clusters(50, seed=0)
    x_val, y_val = _two_orthogonal_clusters(20, seed=1)
    preds = transfer_baseline(x, y, {"val": x_val}, n_classes=2, epochs=10, lr=0.1, batch_size=25, seed=0)
    np.testing.assert_array_equal(preds["val"].y_pred, y_val.numpy())

def test_kmeans_baseline_finds_and_maps_the_clusters():
    x, y = _two_orthogonal_clusters(30, seed=0)
    x_test, y_test = _two_orthogonal_clusters(10, seed=1)
    elbow, preds = kmeans_baseline(x, y, {"test": x_test}, n_classes=2, k_min=2, k_max=2, seed=0, n_init=2)
    assert elbow.k == 2
    np.testing.assert_array_equal(preds["test"].y_pred, y_test.numpy())
    assert len(np.unique(preds["test"].clusters)) == 2
