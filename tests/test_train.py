"""The two training phases on a fake MNIST (smoke profile): phase 2 leaves the encoder bit for
bit as phase 1 left it, and training reads no evaluation-only setting."""

import dataclasses
import sys

import pytest
import torch

import cae.method.train
from cae.config import EVALUATION_FIELDS, RunConfig, make_config
from cae.data.datasets import load
from cae.method.checkpoints import read_checkpoint
from cae.pipeline import train_run

FIELDS = {f.name for f in dataclasses.fields(RunConfig)}


def recording(cfg: RunConfig, reads: set[str]) -> RunConfig:
    """cfg as a RunConfig that adds the name of each field the code reads to `reads`.
    Whole-config copies by `dataclasses` (asdict to save or fingerprint it, replace) are not
    reads; a copy made by replace records into the same set."""

    class FieldReads(RunConfig):
        def __getattribute__(self, name):
            if name in FIELDS and sys._getframe(1).f_globals.get("__name__") != "dataclasses":
                reads.add(name)
            return super().__getattribute__(name)

    return FieldReads(**dataclasses.asdict(cfg))


@pytest.fixture(scope="module", params=[dict(encoder_batch_norm=True),
                                        dict(variational=True, cluster_on="z")],
                ids=["encoder-batch-norm", "variational-z"])
def trained(request, tmp_path_factory, shared_fake_mnist_dir):
    """One smoke run through `pipeline.train_run` (what `cae train` does), its config
    recording the fields read during the call, and the encoder's state as phase 1 left it
    (copied when the prototypes are fitted, before anything of phase 2 runs)."""
    cfg = make_config("smoke", dataset="mnist", data_dir=str(shared_fake_mnist_dir),
                      progress=False, **request.param)
    data = load(cfg)
    run_dir = tmp_path_factory.mktemp("run")
    reads: set[str] = set()
    phase1_encoder = {}
    fit_prototypes = cae.method.train.fit_prototypes

    def copy_encoder_then_fit(nets, *args):
        phase1_encoder.update({k: v.detach().clone() for k, v in nets.encoder.state_dict().items()})
        return fit_prototypes(nets, *args)

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(cae.method.train, "fit_prototypes", copy_encoder_then_fit)
        train_run(recording(cfg, reads), data, run_dir)
    return dict(cfg=cfg, reads=reads, phase1_encoder=phase1_encoder,
                checkpoint=read_checkpoint(run_dir, cfg))


def test_phase_two_leaves_every_encoder_weight_and_buffer_as_phase_one_left_it(trained):
    cfg, checkpoint, before = trained["cfg"], trained["checkpoint"], trained["phase1_encoder"]
    assert checkpoint["epoch"] == cfg.epochs and len(checkpoint["history"]["phase2_mse"]) == \
        cfg.phase2_epochs >= 1
    after = checkpoint["encoder"]
    assert before.keys() == after.keys()
    if cfg.encoder_batch_norm:
        assert any(name.endswith("running_mean") for name in after)
    changed = [name for name in after if not torch.equal(before[name], after[name].to(before[name].device))]
    assert not changed, f"phase 2 changed the encoder's {changed}"


def test_training_reads_no_evaluation_only_setting(trained):
    reads = trained["reads"]
    assert {"temperature", "warmup_epochs", "assign_temperature"} <= reads  # the recorder works
    assert not reads & EVALUATION_FIELDS, f"training read {sorted(reads & EVALUATION_FIELDS)}"
