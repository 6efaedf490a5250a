"""PyTorch reference: the LSTM-VAE of seed 000 (time-series synthesis lab, part 1).

Source: shared/seeds/000_3ba8255c184159c7.txt (``LSTMEncoder``, ``LSTMDecoder``,
``LSTMVAE``, ``train_lstm_vae``), re-typed with the same architecture and math.

Architecture (input ``x_btc`` = [batch, time, channels], seed: channels = 1):
  encoder  nn.LSTM(C -> hidden) over the whole sequence; last hidden state
           h [B, hidden] -> fc_mu, fc_logvar: Linear(hidden -> latent).
  sample   z = mu + exp(0.5 logvar) * eps.
  decoder  h0 = relu(Linear(latent -> hidden)(z)), c0 = 0, x_0 = 0 [B, 1, C];
           a Python loop over the T steps: one nn.LSTM(C -> hidden) step, then
           x_t = Linear(hidden -> C)(h_t), fed back as the next input.
  loss     MSE(recon, x) + 0.01 * KL with KL = -0.5 * mean(1 + logvar - mu^2 - exp(logvar)).
  optim    Adam(lr 1e-3) on all parameters.

Import this module only when ``benchmarks.reference.torch_available()``.
"""

from __future__ import annotations

from collections.abc import Callable

import torch
from torch import nn

KL_WEIGHT = 0.01


class LSTMEncoder(nn.Module):
    """[B, T, C] -> (mu [B, latent], logvar [B, latent]) from the last LSTM hidden state."""

    def __init__(self, channels: int, hidden: int, latent: int):
        super().__init__()
        self.lstm = nn.LSTM(channels, hidden, batch_first=True)
        self.fc_mu = nn.Linear(hidden, latent)
        self.fc_logvar = nn.Linear(hidden, latent)

    def forward(self, x_btc: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        _, (h_1bh, _) = self.lstm(x_btc)
        h_bh = h_1bh[0]
        return self.fc_mu(h_bh), self.fc_logvar(h_bh)


class LSTMDecoder(nn.Module):
    """z [B, latent] -> [B, T, C], generated one step at a time with output feedback."""

    def __init__(self, channels: int, hidden: int, latent: int):
        super().__init__()
        self.channels = channels
        self.hidden = hidden
        self.fc = nn.Linear(latent, hidden)
        self.lstm = nn.LSTM(channels, hidden, batch_first=True)
        self.output = nn.Linear(hidden, channels)

    def forward(self, z_bd: torch.Tensor, seq_len: int) -> torch.Tensor:
        batch = z_bd.shape[0]
        h = torch.relu(self.fc(z_bd)).unsqueeze(0)  # [1, B, hidden]
        c = torch.zeros(1, batch, self.hidden, dtype=z_bd.dtype, device=z_bd.device)
        x_t = torch.zeros(batch, 1, self.channels, dtype=z_bd.dtype, device=z_bd.device)
        outputs = []
        for _ in range(seq_len):
            _, (h, c) = self.lstm(x_t, (h, c))
            x_t = self.output(h[0]).unsqueeze(1)  # [B, 1, C]
            outputs.append(x_t)
        return torch.cat(outputs, dim=1)


class LSTMVAE(nn.Module):
    """Encoder + reparameterised sample + autoregressive decoder."""

    def __init__(self, channels: int = 1, hidden: int = 32, latent: int = 4):
        super().__init__()
        self.encoder = LSTMEncoder(channels, hidden, latent)
        self.decoder = LSTMDecoder(channels, hidden, latent)
        self.latent = latent

    def forward(self, x_btc: torch.Tensor):
        mu, logvar = self.encoder(x_btc)
        z = mu + torch.exp(0.5 * logvar) * torch.randn_like(mu)
        return self.decoder(z, x_btc.shape[1]), mu, logvar

    @torch.no_grad()
    def generate(self, n_samples: int, seq_len: int) -> torch.Tensor:
        """Decode ``n_samples`` latents drawn from N(0, I): [n_samples, seq_len, C]."""
        z = torch.randn(n_samples, self.latent)
        return self.decoder(z, seq_len)


def vae_loss(recon, x, mu, logvar, kl_weight: float = KL_WEIGHT) -> torch.Tensor:
    """MSE reconstruction + kl_weight * mean-form KL, as in the seed."""
    recon_loss = nn.functional.mse_loss(recon, x)
    kld = -0.5 * torch.mean(1 + logvar - mu.pow(2) - logvar.exp())
    return recon_loss + kl_weight * kld


def make_lstm_vae_step(
    batch: int, seq_len: int, hidden: int = 32, latent: int = 4, channels: int = 1, seed: int = 0
) -> Callable[[], float]:
    """Build the model, Adam and a fixed random batch [batch, seq_len, channels].

    Returns ``step()``: one full optimiser step (zero_grad, forward, backward,
    Adam update) on that batch; it returns the loss as a Python float.
    """
    torch.manual_seed(seed)
    model = LSTMVAE(channels, hidden, latent)
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-3)
    x = torch.randn(batch, seq_len, channels, dtype=torch.float32)

    def step() -> float:
        optimizer.zero_grad()
        recon, mu, logvar = model(x)
        loss = vae_loss(recon, x, mu, logvar)
        loss.backward()
        optimizer.step()
        return loss.item()

    step.model = model  # type: ignore[attr-defined]
    return step


def make_lstm_vae_sampler(
    n_samples: int, seq_len: int, hidden: int = 32, latent: int = 4, channels: int = 1,
    seed: int = 0,
) -> Callable[[], torch.Tensor]:
    """Returns ``sample()``: decode ``n_samples`` prior draws, [n_samples, seq_len, channels]."""
    torch.manual_seed(seed)
    model = LSTMVAE(channels, hidden, latent)
    return lambda: model.generate(n_samples, seq_len)
