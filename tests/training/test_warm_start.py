"""Warm starts: a new model begins as the trained one it comes from, then trains on."""

from __future__ import annotations

import torch

from training import checkpoint
from training.archs import build
from training.train import train
from training.warm_start import adapt

ARCH = {"widths": [8, 16], "blocks": [1, 1], "unshuffle": 2}


def trained_colour_ae() -> torch.nn.Module:
    """A colour AE with random (non-zero) weights everywhere, the tail included."""
    torch.manual_seed(0)
    net = build("unet_ae", channels=3, **ARCH)
    with torch.no_grad():
        for p in net.parameters():
            p.normal_(0, 0.1)
    return net.eval()


def inputs(channels: int) -> tuple[torch.Tensor, torch.Tensor]:
    g = torch.Generator().manual_seed(1)
    return torch.rand(2, channels, 32, 32, generator=g), torch.full((2, 1, 32, 32), 0.1)


def test_grey_model_starts_as_the_colour_model_on_a_grey_picture():
    colour = trained_colour_ae()
    grey = build("unet_ae", channels=1, **ARCH).eval()
    assert adapt(grey, colour.state_dict()) == []
    x, s = inputs(1)
    with torch.no_grad():
        want = colour(x.expand(-1, 3, -1, -1), s).mean(dim=1, keepdim=True)
        assert torch.allclose(grey(x, s), want, atol=1e-5)


def test_deeper_model_starts_as_the_shallower_one():
    colour = trained_colour_ae()
    deeper = build("unet_ae", channels=3, widths=[8, 16], blocks=[2, 3], unshuffle=2).eval()
    assert adapt(deeper, colour.state_dict()) == []  # the new blocks are the identity
    x, s = inputs(3)
    with torch.no_grad():
        assert torch.allclose(deeper(x, s), colour(x, s), atol=1e-5)
    new_first = deeper.body.mid[1].body[0].weight
    assert new_first.abs().sum() > 0  # only the last convolution is zeroed: gradients flow


def test_model_grown_by_a_full_resolution_head_starts_as_the_source_and_the_head_learns():
    colour = trained_colour_ae()
    grown = build("unet_ae", channels=3, full_width=4, full_blocks=2, **ARCH).eval()
    fresh = adapt(grown, colour.state_dict())
    assert fresh and all(n.startswith("body.full.") for n in fresh)
    x, s = inputs(3)
    with torch.no_grad():
        assert torch.allclose(grown(x, s), colour(x, s), atol=1e-5)
    head = grown.body.full
    assert head.body[0].body[-1].weight.abs().sum() > 0  # not parked as an identity block
    grown(x, s).square().mean().backward()
    assert head.out.weight.grad.abs().sum() > 0


def test_wider_model_starts_as_the_narrower_one_and_its_new_channels_learn():
    colour = trained_colour_ae()
    wider = build("unet_ae", channels=3, widths=[12, 24], blocks=[2, 1], unshuffle=2).eval()
    assert adapt(wider, colour.state_dict()) == []
    x, s = inputs(3)
    with torch.no_grad():
        assert torch.allclose(wider(x, s), colour(x, s), atol=1e-5)
    wider(x, s).square().mean().backward()
    body = wider.body
    # the weights that keep the new channels unheard are zero, and they learn from step 0
    for w, rows in ((body.tail[0].weight, (slice(None), slice(8, None))),
                    (body.enc[0][0].body[0].weight, (slice(0, 8), slice(8, None))),
                    (body.ups[0].weight, (slice(16, None), slice(0, 8)))):  # (in, out, k, k)
        assert w[rows].abs().sum() == 0 and w.grad[rows].abs().sum() > 0


def test_wider_grey_model_starts_as_the_narrower_grey_one():
    """A grey source is widened, not folded again as if it were colour."""
    colour = trained_colour_ae()
    grey = build("unet_ae", channels=1, **ARCH).eval()
    adapt(grey, colour.state_dict())
    wider = build("unet_ae", channels=1, widths=[12, 16], blocks=[1, 1], unshuffle=2).eval()
    assert adapt(wider, grey.state_dict()) == []
    x, s = inputs(1)
    with torch.no_grad():
        assert torch.allclose(wider(x, s), grey(x, s), atol=1e-5)


def test_vae_starts_with_the_ae_as_its_deterministic_path():
    colour = trained_colour_ae()
    vae = build("unet_cvae", channels=3, latent=4, **ARCH).eval()
    fresh = adapt(vae, colour.state_dict())
    assert fresh and all(name.startswith("posterior.") for name in fresh)
    x, s = inputs(3)
    with torch.no_grad():
        assert torch.allclose(vae(x, s)[0], colour(x, s), atol=1e-5)
        # the latent is heard from the start, or the posterior would collapse (a saddle)
        sampled = vae(x, s, temperature=1.0)[0]
        assert (sampled - colour(x, s)).abs().max() > 1e-4


def test_recipe_init_warm_starts_a_fresh_run(tmp_path, image_root, tiny_recipe):
    source = tmp_path / "source.pt"
    net = trained_colour_ae()
    checkpoint.save(source, {"arch": {"name": "unet_ae", "channels": 3, **ARCH},
                             "model": net.state_dict(), "step": 7})
    tiny_recipe["init"] = str(source)
    tiny_recipe["train"]["steps"] = 1
    tiny_recipe["train"]["lr"] = 0.0
    tiny_recipe["train"]["lr_min"] = 0.0
    train(tiny_recipe, tmp_path / "run", image_root, None, 1)
    state = checkpoint.load(tmp_path / "run" / "last.pt")
    for name, value in net.state_dict().items():
        assert torch.allclose(state["model"][name], value), name
