"""Noise-level embeddings shared by every score network."""
from __future__ import annotations

import math

import flax.linen as nn
import jax
import jax.numpy as jnp


def timestep_embedding(labels: jax.Array, dim: int, max_positions: int = 10000, *,
                       flip_sin_to_cos: bool = False, freq_shift: int = 1) -> jax.Array:
    """Sinusoidal embedding of ``labels: [B]`` (Transformer style): ``[B, dim]``.

    Frequencies ``exp(-log(max_positions) · k / (dim//2 - freq_shift))``, k = 0 … dim//2 - 1.
    DDPM / score_sde: ``[sin, cos]`` with ``freq_shift=1``; guided-diffusion (ADM):
    ``[cos, sin]`` (``flip_sin_to_cos``) with ``freq_shift=0``. An odd ``dim`` is zero-padded.
    """
    half = dim // 2
    denom = max(half - freq_shift, 1)
    freqs = jnp.exp(-math.log(max_positions) * jnp.arange(half, dtype=jnp.float32) / denom)
    args = labels.astype(jnp.float32)[:, None] * freqs[None]
    parts = [jnp.cos(args), jnp.sin(args)] if flip_sin_to_cos else [jnp.sin(args), jnp.cos(args)]
    emb = jnp.concatenate(parts, axis=1)
    if dim % 2:
        emb = jnp.pad(emb, ((0, 0), (0, 1)))
    return emb


class GaussianFourierProjection(nn.Module):
    """Random Fourier features of ``log σ`` (NCSN++ "fourier" embedding); the frequencies are fixed."""

    embedding_size: int = 256
    scale: float = 16.0

    @nn.compact
    def __call__(self, x: jax.Array) -> jax.Array:
        W = self.param("W", jax.nn.initializers.normal(stddev=self.scale), (self.embedding_size,))
        W = jax.lax.stop_gradient(W)
        proj = x[:, None] * W[None, :] * 2 * jnp.pi
        return jnp.concatenate([jnp.sin(proj), jnp.cos(proj)], axis=-1)


class NoiseEmbedding(nn.Module):
    """``embedding_type`` "fourier" (labels are σ; log taken here) or "positional" (labels are t·(N-1))."""

    embedding_type: str = "positional"
    dim: int = 128
    fourier_scale: float = 16.0

    @nn.compact
    def __call__(self, labels: jax.Array) -> jax.Array:
        if self.embedding_type == "fourier":
            return GaussianFourierProjection(self.dim // 2, self.fourier_scale)(jnp.log(labels))
        if self.embedding_type == "positional":
            return timestep_embedding(labels, self.dim)
        raise ValueError(f"unknown embedding_type {self.embedding_type!r}; valid: ['fourier', 'positional']")
