"""NT-Xent against a loop over the paper's formula and its analytic value; MSE; the phase-1 sum."""

import math

import pytest
import torch

from cae.method.losses import nt_xent, reconstruction, warmup_loss


def nt_xent_reference(z1: torch.Tensor, z2: torch.Tensor, tau: float) -> float:
    """L = -log(exp(sim(z_i, z_j)/tau) / sum_{k != i} exp(sim(z_i, z_k)/tau)), mean over 2N anchors."""
    z = torch.cat([z1, z2]).double()
    n2 = len(z)
    n = n2 // 2

    def sim(a, b):
        return float(z[a] @ z[b] / (z[a].norm() * z[b].norm()))

    total = 0.0
    for i in range(n2):
        j = (i + n) % n2
        denominator = sum(math.exp(sim(i, k) / tau) for k in range(n2) if k != i)
        total += -math.log(math.exp(sim(i, j) / tau) / denominator)
    return total / n2


@pytest.mark.parametrize("tau", [0.1, 0.5, 1.0, 2.0])
def test_nt_xent_matches_loop_over_formula(tau):
    g = torch.Generator().manual_seed(0)
    z1, z2 = torch.randn(5, 3, generator=g), torch.randn(5, 3, generator=g)
    assert nt_xent(z1, z2, tau).item() == pytest.approx(nt_xent_reference(z1, z2, tau), rel=1e-6, abs=1e-6)


@pytest.mark.parametrize("tau", [0.1, 0.5, 1.0])
def test_nt_xent_perfectly_aligned_orthogonal_pairs(tau):
    n = 4
    q, _ = torch.linalg.qr(torch.randn(6, 6, generator=torch.Generator().manual_seed(1)))
    z = q[:n]  # n mutually orthogonal unit rows
    # each anchor: positive sim 1, 2n - 2 negatives of sim 0
    expected = -math.log(math.exp(1 / tau) / (math.exp(1 / tau) + 2 * n - 2))
    assert nt_xent(z, z.clone(), tau).item() == pytest.approx(expected, rel=1e-6, abs=1e-6)


def test_nt_xent_symmetric_in_views_and_scale_invariant():
    g = torch.Generator().manual_seed(2)
    z1, z2 = torch.randn(6, 4, generator=g), torch.randn(6, 4, generator=g)
    loss = nt_xent(z1, z2, 0.5)
    assert nt_xent(z2, z1, 0.5).item() == pytest.approx(loss.item(), rel=1e-6)
    row_scales = torch.tensor([[3.0], [0.5], [7.0], [1.0], [0.01], [20.0]])
    assert nt_xent(3.0 * z1, row_scales * z2, 0.5).item() == pytest.approx(loss.item(), rel=1e-6)


def test_nt_xent_lower_when_positives_agree():
    g = torch.Generator().manual_seed(3)
    z1 = torch.randn(8, 4, generator=g)
    noisy = z1 + 0.1 * torch.randn(8, 4, generator=g)
    unrelated = torch.randn(8, 4, generator=g)
    assert nt_xent(z1, noisy, 0.5) < nt_xent(z1, unrelated, 0.5)


@pytest.mark.parametrize("shards", [2, 4])
def test_nt_xent_over_shards_with_offsets_is_the_full_batch_loss(shards):
    """What torchrun's processes compute (`global_nt_xent`), in one process: each shard's
    views against the whole batch, positives and self-mask offset by the shard's first row.
    The mean over shards is the full-batch loss, with its gradient; offsets left at 0 are not."""
    g = torch.Generator().manual_seed(4)
    z1, z2 = torch.randn(8, 4, generator=g, requires_grad=True), torch.randn(8, 4, generator=g)
    full = nt_xent(z1, z2, 0.5)
    (full_grad,) = torch.autograd.grad(full, z1)
    n = len(z1) // shards
    parts = [nt_xent(z1[r * n:(r + 1) * n], z2[r * n:(r + 1) * n], 0.5, (z1, z2), r * n)
             for r in range(shards)]
    sharded = torch.stack(parts).mean()
    (sharded_grad,) = torch.autograd.grad(sharded, z1)
    assert sharded.item() == pytest.approx(full.item(), rel=1e-6)
    torch.testing.assert_close(sharded_grad, full_grad, rtol=1e-5, atol=1e-7)
    unshifted = torch.stack([nt_xent(z1[r * n:(r + 1) * n], z2[r * n:(r + 1) * n], 0.5, (z1, z2))
                             for r in range(shards)]).mean()
    assert abs(unshifted.item() - full.item()) > 0.1


def test_reconstruction_is_mean_squared_error():
    x = torch.zeros(1, 1, 2, 2)
    y = torch.tensor([[[[1.0, 2.0], [3.0, 4.0]]]])
    assert reconstruction(x, y).item() == 7.5  # (1 + 4 + 9 + 16) / 4


def test_warmup_loss_is_nt_xent_plus_alpha_times_both_mses():
    g = torch.Generator().manual_seed(4)
    z1, z2 = torch.randn(4, 3, generator=g), torch.randn(4, 3, generator=g)
    x1, y1, x2, y2 = (torch.rand(4, 1, 5, 5, generator=g) for _ in range(4))
    total, contrastive, mse = warmup_loss(z1, z2, x1, y1, x2, y2, temperature=0.5, alpha=0.1)
    assert torch.equal(contrastive, nt_xent(z1, z2, 0.5))
    assert torch.equal(mse, reconstruction(x1, y1) + reconstruction(x2, y2))
    assert torch.equal(total, contrastive + 0.1 * mse)
    assert total.item() == pytest.approx(contrastive.item() + 0.1 * (
        ((x1 - y1) ** 2).mean().item() + ((x2 - y2) ** 2).mean().item()), rel=1e-6)


@pytest.mark.parametrize("alpha, weight", [(0.1, 0.0), (0.0, 1.0), (0.3, 2.0)])
def test_warmup_loss_weights_both_terms(alpha, weight):
    """The ablation's halves: weight 0 is the autoencoder alone, alpha 0 is contrastive alone."""
    g = torch.Generator().manual_seed(5)
    z1, z2 = torch.randn(4, 3, generator=g), torch.randn(4, 3, generator=g)
    x1, y1, x2, y2 = (torch.rand(4, 1, 5, 5, generator=g) for _ in range(4))
    total, contrastive, mse = warmup_loss(z1, z2, x1, y1, x2, y2, temperature=0.5,
                                          alpha=alpha, contrastive_weight=weight)
    assert torch.equal(total, weight * contrastive + alpha * mse)
