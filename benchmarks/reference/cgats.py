"""PyTorch reference: one C-GATS stage-2 training step (frozen encoder, trained decoder).

Source: the C-GATS paper (shared/seeds/004_cd55445c3540e63b.txt), with the
architecture fixed for the benchmark so that the JAX model matches it exactly.

Shapes: ``x_btc`` = [B, T, C] series X^A, ``y_bt`` = [B, T] labels Y^A in {0, 1}.
  encoder (frozen, run under no_grad) on the occluded series x * (1 - y):
      nn.LSTM(C -> 32) -> nn.LSTM(32 -> 64); last hidden state h [B, 64]
      -> mu = Linear(64 -> 16)(h), logvar = Linear(64 -> 16)(h);
      z = mu + exp(0.5 logvar) * eps.
  decoder (trained; jtsgen's default "anomaly_latent" decoder, not autoregressive):
      zc = tanh(Linear(16 -> 32)(z)) [B, 32]; f_t = 16 Fourier features of t
      (sin/cos of (k + 0.5) cycles per window, k < 8);
      nn.LSTM(32 + 16 -> 32) over [zc, f_t] -> nn.LSTM(32 -> 64) -> h2 [B, T, 64];
      anomaly encoder: nn.LSTM(3 -> 32) over [x_t, x_t - x_{t-1}, y_t], its states
      averaged over the labelled steps -> mu_a, logvar_a = Linear(32 -> 4) each;
      a = mu_a + exp(0.5 logvar_a) * eps;
      d = Linear(64 -> 2C)(ReLU(Linear(64 + 4 -> 64)([h2_t, a])));
      mean = Linear(64 -> C)(h2) + y_t d[:C], logvar = Linear(64 -> C)(h2) + y_t d[C:].
  loss    Gaussian NLL of X^A without the constant, mean over (B, T, C) of
          0.5 * (logvar + (x - mean)^2 / exp(logvar)), plus KL(q(a) || N(0, I)) / T
          averaged over the batch.
  optim   Adam(lr 1e-3) on the decoder and anomaly-encoder parameters.

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


N_FREQ = 8
ANOMALY_DIM = 4


def time_features(seq_len: int) -> torch.Tensor:
    """[T, 2 * N_FREQ]: sin/cos of (k + 0.5) cycles per window."""
    t = torch.arange(seq_len, dtype=torch.float32).view(-1, 1) / seq_len
    w = 2 * math.pi * (torch.arange(N_FREQ, dtype=torch.float32) + 0.5)
    return torch.cat([torch.sin(w * t), torch.cos(w * t)], dim=-1)


class AnomalyEncoder(nn.Module):
    """(x [B, T, C], y [B, T]) -> (mu_a, logvar_a) each [B, 4]."""

    def __init__(self, channels: int):
        super().__init__()
        self.lstm = nn.LSTM(2 * channels + 1, DEC_HIDDEN[0], batch_first=True)
        self.fc_mu = nn.Linear(DEC_HIDDEN[0], ANOMALY_DIM)
        self.fc_logvar = nn.Linear(DEC_HIDDEN[0], ANOMALY_DIM)

    def forward(self, x_btc, y_bt):
        dx = torch.cat([torch.zeros_like(x_btc[:, :1]), x_btc.diff(dim=1)], dim=1)
        h, _ = self.lstm(torch.cat([x_btc, dx, y_bt.unsqueeze(-1)], dim=-1))
        w = y_bt.unsqueeze(-1) / y_bt.sum(1).clamp(min=1.0).view(-1, 1, 1)
        pooled = (h * w).sum(1)
        return self.fc_mu(pooled), self.fc_logvar(pooled)


class Decoder(nn.Module):
    """(z [B, 16], y [B, T], a [B, 4]) -> (mean, logvar) each [B, T, C]."""

    def __init__(self, channels: int, seq_len: int):
        super().__init__()
        self.channels = channels
        self.register_buffer("features", time_features(seq_len))
        self.fc_z = nn.Linear(LATENT, Z_PROJ)
        self.lstm1 = nn.LSTM(Z_PROJ + 2 * N_FREQ, DEC_HIDDEN[0], batch_first=True)
        self.lstm2 = nn.LSTM(DEC_HIDDEN[0], DEC_HIDDEN[1], batch_first=True)
        self.out = nn.Linear(DEC_HIDDEN[1], channels)
        self.logvar = nn.Linear(DEC_HIDDEN[1], channels)
        self.head = nn.Sequential(
            nn.Linear(DEC_HIDDEN[1] + ANOMALY_DIM, HEAD_HIDDEN),
            nn.ReLU(),
            nn.Linear(HEAD_HIDDEN, 2 * channels),
        )

    def forward(self, z_bd, y_bt, a_bd) -> tuple[torch.Tensor, torch.Tensor]:
        batch, seq_len = y_bt.shape
        zc_btd = torch.tanh(self.fc_z(z_bd)).unsqueeze(1).expand(batch, seq_len, Z_PROJ)
        f_btf = self.features.unsqueeze(0).expand(batch, seq_len, 2 * N_FREQ)
        h1, _ = self.lstm1(torch.cat([zc_btd, f_btf], dim=-1))
        h2, _ = self.lstm2(h1)
        a_btd = a_bd.unsqueeze(1).expand(batch, seq_len, ANOMALY_DIM)
        d = self.head(torch.cat([h2, a_btd], dim=-1))
        y = y_bt.unsqueeze(-1)
        c = self.channels
        return self.out(h2) + y * d[..., :c], self.logvar(h2) + y * d[..., c:]


def gaussian_nll(x, mean, logvar) -> torch.Tensor:
    """mean of 0.5 * (logvar + (x - mean)^2 / exp(logvar)) over every element."""
    return torch.mean(0.5 * (logvar + (x - mean) ** 2 / torch.exp(logvar)))


def stage2_loss(encoder: Encoder, anomaly: AnomalyEncoder, decoder: Decoder, x_btc,
                y_bt) -> torch.Tensor:
    """Encode the occluded series (no gradient) and the anomaly, decode X^A, NLL + KL_a."""
    with torch.no_grad():
        mu, logvar = encoder(x_btc * (1 - y_bt).unsqueeze(-1))
        z = mu + torch.exp(0.5 * logvar) * torch.randn_like(mu)
    mu_a, logvar_a = anomaly(x_btc, y_bt)
    a = mu_a + torch.exp(0.5 * logvar_a) * torch.randn_like(mu_a)
    mean, dec_logvar = decoder(z, y_bt, a)
    kl = 0.5 * torch.sum(mu_a**2 + torch.exp(logvar_a) - 1.0 - logvar_a, dim=-1).mean()
    return gaussian_nll(x_btc, mean, dec_logvar) + kl / x_btc.shape[1]


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
    decoder, anomaly = Decoder(channels, seq_len), AnomalyEncoder(channels)
    optimizer = torch.optim.Adam([*decoder.parameters(), *anomaly.parameters()], lr=1e-3)
    x, y = sine_batch(batch, seq_len, channels)

    def step() -> float:
        optimizer.zero_grad()
        loss = stage2_loss(encoder, anomaly, decoder, x, y)
        loss.backward()
        optimizer.step()
        return loss.item()

    step.encoder = encoder  # type: ignore[attr-defined]
    step.decoder = decoder  # type: ignore[attr-defined]
    step.anomaly = anomaly  # type: ignore[attr-defined]
    return step
