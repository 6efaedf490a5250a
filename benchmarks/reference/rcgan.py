"""PyTorch reference: one RCGAN critic update with a WGAN-GP loss and pac.

Sources: the RCGAN baseline of the C-GATS paper (shared/seeds/004_cd55445c3540e63b.txt)
and the WGAN-GP critic with pac of CTGAN (shared/seeds/002_f63afee9db968856.txt);
the architecture is fixed for the benchmark so that the JAX model matches it.

Shapes: ``x_btc`` = [B, T, C] series, ``y_bt`` = [B, T] labels in {0, 1}, pac P | B.
  generator  input concat(noise_t [8], y_t) [B, T, 9] -> nn.LSTM(9 -> 64)
             -> Linear(64 -> C) per time step.
  packing    per sample features f = concat(x, y) [B, T, C+1]; samples b*P .. b*P+P-1
             form group b; per time step their features are concatenated in member
             order: [B/P, T, P*(C+1)] = [f_{bP}, f_{bP+1}, ...] along channels.
  critic     nn.LSTM(P*(C+1) -> 64) over the packed input; Linear(64 -> 1) on the last
             hidden state -> one score per group [B/P].
  loss       mean D(fake) - mean D(real) + 10 * mean_groups((||grad D(x_hat)||_2 - 1)^2),
             x_hat = eps * real + (1 - eps) * fake with eps ~ U[0, 1] per pac group on the
             x channels only (labels are the real labels, used for fake too); the gradient
             norm is per group, over its whole packed input [T, P*(C+1)].
  optim      Adam(lr 2e-4, betas (0.5, 0.9)) on the critic; fake from G under no_grad.

Import this module only when ``benchmarks.reference.torch_available()``.
"""

from __future__ import annotations

from collections.abc import Callable

import torch
from torch import nn

from jtsgen.errors import InputError

NOISE_DIM = 8
HIDDEN = 64
GP_WEIGHT = 10.0


class Generator(nn.Module):
    """(noise [B, T, 8], y [B, T]) -> x [B, T, C]."""

    def __init__(self, channels: int):
        super().__init__()
        self.lstm = nn.LSTM(NOISE_DIM + 1, HIDDEN, batch_first=True)
        self.out = nn.Linear(HIDDEN, channels)

    def forward(self, noise_btn: torch.Tensor, y_bt: torch.Tensor) -> torch.Tensor:
        h, _ = self.lstm(torch.cat([noise_btn, y_bt.unsqueeze(-1)], dim=-1))
        return self.out(h)


class Critic(nn.Module):
    """Packed input [B/P, T, P*(C+1)] -> scores [B/P]."""

    def __init__(self, channels: int, pac: int):
        super().__init__()
        self.lstm = nn.LSTM(pac * (channels + 1), HIDDEN, batch_first=True)
        self.out = nn.Linear(HIDDEN, 1)

    def forward(self, packed_bgf: torch.Tensor) -> torch.Tensor:
        _, (h_1gh, _) = self.lstm(packed_bgf)
        return self.out(h_1gh[0]).squeeze(-1)


def pack(x_btc: torch.Tensor, y_bt: torch.Tensor, pac: int) -> torch.Tensor:
    """[B, T, C], [B, T] -> [B/P, T, P*(C+1)], members of a group side by side per step."""
    feats = torch.cat([x_btc, y_bt.unsqueeze(-1)], dim=-1)
    batch, seq_len, width = feats.shape
    grouped = feats.reshape(batch // pac, pac, seq_len, width).permute(0, 2, 1, 3)
    return grouped.reshape(batch // pac, seq_len, pac * width)


def critic_loss(critic: Critic, real_btc, fake_btc, y_bt, pac: int) -> torch.Tensor:
    """WGAN-GP critic loss with pac (see the module docstring)."""
    batch = real_btc.shape[0]
    d_real = critic(pack(real_btc, y_bt, pac))
    d_fake = critic(pack(fake_btc, y_bt, pac))
    eps_g = torch.rand(batch // pac, 1, 1)
    eps_b = eps_g.repeat_interleave(pac, dim=0)
    x_hat = eps_b * real_btc + (1 - eps_b) * fake_btc
    packed_hat = pack(x_hat, y_bt, pac).detach().requires_grad_(True)
    # cuDNN's LSTM has no double backward: on a GPU the penalty's forward pass runs
    # without it, as any PyTorch WGAN-GP with an LSTM critic must (a no-op on the CPU).
    with torch.backends.cudnn.flags(enabled=False):
        d_hat = critic(packed_hat).sum()
    (grad,) = torch.autograd.grad(d_hat, packed_hat, create_graph=True)
    grad_norm = grad.reshape(grad.shape[0], -1).norm(2, dim=1)
    penalty = ((grad_norm - 1) ** 2).mean()
    return d_fake.mean() - d_real.mean() + GP_WEIGHT * penalty


def make_rcgan_critic_step(
    batch: int, seq_len: int = 240, channels: int = 1, pac: int = 4, seed: int = 0
) -> Callable[[], float]:
    """Returns ``step()``: one critic Adam update on a fixed real batch; returns the loss.

    Each call draws fresh generator noise and fresh interpolation weights.
    """
    if batch % pac:
        raise InputError("batch", f"must be a multiple of pac ({pac}), got {batch}")
    torch.manual_seed(seed)
    generator = Generator(channels).eval()
    critic = Critic(channels, pac)
    optimizer = torch.optim.Adam(critic.parameters(), lr=2e-4, betas=(0.5, 0.9))
    real = torch.randn(batch, seq_len, channels, dtype=torch.float32)
    y = (torch.rand(batch, seq_len) < 0.05).float()

    def step() -> float:
        with torch.no_grad():
            fake = generator(torch.randn(batch, seq_len, NOISE_DIM), y)
        optimizer.zero_grad()
        loss = critic_loss(critic, real, fake, y, pac)
        loss.backward()
        optimizer.step()
        return loss.item()

    step.critic = critic  # type: ignore[attr-defined]
    step.generator = generator  # type: ignore[attr-defined]
    return step
