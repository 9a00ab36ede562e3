"""Two processes equal one: the global-batch NT-Xent, BatchNorm and LARS under DDP on gloo.

Two CPU processes join a gloo group through the code torchrun runs
(`cae.infra.distributed.process_group`, reading RANK, WORLD_SIZE, MASTER_ADDR, ...). With the
augmentations off (aug_prob = 0: every view is the image itself), one step on a global
batch split over the two (in float64: in float32 the gradients of the biases that feed a
BatchNorm, exactly 0 in exact arithmetic, are rounding noise of a few 1e-6), and 5 LARS
steps of `cae.method.train.train` (float32), are compared with one process on the whole batch.
A gather whose backward does not sum the processes' gradients fails the comparison, so
the comparison can fail.
"""

from __future__ import annotations

import contextlib
import json
import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest
import torch
import torch.multiprocessing as mp

import cae.infra.distributed
import cae.method.train
from cae.cli import main
from cae.config import make_config
from cae.data.datasets import Dataset, Split
from cae.errors import CaeError
from cae.infra.provenance import provenance
from cae.infra.runtime import to_float
from cae.method.train import (
    build_networks,
    phase1_step,
    phase2_step,
    place,
    train,
    trainable,
)

WORLD, BATCH, STEPS = 2, 16, 5
REAL_DATA = Path(os.environ.get("CAE_DATA_DIR", "/nonexistent"))
CPU = torch.device("cpu")
GRAD_TOLERANCE, WEIGHT_TOLERANCE = 1e-6, 1e-5


def _config(**overrides):
    settings = dict(dataset="mnist", device="cpu", precision="fp32", channels_last=False,
                    aug_prob=0.0, batch_size=BATCH, epochs=1, warmup_epochs=1,
                    lr_warmup_epochs=0, progress=False)
    return make_config("smoke", **{**settings, **overrides})


def _data() -> Dataset:
    """STEPS global batches of noise images: one epoch is STEPS LARS steps."""
    g = torch.Generator().manual_seed(0)
    images = torch.randint(0, 256, (STEPS * BATCH, 1, 28, 28), dtype=torch.uint8, generator=g)
    return Dataset("noise", {"train": Split(images, torch.arange(STEPS * BATCH) % 2)}, ["a", "b"])


def _grads(module: torch.nn.Module, prefix: str) -> dict[str, torch.Tensor]:
    return {f"{prefix}.{name}": p.grad.clone() for name, p in module.named_parameters()}


@contextlib.contextmanager
def _float64():
    torch.set_default_dtype(torch.float64)
    try:
        yield
    finally:
        torch.set_default_dtype(torch.float32)


def _one_step(cfg, data: Dataset) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
    """(total, NT-Xent, MSE) of one phase-1 step in float64 on the first global batch,
    averaged over processes, and every parameter's gradient after it."""
    with _float64():
        nets = place(build_networks(cfg, 1), cfg, CPU)
        images = cae.infra.distributed.shard(data.splits["train"].images[:BATCH])
        x = to_float(images, False).to(torch.float64)
        losses = phase1_step(trainable(nets, False), x, cfg, torch.Generator(), CPU, "fp32")
    grads = {}
    for part in ("encoder", "projector", "decoder"):
        grads |= _grads(getattr(nets, part), part)
    return cae.infra.distributed.average(losses), grads


def _phase2_grads(state, cfg, data: Dataset) -> dict[str, torch.Tensor]:
    """The conditional decoder's gradients of one phase-2 step on the first global batch."""
    x = to_float(cae.infra.distributed.shard(data.splits["train"].images[:BATCH]), False)
    phase2_step(trainable(state.nets, True), x, cfg, torch.Generator(), CPU, "fp32")
    return _grads(state.nets.cond_decoder, "cond_decoder")


def _weights(state) -> dict[str, torch.Tensor]:
    return {f"{part}.{k}": v.clone() for part in ("encoder", "projector", "decoder")
            for k, v in getattr(state.nets, part).state_dict().items()}


class _GatherWithoutSum(torch.autograd.Function):
    """The wrong gather: backward hands each process only its own loss's gradient."""

    @staticmethod
    def forward(ctx, x):
        parts = [torch.empty_like(x) for _ in range(torch.distributed.get_world_size())]
        torch.distributed.all_gather(parts, x.contiguous())
        return torch.cat(parts)

    @staticmethod
    def backward(ctx, grad):
        n = len(grad) // torch.distributed.get_world_size()
        return grad[torch.distributed.get_rank() * n:(torch.distributed.get_rank() + 1) * n]




class _Stop(Exception):
    """Raised after the first checkpoint, in every process, to interrupt training."""


def _worker(rank: int, port: int, out: Path) -> None:
    os.environ.update(MASTER_ADDR="127.0.0.1", MASTER_PORT=str(port), RANK=str(rank),
                      LOCAL_RANK=str(rank), WORLD_SIZE=str(WORLD))
    torch.set_num_threads(1)
    cfg, data = _config(), _data()
    result = {}
    with cae.infra.distributed.process_group(CPU):
        result["step"] = _one_step(cfg, data)
        state = train(cfg, data, out / "two")
        result["weights"], result["history"] = _weights(state), state.history
        result["prototypes"] = state.nets.prototypes.clone()
        result["phase2"] = _phase2_grads(state, cfg, data)
        result["provenance"] = provenance(cfg, data, {})
        ours, cae.infra.distributed.gather = cae.infra.distributed.gather, _GatherWithoutSum.apply
        result["without_sum"] = _one_step(cfg, data)
        cae.infra.distributed.gather = ours

        resumable = _config(aug_prob=0.5, epochs=2)  # KMeans and phase 2 after the resume
        result["straight"] = _weights(train(resumable, data, out / "straight"))
        save = cae.method.train.save_checkpoint

        def save_then_stop(*args):
            save(*args)
            raise _Stop

        cae.method.train.save_checkpoint = save_then_stop
        try:
            train(resumable, data, out / "resumed")
        except _Stop:
            pass
        cae.method.train.save_checkpoint = save
        result["resumed"] = _weights(train(resumable, data, out / "resumed", resume=True))
        try:
            train(_config(batch_size=BATCH + 1), data, out / "odd")
        except CaeError as exc:
            result["odd_batch"] = str(exc)
    torch.save(result, out / f"rank{rank}.pt")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def runs(tmp_path_factory) -> dict:
    """The two processes' results, and one process's on the same batches."""
    out = tmp_path_factory.mktemp("distributed")
    mp.spawn(_worker, args=(_free_port(), out), nprocs=WORLD)
    cfg, data = _config(), _data()
    step = _one_step(cfg, data)
    state = train(cfg, data, out / "one")
    one = dict(step=step, weights=_weights(state), history=state.history,
               prototypes=state.nets.prototypes, phase2=_phase2_grads(state, cfg, data))
    return dict(out=out, one=one, ranks=[torch.load(out / f"rank{r}.pt", weights_only=False)
                                         for r in range(WORLD)])


def max_difference(a: dict[str, torch.Tensor], b: dict[str, torch.Tensor]) -> float:
    assert a.keys() == b.keys()
    return max((a[k] - b[k]).abs().max().item() for k in a)


def test_loss_and_every_gradient_equal_one_process(runs):
    (loss, grads), (one_loss, one_grads) = runs["ranks"][0]["step"], runs["one"]["step"]
    assert (loss - one_loss).abs().max().item() <= GRAD_TOLERANCE
    assert max_difference(grads, one_grads) <= GRAD_TOLERANCE
    assert max_difference(runs["ranks"][0]["phase2"], runs["one"]["phase2"]) <= GRAD_TOLERANCE


def test_gather_without_gradient_sum_fails_the_comparison(runs):
    loss, grads = runs["ranks"][0]["without_sum"]
    one_loss, one_grads = runs["one"]["step"]
    assert (loss - one_loss).abs().max().item() <= GRAD_TOLERANCE  # the forward is right
    assert max_difference(grads, one_grads) > 100 * GRAD_TOLERANCE


def test_weights_after_five_lars_steps_equal_one_process(runs):
    two, one = runs["ranks"][0], runs["one"]
    assert max_difference(two["weights"], one["weights"]) <= WEIGHT_TOLERANCE
    assert two["history"].keys() == one["history"].keys()
    for name in one["history"]:
        assert two["history"][name] == pytest.approx(one["history"][name], abs=GRAD_TOLERANCE)
    assert (two["prototypes"] - one["prototypes"]).abs().max().item() <= WEIGHT_TOLERANCE


def test_both_processes_hold_the_same_weights(runs):
    first, second = runs["ranks"]
    for key in ("weights", "straight", "resumed"):
        assert max_difference(first[key], second[key]) == 0.0, key


def test_resume_with_two_processes_continues_exactly(runs):
    straight, resumed = runs["ranks"][0]["straight"], runs["ranks"][0]["resumed"]
    assert max_difference(straight, resumed) == 0.0


def test_only_process_zero_writes_and_resume_refuses_another_world_size(runs):
    run_dir = runs["out"] / "two"
    assert sorted(p.name for p in run_dir.iterdir()) == ["checkpoint.pt"]
    with pytest.raises(CaeError, match="written by 2 process"):
        train(_config(), _data(), run_dir, resume=True)


def test_provenance_records_world_size_and_backend(runs):
    assert runs["ranks"][0]["provenance"]["world_size"] == WORLD
    assert runs["ranks"][0]["provenance"]["backend"] == "gloo"
    assert {runs["ranks"][r]["odd_batch"] for r in range(WORLD)} == {
        f"batch_size {BATCH + 1} is the global batch, split over 2 processes; make it a "
        f"multiple of 2"}


def test_torchrun_smoke_run_is_scored_by_one_process_evaluate(tmp_path, fake_mnist_dir):
    """`torchrun --nproc_per_node=2 -m cae train` on PneumoniaMNIST (on MNIST-format data
    the test made when $CAE_DATA_DIR lacks it) leaves a run that `cae evaluate` scores."""
    if (REAL_DATA / "medmnist" / "pneumoniamnist.npz").is_file():
        data = ["--dataset", "pneumoniamnist", "--data-dir", str(REAL_DATA)]
    else:
        data = ["--dataset", "mnist", "--data-dir", str(fake_mnist_dir)]
    run_dir = tmp_path / "run"
    done = subprocess.run([sys.executable, "-m", "torch.distributed.run", "--standalone",
                           f"--nproc_per_node={WORLD}", "-m", "cae", "train", "--profile", "smoke",
                           *data, "--run-dir", str(run_dir), "--quiet"],
                          capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-3000:]
    assert done.stdout.count("trained in") == 1  # process 0 alone reports
    assert sorted(p.name for p in run_dir.iterdir()) == ["checkpoint.pt", "config.json",
                                                          "elbow.json", "history.json"]
    assert torch.load(run_dir / "checkpoint.pt", weights_only=True)["world_size"] == WORLD
    assert main(["evaluate", "--run-dir", str(run_dir), "--no-floors"]) == 0
    for name in ("metrics.json", "metrics.csv", "mapping_vs_k.json", "figures/training.png"):
        assert (run_dir / name).is_file(), name
    provenance = json.loads((run_dir / "provenance.json").read_text())
    assert (provenance["world_size"], provenance["backend"]) == (WORLD, "gloo")  # the training's


def test_commands_that_run_in_one_process_refuse_torchrun(monkeypatch, capsys):
    monkeypatch.setenv("WORLD_SIZE", "2")
    assert main(["evaluate", "--run-dir", "/nonexistent"]) == 2
    assert "`cae evaluate` runs in one process; run it without torchrun" in capsys.readouterr().err
