"""The PyTorch reference implementations in benchmarks/reference run and learn.

Skipped when torch is not installed (CI has no torch).
"""

from __future__ import annotations

import math

import pytest

torch = pytest.importorskip("torch")

from benchmarks.reference import cgats, ddpm, lstm_vae, rcgan  # noqa: E402
from jtsgen.errors import InputError  # noqa: E402


def _params(module):
    return [p.detach().clone() for p in module.parameters()]


def _changed(before, module):
    return any(not torch.equal(a, b) for a, b in zip(before, module.parameters(), strict=True))


def test_lstm_vae_step_updates_weights_and_loss_is_finite():
    step = lstm_vae.make_lstm_vae_step(batch=4, seq_len=12)
    before = _params(step.model)
    losses = [step() for _ in range(3)]
    assert all(math.isfinite(v) for v in losses)
    assert _changed(before, step.model)


def test_lstm_vae_decoder_feeds_back_its_output():
    torch.manual_seed(0)
    model = lstm_vae.LSTMVAE(channels=2, hidden=8, latent=3)
    z = torch.randn(5, 3)
    out = model.decoder(z, 7)
    assert out.shape == (5, 7, 2)
    # The first output depends only on z (input x_0 = 0): a shorter decode agrees on it.
    torch.testing.assert_close(model.decoder(z, 1)[:, 0], out[:, 0])
    assert lstm_vae.make_lstm_vae_sampler(3, 6)().shape == (3, 6, 1)


def test_lstm_vae_loss_is_mse_plus_weighted_mean_kl():
    x = torch.zeros(2, 3, 1)
    recon = torch.ones(2, 3, 1)
    mu = torch.ones(2, 4)
    logvar = torch.zeros(2, 4)
    # MSE = 1; KL mean form = -0.5 * mean(1 + 0 - 1 - 1) = 0.5.
    assert lstm_vae.vae_loss(recon, x, mu, logvar).item() == pytest.approx(1 + 0.01 * 0.5)


def test_ddpm_sampler_and_train_step():
    sample = ddpm.make_ddpm_sampler(3, seq_len=20, hidden=8, num_timesteps=5)
    x = sample()
    assert x.shape == (3, 20) and torch.isfinite(x).all()
    step = ddpm.make_ddpm_train_step(4, seq_len=20, hidden=8, num_timesteps=5)
    before = _params(step.model)
    assert math.isfinite(step())
    assert _changed(before, step.model)


def test_ddpm_schedule_matches_seed():
    model = ddpm.SimpleTemporalDiffusion(seq_len=10, hidden=4, num_timesteps=50)
    assert model.betas[0].item() == pytest.approx(1e-4)
    assert model.betas[-1].item() == pytest.approx(0.02)
    torch.testing.assert_close(model.alphas_cumprod, torch.cumprod(1 - model.betas, 0))


def test_cgats_step_trains_decoder_only():
    step = cgats.make_cgats_stage2_step(batch=4, seq_len=16, channels=2)
    enc_before, dec_before = _params(step.encoder), _params(step.decoder)
    losses = [step() for _ in range(2)]
    assert all(math.isfinite(v) for v in losses)
    assert _changed(dec_before, step.decoder)
    assert not _changed(enc_before, step.encoder)


def test_cgats_decoder_reads_the_anomaly_latent_only_on_labelled_steps():
    torch.manual_seed(0)
    dec = cgats.Decoder(channels=1, seq_len=10)
    z, y = torch.randn(2, 16), torch.zeros(2, 10)
    y[:, 4:7] = 1
    a1, a2 = torch.randn(2, 4), torch.randn(2, 4)
    mean1, logvar1 = dec(z, y, a1)
    mean2, _ = dec(z, y, a2)
    assert mean1.shape == logvar1.shape == (2, 10, 1)
    off = y[..., None] == 0
    torch.testing.assert_close(mean1[off], mean2[off])
    assert not torch.allclose(mean1[~off], mean2[~off])


def test_gaussian_nll_value():
    x, mean, logvar = torch.tensor([1.0]), torch.tensor([0.0]), torch.tensor([0.0])
    assert cgats.gaussian_nll(x, mean, logvar).item() == pytest.approx(0.5)


def test_rcgan_critic_step_updates_critic_only():
    step = rcgan.make_rcgan_critic_step(batch=8, seq_len=12, channels=2, pac=4)
    crit_before, gen_before = _params(step.critic), _params(step.generator)
    assert math.isfinite(step())
    assert _changed(crit_before, step.critic)
    assert not _changed(gen_before, step.generator)
    with pytest.raises(InputError, match="batch"):
        rcgan.make_rcgan_critic_step(batch=6, pac=4)


def test_rcgan_pack_puts_group_members_side_by_side():
    x = torch.arange(4 * 2 * 1, dtype=torch.float32).reshape(4, 2, 1)  # B=4, T=2, C=1
    y = torch.full((4, 2), -1.0)
    packed = rcgan.pack(x, y, pac=2)
    assert packed.shape == (2, 2, 4)
    # group 0 at t=1: [x(b0), y(b0), x(b1), y(b1)]
    assert packed[0, 1].tolist() == [1.0, -1.0, 3.0, -1.0]
    assert packed[1, 0].tolist() == [4.0, -1.0, 6.0, -1.0]


def test_references_run_on_the_device_the_benchmarks_name(monkeypatch):
    from benchmarks import reference, train_step

    monkeypatch.setenv(reference.DEVICE_VARIABLE, "cpu")
    assert reference.torch_device() == "cpu"
    runners = train_step.torch_runners(lambda: lstm_vae.make_lstm_vae_step(batch=4, seq_len=6))
    assert runners and all(math.isfinite(run()) for run in runners.values())
    monkeypatch.setenv(reference.DEVICE_VARIABLE, "no-such-device")
    with pytest.raises(InputError, match=reference.DEVICE_VARIABLE):
        reference.torch_device()
    monkeypatch.delenv(reference.DEVICE_VARIABLE)
    assert reference.torch_device() is None
