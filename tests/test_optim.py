"""The paper's lr schedule at known epochs and one LARS update worked out by hand."""

import pytest
import torch
from torch import nn

from cae.config import make_config
from cae.method.optim import learning_rate, make_lars, set_learning_rate, use_foreach


@pytest.mark.parametrize("epoch, lr", [
    (0, 0.01),    # start of the linear warm-up
    (5, 0.13),    # halfway: 0.01 + 0.24 / 2
    (10, 0.25),   # peak
    (55, 0.15),   # halfway through the cosine from 0.25 to 0.05
    (100, 0.05),  # end
])
def test_paper_schedule(epoch, lr):
    assert learning_rate(epoch, make_config("paper")) == pytest.approx(lr, abs=1e-12)


def test_schedule_rises_during_warmup_then_falls():
    cfg = make_config("paper")
    lrs = [learning_rate(e / 4, cfg) for e in range(0, 401)]
    warmup, anneal = lrs[:41], lrs[40:]
    assert all(a < b for a, b in zip(warmup, warmup[1:]))
    assert all(a > b for a, b in zip(anneal, anneal[1:]))


def test_make_lars_uses_the_config():
    cfg = make_config("paper")
    opt = make_lars([nn.Linear(2, 1)], cfg)
    weights, others = opt.param_groups
    assert [p.ndim for p in weights["params"]] == [2] and [p.ndim for p in others["params"]] == [1]
    assert weights["weight_decay"] == 1e-6 and weights["always_adapt"]
    assert others["weight_decay"] == 0.0 and not others["always_adapt"]
    for group in opt.param_groups:
        assert group["lr"] == 0.01 and group["momentum"] == 0.9 and group["trust_coeff"] == 0.02


@pytest.mark.parametrize("foreach", [False, True])
def test_lars_two_steps_by_hand(foreach):
    # paper config (lr 0.01 at epoch 0, trust 0.02, momentum 0.9) with a decay large enough to see;
    # the `fast` kernels' multi-tensor form gives the same numbers
    cfg = make_config("paper", weight_decay=0.2)
    layer = nn.Linear(2, 1).double()
    opt = make_lars([layer], cfg, foreach)
    w, b = layer.weight, layer.bias

    # step 1: w = [3, 4] (|w| = 5), g = [0.8, -0.6] (|g| = 1)
    with torch.no_grad():
        w.copy_(torch.tensor([[3.0, 4.0]]))
        b.copy_(torch.tensor([0.5]))
    w.grad = torch.tensor([[0.8, -0.6]], dtype=torch.float64)
    b.grad = torch.tensor([2.0], dtype=torch.float64)
    opt.step()
    # trust = 0.02 * 5 / (1 + 0.2 * 5) = 0.05; scaled grad = 0.05 * (g + 0.2 w) = 0.05 * [1.4, 0.2]
    # = [0.07, 0.01] = first momentum buffer; w -= 0.01 * buffer
    torch.testing.assert_close(w, torch.tensor([[2.9993, 3.9999]], dtype=torch.float64),
                               rtol=0, atol=1e-10)
    # bias: plain SGD, no trust ratio, no decay: 0.5 - 0.01 * 2
    torch.testing.assert_close(b, torch.tensor([0.48], dtype=torch.float64), rtol=0, atol=1e-12)

    # step 2 at lr 0.1, with w put back to [3, 4] so the norms stay round; g = [0.6, 0.8]
    set_learning_rate(opt, 0.1)
    with torch.no_grad():
        w.copy_(torch.tensor([[3.0, 4.0]]))
    w.grad = torch.tensor([[0.6, 0.8]], dtype=torch.float64)
    b.grad = torch.tensor([1.0], dtype=torch.float64)
    opt.step()
    # scaled grad = 0.05 * ([0.6, 0.8] + 0.2 [3, 4]) = [0.06, 0.08]
    # buffer = 0.9 * [0.07, 0.01] + [0.06, 0.08] = [0.123, 0.089]; w = [3, 4] - 0.1 * buffer
    torch.testing.assert_close(w, torch.tensor([[2.9877, 3.9911]], dtype=torch.float64),
                               rtol=0, atol=1e-10)
    # bias buffer = 0.9 * 2 + 1 = 2.8; b = 0.48 - 0.1 * 2.8
    torch.testing.assert_close(b, torch.tensor([0.2], dtype=torch.float64), rtol=0, atol=1e-12)


@pytest.mark.parametrize("profile", ["paper", "authors"])
def test_multi_tensor_lars_matches_the_loop_over_many_steps(profile):
    """The `fast` kernels' LARS equals the loop form to float rounding, on a network with
    weights, biases and norm parameters, both LARS variants (authors: every parameter
    adapted, no decay)."""
    cfg = make_config(profile, weight_decay=1e-3)
    nets = []
    for _ in range(2):
        torch.manual_seed(0)
        nets.append(nn.Sequential(nn.Conv2d(1, 4, 3), nn.BatchNorm2d(4), nn.Flatten(),
                                  nn.Linear(4 * 6 * 6, 3)))
    loop, multi = make_lars([nets[0]], cfg, False), make_lars([nets[1]], cfg, True)
    start = nets[0][0].weight.detach().clone()
    g = torch.Generator().manual_seed(1)
    for step in range(5):
        x = torch.randn(8, 1, 8, 8, generator=g)
        for net, opt in ((nets[0], loop), (nets[1], multi)):
            set_learning_rate(opt, 0.1 * (step + 1))
            opt.zero_grad()
            net(x).square().mean().backward()
            opt.step()
    for a, b in zip(nets[0].parameters(), nets[1].parameters()):
        torch.testing.assert_close(a, b, rtol=1e-5, atol=1e-6)
    assert (nets[0][0].weight - start).abs().max() > 1e-4  # the steps moved the weights


def test_use_foreach_sets_every_group_after_a_restored_state():
    cfg = make_config("paper")
    saved = make_lars([nn.Linear(2, 1)], cfg, False).state_dict()
    opt = make_lars([nn.Linear(2, 1)], cfg, True)
    opt.load_state_dict(saved)
    assert {g["foreach"] for g in opt.param_groups} == {False}  # the saved option came back
    use_foreach(opt, True)
    assert {g["foreach"] for g in opt.param_groups} == {True}
