"""Host side of environment-map importance sampling: a piecewise-constant 2D distribution
over the lat-long texels, weighted by luminance and the solid angle of each row."""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np

from .. import layout as L


def envmap_cdfs(data: np.ndarray) -> np.ndarray:
    """Conditional CDFs of every row (H*W values) followed by the marginal CDF over rows (H).

    Args:
        data: (H, W, 3) float32 radiance.
    """
    h = data.shape[0]
    lum = data[..., :3] @ np.array([0.212671, 0.715160, 0.072169])
    theta = (np.arange(h) + 0.5) / h * np.pi
    weights = np.maximum(lum, 0.0) * np.sin(theta)[:, None] + 1e-8
    row_sums = weights.sum(1)
    cond = np.cumsum(weights, axis=1) / row_sums[:, None]
    marg = np.cumsum(row_sums) / row_sums.sum()
    cond[:, -1] = 1.0
    marg[-1] = 1.0
    return np.concatenate([cond.ravel(), marg])


def pack_envmap(data_pack, emitter, ei: np.ndarray, ef: np.ndarray) -> None:
    """Fill one emitter row of `SceneData` for an `envmap` emitter."""
    data = np.asarray(emitter.data, np.float32)
    h, w = data.shape[:2]
    tex = getattr(emitter, "texture", None)
    if tex is None:
        tex = SimpleNamespace(
            type_name="bitmap", data=data, wrap_mode="repeat", filter_type="bilinear", to_uv=np.eye(3)
        )
        emitter.texture = tex
    ei[L.EI_TEX] = data_pack.texture_index(tex)
    ei[L.EI_CDF_OFFSET] = data_pack._append_dist(envmap_cdfs(data))
    ei[L.EI_CDF_COUNT] = w
    ei[L.EI_CDF_ROWS] = h
    ef[L.EF_SCALE] = float(getattr(emitter, "scale", 1.0))
    m = np.asarray(getattr(emitter, "to_world", np.eye(4)), np.float64)[:3, :3]
    ef[L.EF_TO_WORLD : L.EF_TO_WORLD + 9] = m.ravel()
    ef[L.EF_TO_LOCAL : L.EF_TO_LOCAL + 9] = np.linalg.inv(m).ravel()
