"""PyTorch reference: one C-GATS stage-2 training step (frozen encoder, trained decoder).

Source: the C-GATS paper (shared/seeds/004_cd55445c3540e63b.txt), with the
architecture fixed for the benchmark so that the JAX model matches it exactly.

Shapes: ``x_btc`` = [B, T, C] series X^A, ``y_bt`` = [B, T] labels Y^A in {0, 1}.
  encoder (frozen, run under no_grad) on the occluded series x * (1 - y):
      nn.LSTM(C -> 32) -> nn.LSTM(32 -> 64); last hidden state h [B, 64]
      -> mu = Linear(64 -> 16)(h), logvar = Linear(64 -> 16)(h);
      z = mu + exp(0.5 logvar) * eps.
  decoder (trained), teacher forced:
      zc = tanh(Linear(16 -> 32)(z)) [B, 32];
      u_t = concat(zc, x_{t-1}) with x_{-1} = 0, i.e. the input is [B, T, 32 + C];
      nn.LSTM(32 + C -> 32) -> nn.LSTM(32 -> 64) -> h2 [B, T, 64];
      head on concat(h2_t, y_t) [B, T, 65]: Linear(65 -> 64) ReLU Linear(64 -> 2C)
      -> mean = out[..., :C], logvar = out[..., C:].
  loss    Gaussian NLL of X^A without the constant:
          mean over (B, T, C) of 0.5 * (logvar + (x - mean)^2 / exp(logvar)).
  optim   Adam(lr 1e-3) on the decoder parameters only.

The encoder has random (untrained) weights: stage 1 is not part of the timed step.
Import this module only when ``benchmarks.reference.torch_available()``.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import torch
from torch import nn

ENC_HIDDEN = (32, 64)
DEC_HIDDEN = (32, 64)
LATENT = 16
Z_PROJ = 32
HEAD_HIDDEN = 64


class Encoder(nn.Module):
    """[B, T, C] -> (mu, logvar) each [B, 16], from two stacked single-layer LSTMs."""

    def __init__(self, channels: int):
        super().__init__()
        self.lstm1 = nn.LSTM(channels, ENC_HIDDEN[0], batch_first=True)
        self.lstm2 = nn.LSTM(ENC_HIDDEN[0], ENC_HIDDEN[1], batch_first=True)
        self.fc_mu = nn.Linear(ENC_HIDDEN[1], LATENT)
        self.fc_logvar = nn.Linear(ENC_HIDDEN[1], LATENT)

    def forward(self, x_btc: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        h1_bth, _ = self.lstm1(x_btc)
        _, (h_1bh, _) = self.lstm2(h1_bth)
        h_bh = h_1bh[0]
        return self.fc_mu(h_bh), self.fc_logvar(h_bh)


class Decoder(nn.Module):
    """(z [B, 16], x [B, T, C], y [B, T]) -> (mean, logvar) each [B, T, C], teacher forced."""

    def __init__(self, channels: int):
        super().__init__()
        self.channels = channels
        self.fc_z = nn.Linear(LATENT, Z_PROJ)
        self.lstm1 = nn.LSTM(Z_PROJ + channels, DEC_HIDDEN[0], batch_first=True)
        self.lstm2 = nn.LSTM(DEC_HIDDEN[0], DEC_HIDDEN[1], batch_first=True)
        self.head = nn.Sequential(
            nn.Linear(DEC_HIDDEN[1] + 1, HEAD_HIDDEN),
            nn.ReLU(),
            nn.Linear(HEAD_HIDDEN, 2 * channels),
        )

    def forward(self, z_bd, x_btc, y_bt) -> tuple[torch.Tensor, torch.Tensor]:
        batch, seq_len, _ = x_btc.shape
        zc_btd = torch.tanh(self.fc_z(z_bd)).unsqueeze(1).expand(batch, seq_len, Z_PROJ)
        x_prev = torch.cat([torch.zeros_like(x_btc[:, :1]), x_btc[:, :-1]], dim=1)
        h1, _ = self.lstm1(torch.cat([zc_btd, x_prev], dim=-1))
        h2, _ = self.lstm2(h1)
        out = self.head(torch.cat([h2, y_bt.unsqueeze(-1)], dim=-1))
        return out[..., : self.channels], out[..., self.channels :]


def gaussian_nll(x, mean, logvar) -> torch.Tensor:
    """mean of 0.5 * (logvar + (x - mean)^2 / exp(logvar)) over every element."""
    return torch.mean(0.5 * (logvar + (x - mean) ** 2 / torch.exp(logvar)))


def stage2_loss(encoder: Encoder, decoder: Decoder, x_btc, y_bt) -> torch.Tensor:
    """Encode the occluded series (no gradient), decode X^A conditioned on Y^A, Gaussian NLL."""
    with torch.no_grad():
        mu, logvar = encoder(x_btc * (1 - y_bt).unsqueeze(-1))
        z = mu + torch.exp(0.5 * logvar) * torch.randn_like(mu)
    mean, dec_logvar = decoder(z, x_btc, y_bt)
    return gaussian_nll(x_btc, mean, dec_logvar)


def sine_batch(batch: int, seq_len: int, channels: int, anomaly_rate: float = 0.02):
    """Synthetic Sines with point anomalies: x [B, T, C] float32, y [B, T] float32."""
    t = torch.arange(seq_len, dtype=torch.float32).view(1, seq_len, 1)
    eta = torch.rand(batch, 1, channels)
    theta = (torch.rand(batch, 1, channels) * 2 - 1) * math.pi
    x = torch.sin(2 * math.pi * eta * t / seq_len + theta)
    y = (torch.rand(batch, seq_len) < anomaly_rate).float()
    sign = torch.where(torch.rand(batch, seq_len, 1) < 0.5, -1.0, 1.0)
    x = x + y.unsqueeze(-1) * sign * (1.0 + torch.rand(batch, seq_len, 1))
    return x.float(), y


def make_cgats_stage2_step(
    batch: int, seq_len: int = 240, channels: int = 1, seed: int = 0
) -> Callable[[], float]:
    """Returns ``step()``: one Adam step of the decoder on a fixed batch; returns the loss."""
    torch.manual_seed(seed)
    encoder = Encoder(channels).eval()
    encoder.requires_grad_(False)
    decoder = Decoder(channels)
    optimizer = torch.optim.Adam(decoder.parameters(), lr=1e-3)
    x, y = sine_batch(batch, seq_len, channels)

    def step() -> float:
        optimizer.zero_grad()
        loss = stage2_loss(encoder, decoder, x, y)
        loss.backward()
        optimizer.step()
        return loss.item()

    step.encoder = encoder  # type: ignore[attr-defined]
    step.decoder = decoder  # type: ignore[attr-defined]
    return step
