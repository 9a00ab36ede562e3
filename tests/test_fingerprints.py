"""Fingerprints pinned: every profile's, and every committed run's from its config.json.

A run's fingerprint ties its checkpoint and its finished results to its config; a change to
`cae.config` that moved one (a field's role, an added field's old value) would orphan
published runs. The committed runs record no fingerprint, so these were computed from their
config.json files before the field roles moved into the fields' metadata.
"""

from pathlib import Path

import pytest

from cae.config import load_config, make_config

ARTIFACTS = Path(__file__).resolve().parent.parent / "artifacts"

# (profile, dataset) -> (fingerprint(), fingerprint(training_only=True))
PROFILE_FINGERPRINTS = {
    ("smoke", "pneumoniamnist"): ("0cb7ab01f2bd8095", "90249d41d49a5a1e"),
    ("smoke", "mnist"): ("4146da2c66219daf", "251ab431efaa01f6"),
    ("quick", "pneumoniamnist"): ("9a9eb6a5817309b3", "4eeaa1ac302bd4f9"),
    ("quick", "mnist"): ("0a2f8546437682bc", "21ecf4a21df4c2da"),
    ("paper", "pneumoniamnist"): ("5b9b46d47e33e16d", "3aab981212278a92"),
    ("paper", "mnist"): ("61ec0ec893dc915c", "08cffd27210e7f19"),
    ("validated", "pneumoniamnist"): ("575dba74de8c4441", "ed90ef71b673988f"),
    ("validated", "mnist"): ("4823f54a77fbab54", "48ad1552fa7ed749"),
    ("beyond", "pneumoniamnist"): ("20a39bfbdbed3181", "b39929a2ad472fff"),
    ("beyond", "mnist"): ("d1f77c917c863cc4", "81816f0d96944f3b"),
    ("authors", "pneumoniamnist"): ("539e90b6656a9fe0", "9d2d277935b6d3c2"),
    ("authors", "mnist"): ("e74cf35799d63a0f", "bd96fbe05eb04f59"),
}

# run folder under artifacts/ -> (fingerprint(), fingerprint(training_only=True))
RUN_FINGERPRINTS = {
    "ablation/pneumoniamnist-paper-autoencoder-seed0": ("3177c3ea4f93d24e", "680a29683f53876a"),
    "ablation/pneumoniamnist-paper-autoencoder-seed1": ("9219f627321dd4a1", "a9b0507a2a9e8c16"),
    "ablation/pneumoniamnist-paper-autoencoder-seed2": ("44aadac82629e926", "f3ea6b3a3acd750e"),
    "ablation/pneumoniamnist-paper-contrastive-seed0": ("acce7ff65ad9ad15", "8e0255f4c3742a1e"),
    "ablation/pneumoniamnist-paper-contrastive-seed1": ("09fb63e135f7f693", "8683b5140fc4fa2c"),
    "ablation/pneumoniamnist-paper-contrastive-seed2": ("6fa4f9096af8e5ba", "814e8fa17f80aae9"),
    "ablation/pneumoniamnist-paper-variational-seed0": ("ebcb6dd06ab76618", "1eab5ed1d12bab00"),
    "ablation/pneumoniamnist-paper-variational-seed1": ("360055e9246c86ca", "5b93ec4a780cda08"),
    "ablation/pneumoniamnist-paper-variational-seed2": ("22ce1e6b8b17321f", "859a436c0469eb4f"),
    "augmentation/mnist-quick-noflip-seed0": ("823a8d2cc362d053", "59a7e025e11945c9"),
    "augmentation/mnist-quick-seed0": ("0a2f8546437682bc", "21ecf4a21df4c2da"),
    "benchmark/mnist-paper-seed0": ("61ec0ec893dc915c", "08cffd27210e7f19"),
    "benchmark/mnist-validated-seed2": ("0cf1bf6e03ca1330", "68ad15ff3b57dadc"),
    "bf16/pneumoniamnist-quick-bf16-seed0": ("fe30e1fe512aada4", "23862cb08ff750e9"),
    "bf16/pneumoniamnist-quick-bf16-seed1": ("9d1c29ec46433e75", "99d2b8d0af21c32f"),
    "bf16/pneumoniamnist-quick-bf16-seed2": ("c40523ec7325991e", "f56b7eb1415f4bb2"),
    "bf16/pneumoniamnist-quick-fp32-seed0": ("184514d37b394633", "b421807d94fd1281"),
    "bf16/pneumoniamnist-quick-fp32-seed1": ("cc8430cb4eb1afa3", "36b72a58e2feed3b"),
    "bf16/pneumoniamnist-quick-fp32-seed2": ("f5fb1abfab103257", "943f40ecf23c6164"),
    "confirmation/pneumoniamnist-validated-z-seed0": ("c0ce3cca73d4732f", "ac75e60c013f26c8"),
    "mnist-paper-seed0": ("61ec0ec893dc915c", "08cffd27210e7f19"),
    "mnist-paper-seed1": ("8c79a1dbad1daeb0", "4dc1edb6f5bfb7a5"),
    "mnist-validated-seed0": ("4823f54a77fbab54", "48ad1552fa7ed749"),
    "mnist-validated-seed1": ("d6e5e2e66088e2fa", "995f078b5030c46f"),
    "pneumoniamnist-authors-seed0": ("539e90b6656a9fe0", "9d2d277935b6d3c2"),
    "pneumoniamnist-authors-seed1": ("fd08df397fa264e0", "0b2f49885e6fce85"),
    "pneumoniamnist-authors-seed2": ("16cd8db7c82115cf", "920c52f3fdc3938d"),
    "pneumoniamnist-authors-seed3": ("5fefb1f68651e67f", "8ae84770ab9959f0"),
    "pneumoniamnist-authors-seed4": ("54bec0282b05b2dd", "75b9462a63b173fc"),
    "pneumoniamnist-beyond-seed0": ("20a39bfbdbed3181", "b39929a2ad472fff"),
    "pneumoniamnist-beyond-seed1": ("c84f94a69ff513b3", "ae8eb16939b3e933"),
    "pneumoniamnist-beyond-seed2": ("8ab2ceb5818aaaaa", "c81b1bad8c9e4d67"),
    "pneumoniamnist-beyond-seed3": ("b21512ea247916bb", "c0558b4c0887f0cc"),
    "pneumoniamnist-paper-seed0": ("5b9b46d47e33e16d", "3aab981212278a92"),
    "pneumoniamnist-paper-seed1": ("81984e385a93693a", "bb2927ebdb5c003c"),
    "pneumoniamnist-paper-seed2": ("33d8af114d7ed2a0", "9fe34284d804556b"),
    "pneumoniamnist-paper-seed3": ("ec3eb531b30ea346", "541d80bd2b423cff"),
    "pneumoniamnist-paper-seed4": ("2a048d7a4c8d11ff", "63d0eff063c7520a"),
    "pneumoniamnist-validated-seed0": ("575dba74de8c4441", "ed90ef71b673988f"),
    "pneumoniamnist-validated-seed1": ("0ab3db56aa8afcff", "b4a2d8fc5dc0f053"),
    "pneumoniamnist-validated-seed2": ("3ec616dd91227631", "4a517b7157f2f3c4"),
    "pneumoniamnist-validated-seed3": ("fe85b1c81bce4a53", "6fa84857ea0ecafb"),
    "pneumoniamnist-validated-seed4": ("989cbea7be9673f1", "770d58f2839cbf03"),
    "screen/mnist-quick-base-seed0": ("ac19e0ccc4ec1814", "06c21c2eb3e09aa8"),
    "screen/mnist-quick-noflip-seed0": ("5a4e0ff8633d0739", "a3c8b7f8bc9442d9"),
    "screen/mnist-quick-rot15-seed0": ("4bc37e4c2006bd9a", "bcfef6bbaa6b6fd0"),
    "screen/mnist-quick-t0.1-seed0": ("9333484238137dd5", "416d923be6fc71e8"),
    "screen/mnist-quick-t0.2-seed0": ("20cd5e6c4da8a873", "b9b2cd6376302b06"),
    "screen/mnist-quick-wide-seed0": ("16525d5d049acc33", "c767c84f62f78b66"),
    "screen/pneumoniamnist-quick-base-seed0": ("822e6bbfea4ee257", "3b45e2d9179f481a"),
    "screen/pneumoniamnist-quick-noflip-seed0": ("28e7e1b63459a240", "4727cb87af6fb5ce"),
    "selection-screen/pneumoniamnist-validated-authors_encoder-seed0":
        ("5e57f910307794d3", "8c342e5290f534b6"),
    "selection-screen/pneumoniamnist-validated-base-seed0": ("ee9a12c697f99ba6", "3a44c0f85a25ce06"),
    "selection-screen/pneumoniamnist-validated-base-seed1": ("4cd972eb32c4d57a", "a78ddcf171796c6d"),
    "selection-screen/pneumoniamnist-validated-base-seed2": ("cdf365e0d17bb242", "8cf0f3f68b9ccb0a"),
    "selection-screen/pneumoniamnist-validated-batch1024-seed0": ("eeebc26c863bf417", "521198e6aede6902"),
    "selection-screen/pneumoniamnist-validated-batch1024-seed1": ("ebd8a7410bc3b970", "3b6552f3ddcf9755"),
    "selection-screen/pneumoniamnist-validated-batch1024-seed2": ("e197926b74c11ed5", "0b74ae07d3d2228f"),
    "selection-screen/pneumoniamnist-validated-best2-seed0": ("32c3df5205aa71b7", "32f417a61d0cd407"),
    "selection-screen/pneumoniamnist-validated-best2-seed1": ("24211dc32db55d76", "a09f7c0a1aadc386"),
    "selection-screen/pneumoniamnist-validated-best2-seed2": ("20aaf80d18ec40fe", "9243de13457f890d"),
    "selection-screen/pneumoniamnist-validated-crop0.2-seed0": ("286f7da7ed53d1ff", "51ae9248e99183dd"),
    "selection-screen/pneumoniamnist-validated-jitter0.4-seed0": ("1e8eee90bd0b3d2d", "4e8dd0717693d614"),
    "selection-screen/pneumoniamnist-validated-jitter0.4-seed1": ("59941232a0148fca", "f84be4bcd2f64706"),
    "selection-screen/pneumoniamnist-validated-jitter0.4-seed2": ("ea102767399b6663", "af5f667d6886c11a"),
    "selection-screen/pneumoniamnist-validated-steps7500-seed0": ("faf0d0d5da195a8e", "b13bbd336bd15886"),
    "variational/mnist-quick-variational-seed0": ("26667a4a4d1f957f", "ca9d5e003cc4c66f"),
}


@pytest.mark.parametrize("profile, dataset", sorted(PROFILE_FINGERPRINTS))
def test_profile_fingerprints_are_unchanged(profile, dataset):
    cfg = make_config(profile, dataset=dataset)
    assert (cfg.fingerprint(), cfg.fingerprint(training_only=True)) == \
        PROFILE_FINGERPRINTS[profile, dataset]


def test_committed_runs_keep_their_fingerprints():
    present = {name: load_config(ARTIFACTS / name / "config.json") for name in RUN_FINGERPRINTS
               if (ARTIFACTS / name / "config.json").is_file()}
    if not present:
        pytest.skip("no committed runs")
    changed = {name: cfg.fingerprint() for name, cfg in present.items()
               if (cfg.fingerprint(), cfg.fingerprint(training_only=True)) != RUN_FINGERPRINTS[name]}
    assert not changed, f"fingerprints changed: {sorted(changed)}"
