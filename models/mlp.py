"""A residual MLP score network for vector data ``x: [B, D]``."""
from __future__ import annotations

import flax.linen as nn
import jax
import jax.numpy as jnp

from models.embeddings import NoiseEmbedding


class MLPScore(nn.Module):
    """Input ``x: [B, D]``, ``labels: [B]``; output ``[B, D]`` (interpreted by models.score)."""

    hidden: int = 128
    num_layers: int = 3
    embedding_type: str = "positional"
    embed_dim: int = 64
    fourier_scale: float = 16.0
    dropout: float = 0.0
    dtype: jnp.dtype = jnp.float32

    @nn.compact
    def __call__(self, x: jax.Array, labels: jax.Array, train: bool = False) -> jax.Array:
        emb = NoiseEmbedding(self.embedding_type, self.embed_dim, self.fourier_scale)(labels)
        emb = nn.Dense(self.hidden, dtype=self.dtype)(nn.silu(nn.Dense(self.hidden, dtype=self.dtype)(emb)))
        h = nn.Dense(self.hidden, dtype=self.dtype)(x)
        for _ in range(self.num_layers):
            # Residual blocks with the noise embedding added: gradients stay well-scaled at depth.
            r = nn.silu(h + emb)
            r = nn.Dense(self.hidden, dtype=self.dtype)(r)
            r = nn.Dropout(self.dropout, deterministic=not train)(nn.silu(r))
            r = nn.Dense(self.hidden, dtype=self.dtype)(r)
            h = h + r
        out = nn.Dense(x.shape[-1], dtype=self.dtype, kernel_init=nn.initializers.zeros)(nn.silu(h))
        return out.astype(jnp.float32)
