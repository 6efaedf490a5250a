"""PyTorch reference: the simple temporal DDPM of seed 000 (synthesis lab, part 2).

Source: shared/seeds/000_3ba8255c184159c7.txt (``SimpleTemporalDiffusion``,
``train_diffusion``), re-typed with the same architecture and math.

Architecture (univariate series ``x_bt`` = [batch, seq_len]):
  denoiser  MLP on concat(x_t, sin(t / T * 2 pi)) [B, seq_len + 1]:
            Linear(seq_len+1 -> hidden) ReLU Linear(hidden -> hidden) ReLU
            Linear(hidden -> seq_len), predicting the noise.
  schedule  betas = linspace(1e-4, 0.02, T), alphas = 1 - betas,
            alpha_bar = cumprod(alphas).
  training  t ~ U{0..T-1}, x_t = sqrt(alpha_bar_t) x + sqrt(1 - alpha_bar_t) eps,
            loss MSE(denoiser(x_t, t), eps), Adam(lr 1e-3).
  sampling  x ~ N(0, I); Python loop t = T-1 .. 0:
            x = (x - (1 - alpha_t) / sqrt(1 - alpha_bar_t) * eps_hat) / sqrt(alpha_t),
            then x += sqrt(beta_t) * N(0, I) for t > 0.

Import this module only when ``benchmarks.reference.torch_available()``.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import torch
from torch import nn


class SimpleTemporalDiffusion(nn.Module):
    """MLP noise predictor with a scalar sinusoidal time embedding and a linear schedule."""

    def __init__(self, seq_len: int = 100, hidden: int = 32, num_timesteps: int = 50):
        super().__init__()
        self.seq_len = seq_len
        self.num_timesteps = num_timesteps
        self.net = nn.Sequential(
            nn.Linear(seq_len + 1, hidden),
            nn.ReLU(),
            nn.Linear(hidden, hidden),
            nn.ReLU(),
            nn.Linear(hidden, seq_len),
        )
        betas = torch.linspace(1e-4, 0.02, num_timesteps, dtype=torch.float32)
        alphas = 1.0 - betas
        self.register_buffer("betas", betas)
        self.register_buffer("alphas", alphas)
        self.register_buffer("alphas_cumprod", torch.cumprod(alphas, dim=0))

    def forward(self, x_bt: torch.Tensor, t_b: torch.Tensor) -> torch.Tensor:
        """Predicted noise [B, seq_len] for noisy ``x_bt`` at integer steps ``t_b`` [B]."""
        t_emb = torch.sin(t_b.float() / self.num_timesteps * 2 * math.pi).unsqueeze(1)
        return self.net(torch.cat([x_bt, t_emb], dim=1))

    @torch.no_grad()
    def generate(self, n_samples: int) -> torch.Tensor:
        """Reverse chain from pure noise, one Python iteration per step: [n_samples, seq_len]."""
        x = torch.randn(n_samples, self.seq_len)
        for t in range(self.num_timesteps - 1, -1, -1):
            t_b = torch.full((n_samples,), t, dtype=torch.long)
            eps_hat = self(x, t_b)
            alpha = self.alphas[t]
            alpha_bar = self.alphas_cumprod[t]
            x = (x - (1 - alpha) / torch.sqrt(1 - alpha_bar) * eps_hat) / torch.sqrt(alpha)
            if t > 0:
                x = x + torch.sqrt(self.betas[t]) * torch.randn_like(x)
        return x


def ddpm_loss(model: SimpleTemporalDiffusion, x_bt: torch.Tensor) -> torch.Tensor:
    """Noise-prediction MSE at uniformly drawn diffusion steps."""
    t_b = torch.randint(0, model.num_timesteps, (x_bt.shape[0],))
    alpha_bar = model.alphas_cumprod[t_b].unsqueeze(1)
    noise = torch.randn_like(x_bt)
    x_t = torch.sqrt(alpha_bar) * x_bt + torch.sqrt(1 - alpha_bar) * noise
    return nn.functional.mse_loss(model(x_t, t_b), noise)


def make_ddpm_sampler(
    n_samples: int, seq_len: int = 100, hidden: int = 32, num_timesteps: int = 50, seed: int = 0
) -> Callable[[], torch.Tensor]:
    """Returns ``sample()``: one full reverse chain, [n_samples, seq_len] (untrained weights)."""
    torch.manual_seed(seed)
    model = SimpleTemporalDiffusion(seq_len, hidden, num_timesteps).eval()

    def sample() -> torch.Tensor:
        return model.generate(n_samples)

    sample.model = model  # type: ignore[attr-defined]
    return sample


def make_ddpm_train_step(
    batch: int, seq_len: int = 100, hidden: int = 32, num_timesteps: int = 50, seed: int = 0
) -> Callable[[], float]:
    """Returns ``step()``: one Adam step of the noise-prediction loss on a fixed random batch."""
    torch.manual_seed(seed)
    model = SimpleTemporalDiffusion(seq_len, hidden, num_timesteps)
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-3)
    x = torch.randn(batch, seq_len, dtype=torch.float32)

    def step() -> float:
        optimizer.zero_grad()
        loss = ddpm_loss(model, x)
        loss.backward()
        optimizer.step()
        return loss.item()

    step.model = model  # type: ignore[attr-defined]
    return step
