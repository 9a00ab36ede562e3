"""Profiles, string overrides, validation messages, save/load and the resume fingerprint."""

import hashlib
import json

import pytest

from cae import config
from cae.config import PROFILES, load_config, make_config
from cae.errors import CaeError


@pytest.mark.parametrize("profile", sorted(PROFILES))
def test_every_profile_builds_and_validates(profile):
    cfg = make_config(profile)
    assert cfg.profile == profile
    assert cfg.validate() is cfg
    assert cfg.phase2_epochs == cfg.epochs - cfg.warmup_epochs > 0


def test_paper_profile_has_the_paper_settings():
    cfg = make_config("paper")
    assert (cfg.epochs, cfg.warmup_epochs, cfg.lr_warmup_epochs) == (100, 50, 10)
    assert (cfg.lr_start, cfg.lr_peak, cfg.lr_final) == (0.01, 0.25, 0.05)
    assert (cfg.alpha, cfg.latent_dim, cfg.knn_k) == (0.1, 128, 5)
    assert (cfg.aug_prob, cfg.rotation_degrees) == (0.5, 30.0)
    assert (cfg.probe_fraction, cfg.probe_epochs, cfg.probe_lr) == (0.2, 200, 3e-4)
    assert (cfg.resnet_epochs, cfg.resnet_lr) == (100, 1e-4)
    assert cfg.train_subset is None


def test_string_overrides_take_the_field_types():
    cfg = make_config("smoke", seed="7", temperature="0.3", channels_last="false", compile="yes",
                      channels="16,32,64", blur_sigma="0.2,0.5", train_subset="none",
                      dataset="mnist")
    assert cfg.seed == 7 and isinstance(cfg.seed, int)
    assert cfg.temperature == 0.3 and isinstance(cfg.temperature, float)
    assert cfg.channels_last is False and cfg.compile is True
    assert cfg.channels == (16, 32, 64) and all(isinstance(c, int) for c in cfg.channels)
    assert cfg.blur_sigma == (0.2, 0.5) and all(isinstance(s, float) for s in cfg.blur_sigma)
    assert cfg.train_subset is None  # the string "none" clears the smoke profile's 512
    assert cfg.dataset == "mnist"
    assert make_config("quick", train_subset="64").train_subset == 64


def test_python_none_override_keeps_the_profile_value():
    assert make_config("smoke", train_subset=None).train_subset == 512


@pytest.mark.parametrize("field, value", [
    ("seed", "x"), ("temperature", "warm"), ("channels_last", "maybe"),
])
def test_unparseable_override_names_the_field(field, value):
    with pytest.raises(CaeError, match=rf"\b{field}\b"):
        make_config("smoke", **{field: value})


@pytest.mark.parametrize("field, value", [
    ("seed", -1),
    ("precision", "fp16"),
    ("batch_size", 1),
    ("epochs", 0),
    ("warmup_epochs", 0),
    ("warmup_epochs", 101),
    ("lr_warmup_epochs", 101),
    ("channels", (16, 0, 64)),
    ("latent_dim", 0),
    ("projector_dims", (256, 256)),
    ("temperature", 0.0),
    ("alpha", -0.1),
    ("contrastive_weight", -1.0),
    ("aug_prob", 1.5),
    ("crop_scale", (0.8, 0.5)),
    ("blur_sigma", (0.0, 1.0)),
    ("noise_std", -0.01),
    ("k_min", 1),
    ("k_max", 1),
    ("assign_temperature", 0.0),
    ("knn_k", 0),
    ("probe_fraction", 1.5),
    ("train_subset", 8),
    ("resnet_image_size", 27),
])
def test_out_of_range_value_names_the_field(field, value):
    with pytest.raises(CaeError, match=rf"invalid configuration: .*\b{field}\b"):
        make_config("paper", **{field: value})


@pytest.mark.parametrize("field, value, words", [
    ("lr_peak", 0.0, "learning rates"),
    ("lr_final", -0.05, "learning rates"),
    ("probe_epochs", 0, "probe/resnet epochs"),
    ("resnet_epochs", 0, "probe/resnet epochs"),
])
def test_out_of_range_grouped_fields(field, value, words):
    with pytest.raises(CaeError, match=words):
        make_config("paper", **{field: value})


def test_unknown_profile_and_unknown_field():
    with pytest.raises(CaeError, match="unknown profile 'huge'.*smoke, quick, paper"):
        make_config("huge")
    with pytest.raises(CaeError, match="unknown configuration field.*lr_max"):
        make_config("quick", lr_max=1.0)


def test_save_load_round_trip(tmp_path):
    cfg = make_config("smoke", data_dir="/some/where", channels=(8, 16, 32), seed=3,
                      blur_sigma=(0.25, 0.75))
    path = tmp_path / "config.json"
    cfg.save(path)
    loaded = load_config(path)
    assert loaded == cfg
    assert isinstance(loaded.channels, tuple) and isinstance(loaded.blur_sigma, tuple)


def test_load_config_of_a_bad_file(tmp_path):
    path = tmp_path / "config.json"
    path.write_text("{not json")
    with pytest.raises(CaeError, match="cannot read config"):
        load_config(path)
    with pytest.raises(CaeError, match="cannot read config"):
        load_config(tmp_path / "absent.json")


def test_fingerprint_ignores_where_and_how_but_not_what():
    base = make_config("quick")
    assert base.fingerprint() == make_config("quick", data_dir="/elsewhere", device="cpu",
                                             progress=False).fingerprint()
    assert base.fingerprint() != make_config("quick", temperature=0.2).fingerprint()
    assert base.fingerprint() != make_config("quick", seed=1).fingerprint()
    assert len(base.fingerprint()) == 16



def test_alpha_and_contrastive_weight_cannot_both_be_zero():
    make_config("smoke", alpha=0.0)
    make_config("smoke", contrastive_weight=0.0)
    with pytest.raises(CaeError, match="alpha and contrastive_weight cannot both be 0"):
        make_config("smoke", alpha=0.0, contrastive_weight=0.0)


def test_added_fields_at_their_old_values_keep_the_fingerprint(tmp_path):
    """A config saved before contrastive_weight and hflip existed still matches its checkpoint."""
    cfg = make_config("smoke")
    old = {k: v for k, v in cfg.to_dict().items() if k not in config._ADDED_FIELDS}
    path = tmp_path / "config.json"
    path.write_text(json.dumps(old))
    loaded = load_config(path)
    assert (loaded.contrastive_weight, loaded.hflip) == (1.0, True)
    kept = {k: v for k, v in old.items() if k not in config._VOLATILE_FIELDS}
    assert loaded.fingerprint() == hashlib.sha256(
        json.dumps(kept, sort_keys=True).encode()).hexdigest()[:16]
    assert make_config("smoke", contrastive_weight=0.0).fingerprint() != cfg.fingerprint()
    assert make_config("smoke", hflip="false").fingerprint() != cfg.fingerprint()


def test_field_roles_declared_on_the_fields_give_the_published_sets():
    """The sets derived from each field's metadata hold what they held as literal sets: a
    field moved in or out of one would change the fingerprints of published runs."""
    assert config._VOLATILE_FIELDS == {"data_dir", "device", "progress", "profile", "weights_path",
                                       "allow_untrained_weights", "compile", "kernels"}
    assert config.EVALUATION_FIELDS == {
        "knn_k", "probe_fraction", "probe_epochs", "probe_lr", "probe_batch_size", "tsne_samples",
        "resnet_epochs", "resnet_lr", "resnet_image_size", "head_method", "head_neighbours",
        "head_epochs", "head_entropy_weight", "head_restarts", "head_self_label_epochs", "score_on",
        "eval_train_images", "knn_metric", "probe_standardize"}
    assert config._ADDED_FIELDS == {
        "contrastive_weight": 1.0, "hflip": True, "val_holdout": 0, "elbow_metric": "distortion",
        "head_method": "scan", "head_neighbours": 20, "head_epochs": 40, "head_entropy_weight": 5.0,
        "head_restarts": 4, "head_self_label_epochs": 10, "cluster_on": "h", "variational": False,
        "kl_weight": 2.5e-6, "selection_fraction": 0.0, "score_on": "reported", "min_steps": 0,
        "intensity_jitter": 0.0, "encoder_batch_norm": False, "projector_batch_norm": True,
        "projector_activation": "gelu", "lars_adapt_all": False, "elbow_fallback": 0,
        "elbow_normalised": True, "eval_train_images": 0, "knn_metric": "cosine", "kernels": "exact",
        "probe_standardize": True}


def test_kernels_auto_for_new_configs_exact_for_configs_written_before_the_field(tmp_path):
    """New configs ask for `auto`; a config saved before `kernels` existed reads as `exact`
    (the kernels it trained with), and the field, like the device, leaves the fingerprint
    alone, so profiles still find their committed runs."""
    cfg = make_config("paper")
    assert cfg.kernels == "auto"
    path = tmp_path / "config.json"
    path.write_text(json.dumps({k: v for k, v in cfg.to_dict().items() if k != "kernels"}))
    loaded = load_config(path)
    assert loaded.kernels == "exact"
    assert loaded.fingerprint() == cfg.fingerprint() == make_config("paper", kernels="fast").fingerprint()
    with pytest.raises(CaeError, match="kernels must be one of"):
        make_config("paper", kernels="turbo")
