"""The batched augmentations: off means identity, seeds reproduce views, flip and blur are exact."""

import pytest
import torch

from cae.method.augment import (
    AugmentParams,
    affine_matrices,
    augment,
    blur,
    blur_by_matmul,
    gaussian_kernels,
    two_views,
)

# bilinear resampling at pixel centres in float32 is exact only to a few 1e-6 on 28 px
RESAMPLE_ATOL = 1e-5


def batch(seed: int = 0) -> torch.Tensor:
    return torch.rand(4, 1, 28, 28, generator=torch.Generator().manual_seed(seed))


def test_probability_zero_is_identity():
    x = batch()
    theta = affine_matrices(4, AugmentParams(prob=0.0), torch.Generator().manual_seed(0), "cpu")
    assert torch.equal(theta, torch.tensor([[1.0, 0, 0], [0, 1.0, 0]]).expand(4, 2, 3))
    out = augment(x, AugmentParams(prob=0.0), torch.Generator().manual_seed(0))
    torch.testing.assert_close(out, x, rtol=0, atol=RESAMPLE_ATOL)


def test_same_seed_same_views_other_seed_other_views():
    x, params = batch(), AugmentParams(prob=0.5)
    a = augment(x, params, torch.Generator().manual_seed(7))
    b = augment(x, params, torch.Generator().manual_seed(7))
    c = augment(x, params, torch.Generator().manual_seed(8))
    assert torch.equal(a, b)
    assert (a - c).abs().max() > 0.1


def test_two_views_differ_and_keep_shape_dtype_range():
    x = batch()
    v1, v2 = two_views(x, AugmentParams(prob=1.0), torch.Generator().manual_seed(0))
    for v in (v1, v2):
        assert v.shape == x.shape and v.dtype == x.dtype
        assert v.min() >= 0.0 and v.max() <= 1.0
    assert (v1 - v2).abs().max() > 0.1


def test_flip_alone_mirrors_the_image():
    # one probability drives every transform: make all but the flip no-ops
    params = AugmentParams(prob=1.0, rotation_degrees=0.0, crop_scale=(1.0, 1.0),
                           noise_std=0.0, blur_sigma=(1e-6, 1e-6))
    x = batch()
    out = augment(x, params, torch.Generator().manual_seed(0))
    torch.testing.assert_close(out, torch.flip(x, [-1]), rtol=0, atol=RESAMPLE_ATOL)


def test_hflip_off_never_flips_and_keeps_the_other_draws():
    flipping = AugmentParams(prob=1.0)
    theta = affine_matrices(256, flipping, torch.Generator().manual_seed(0), "cpu")
    unflipped = affine_matrices(256, AugmentParams(prob=1.0, hflip=False),
                                torch.Generator().manual_seed(0), "cpu")
    # with prob 1 every image is flipped; without hflip none is, and nothing else changes
    torch.testing.assert_close(unflipped[:, :, 0], -theta[:, :, 0])
    torch.testing.assert_close(unflipped[:, :, 1:], theta[:, :, 1:])


def test_full_area_crop_is_the_whole_image():
    # crop_scale (1, 1) with any sampled aspect ratio must keep width = height = 1
    params = AugmentParams(prob=1.0, rotation_degrees=0.0, crop_scale=(1.0, 1.0))
    theta = affine_matrices(64, params, torch.Generator().manual_seed(0), "cpu")
    torch.testing.assert_close(theta[:, 0, 0].abs(), torch.ones(64))
    torch.testing.assert_close(theta[:, 1, 1], torch.ones(64))
    torch.testing.assert_close(theta[:, :, 2], torch.zeros(64, 2))


def test_crop_keeps_the_sampled_area_range():
    params = AugmentParams(prob=1.0, rotation_degrees=0.0, crop_scale=(0.6, 1.0))
    theta = affine_matrices(2000, params, torch.Generator().manual_seed(0), "cpu")
    width, height = theta[:, 0, 0].abs(), theta[:, 1, 1]
    area = width * height
    assert width.max() <= 1.0 and height.max() <= 1.0
    assert area.min() >= 0.6 - 1e-6 and area.max() <= 1.0 + 1e-6
    assert area.max() > 0.99  # the top of the range is reached, not clipped away


def test_gaussian_kernels_normalised_and_sigma_zero_is_delta():
    k = gaussian_kernels(torch.tensor([0.0, 0.5, 1.0, 3.0]))
    assert k.shape == (4, 7)
    torch.testing.assert_close(k.sum(dim=1), torch.ones(4))
    assert torch.equal(k[0], torch.tensor([0.0, 0, 0, 1, 0, 0, 0]))
    torch.testing.assert_close(k, k.flip(1))  # symmetric
    # sigma 1: weights exp(-d^2 / 2) / sum over d = -3..3
    d = torch.arange(-3.0, 4.0)
    torch.testing.assert_close(k[2], torch.exp(-d ** 2 / 2) / torch.exp(-d ** 2 / 2).sum())


def test_blur_of_constant_is_constant_and_sigma_zero_is_identity():
    const = torch.full((2, 1, 10, 10), 0.3)
    torch.testing.assert_close(blur(const, torch.tensor([0.5, 2.0])), const)
    x = batch()
    assert torch.equal(blur(x, torch.zeros(4)), x)
    assert (blur(x, torch.full((4,), 1.0)) - x).abs().max() > 0.1


@pytest.mark.parametrize("channels", [1, 3])
def test_blur_each_image_with_its_own_sigma(channels):
    x = torch.rand(2, channels, 9, 9, generator=torch.Generator().manual_seed(1))
    both = blur(x, torch.tensor([0.0, 1.0]))
    assert torch.equal(both[0], x[0])
    torch.testing.assert_close(both[1:], blur(x[1:], torch.tensor([1.0])))


@pytest.mark.parametrize("shape", [(64, 1, 28, 28), (5, 3, 28, 28), (3, 2, 9, 14)])
def test_blur_by_matmul_is_blur_to_float_rounding(shape):
    """The `fast` kernels' blur: the same reflect-padded separable Gaussian per image
    (sigma 0 is the identity), any channel count, non-square images."""
    g = torch.Generator().manual_seed(2)
    x = torch.rand(shape, generator=g)
    sigma = torch.rand(shape[0], generator=g) * 1.5
    sigma[0] = 0.0
    fast = blur_by_matmul(x, sigma)
    torch.testing.assert_close(fast, blur(x, sigma), rtol=0, atol=1e-6)
    torch.testing.assert_close(fast[0], x[0], rtol=0, atol=1e-7)
    channels_last = x.contiguous(memory_format=torch.channels_last)
    torch.testing.assert_close(blur_by_matmul(channels_last, sigma), fast, rtol=0, atol=1e-7)


def test_fast_views_draw_the_same_randomness_as_exact_ones():
    """`fast` changes how the blur is computed, not what is drawn: from the same generator
    state both kernels give the same views to float rounding, and leave the generator in
    the same state."""
    x = batch()
    params = AugmentParams(prob=1.0)
    g_exact, g_fast = torch.Generator().manual_seed(3), torch.Generator().manual_seed(3)
    exact, fast = two_views(x, params, g_exact), two_views(x, params, g_fast, fast=True)
    for a, b in zip(exact, fast):
        torch.testing.assert_close(b, a, rtol=0, atol=1e-5)
    assert torch.equal(g_exact.get_state(), g_fast.get_state())
