"""Image losses into a 0-D field, differentiable under ``ti.ad.Tape`` (Taichi's own autodiff)."""


import numpy as np
import taichi as ti

from ..backend import ensure_init

_refs: dict[tuple, ti.Field] = {}
_default_loss: list = []


def loss_field():
    """A new 0-D ``ti.f32`` field with ``needs_grad=True``, the ``loss`` of a ``ti.ad.Tape``."""
    ensure_init()
    return ti.field(ti.f32, shape=(), needs_grad=True)


def _as_array(image):
    """`image` as an array a kernel can read in place: a C-contiguous float32 numpy array, or a
    torch tensor that already is one on the CPU (Taichi reads both without a copy)."""
    if hasattr(image, "to_numpy"):
        return image.to_numpy()
    if type(image).__module__.startswith("torch"):
        import torch

        if image.device.type == "cpu" and image.dtype == torch.float32 and image.is_contiguous():
            return image.detach()
        return image.detach().to("cpu", torch.float32).contiguous()
    return np.ascontiguousarray(image, dtype=np.float32)


def _reference(image, image_ref):
    """`image_ref` checked against `image`: a field of the same shape, or an (H, W, 3) float32
    array (numpy or CPU torch) that the loss kernels read in place."""
    if image_ref is image:
        raise ValueError(
            "the reference is the image field itself (tr.render returns the sensor's field, "
            "overwritten by each render): keep a copy with .to_numpy()"
        )
    if isinstance(image_ref, ti.Field):
        if image_ref.shape != image.shape:
            raise ValueError(f"reference shape {image_ref.shape} differs from the image's {image.shape}")
        return image_ref
    ref = _as_array(image_ref)
    expected = tuple(image.shape) + (3,)
    if tuple(ref.shape) != expected:
        raise ValueError(f"reference image has shape {tuple(ref.shape)}, expected {expected}")
    finite = np.isfinite(ref).all() if isinstance(ref, np.ndarray) else bool(ref.isfinite().all())
    if not finite:
        raise ValueError("reference image contains NaN or inf")
    if ti.lang.impl.current_cfg().arch != ti.cpu:
        field = _refs.get(image.shape)  # on a GPU the reference is uploaded into a field
        if field is None:
            field = ti.Vector.field(3, ti.f32, shape=image.shape)
            _refs[image.shape] = field
        field.from_numpy(np.asarray(ref.cpu() if hasattr(ref, "cpu") else ref))
        return field
    return ref


@ti.kernel
def _mse_kernel(image: ti.template(), ref: ti.template(), out: ti.template(), scale: ti.f32):
    for I in ti.grouped(image):
        d = image[I] - ref[I]
        out[None] += d.dot(d) * scale


@ti.kernel
def _mse_array_kernel(image: ti.template(), ref: ti.types.ndarray(dtype=ti.f32, ndim=3), out: ti.template(),
                      scale: ti.f32):
    for y, x in image:
        d = image[y, x] - ti.math.vec3(ref[y, x, 0], ref[y, x, 1], ref[y, x, 2])
        out[None] += d.dot(d) * scale


@ti.kernel
def _l1_kernel(image: ti.template(), ref: ti.template(), out: ti.template(), scale: ti.f32):
    for I in ti.grouped(image):
        d = image[I] - ref[I]
        out[None] += (ti.abs(d[0]) + ti.abs(d[1]) + ti.abs(d[2])) * scale


@ti.kernel
def _l1_array_kernel(image: ti.template(), ref: ti.types.ndarray(dtype=ti.f32, ndim=3), out: ti.template(),
                     scale: ti.f32):
    for y, x in image:
        d = image[y, x] - ti.math.vec3(ref[y, x, 0], ref[y, x, 1], ref[y, x, 2])
        out[None] += (ti.abs(d[0]) + ti.abs(d[1]) + ti.abs(d[2])) * scale


def _loss(kernels, image, image_ref, out):
    if out is None:
        if not _default_loss:
            _default_loss.append(loss_field())
        out = _default_loss[0]
    ref = _reference(image, image_ref)
    n = int(np.prod(image.shape)) * 3
    field_kernel, array_kernel = kernels
    (field_kernel if isinstance(ref, ti.Field) else array_kernel)(image, ref, out, 1.0 / n)
    return out


def mse(image, image_ref, out=None):
    """Add mean((image - image_ref)^2) over pixels and channels to `out` (a 0-D field).

    Args:
        image: ``ti.Vector.field(3, ti.f32)`` of shape (H, W) (e.g. from ``tr.render``).
        image_ref: field, numpy array or torch tensor of shape (H, W, 3).
        out: the Tape's loss field (``tr.ad.loss_field()``); a shared one when None.
    Returns the loss field. Inside ``ti.ad.Tape`` the gradient reaches ``image.grad``."""
    return _loss((_mse_kernel, _mse_array_kernel), image, image_ref, out)


def l1(image, image_ref, out=None):
    """Add mean(|image - image_ref|) over pixels and channels to `out` (see :func:`mse`)."""
    return _loss((_l1_kernel, _l1_array_kernel), image, image_ref, out)
