"""Values given to scene parameters: conversion to numpy and validation against the key.

`SceneParameters.__setitem__` and `update(values)` stage only what `validated_value` returns,
so a rejected value changes nothing."""

import numpy as np


def to_array(key: str, value) -> np.ndarray:
    """Any accepted input -> a numpy array (any real dtype); `TypeError` for the rest."""
    if isinstance(value, (str, bytes, bytearray)) or value is None:
        raise TypeError(f"scene parameter {key!r}: expected numbers, got {type(value).__name__}")
    if type(value).__module__.split(".")[0] == "torch":
        import torch

        if isinstance(value, torch.Tensor):
            t = value.detach().cpu()
            if t.is_complex() or t.dtype == torch.bool:
                raise TypeError(f"scene parameter {key!r}: expected real numbers, got {t.dtype}")
            if t.is_floating_point() and t.dtype not in (torch.float32, torch.float64):
                t = t.to(torch.float32)  # float16 / bfloat16
            return t.numpy()
    if hasattr(value, "matrix") and type(value).__name__ == "ScalarTransform4f":
        value = value.matrix
    elif not isinstance(value, np.ndarray) and hasattr(value, "to_numpy"):  # taichi fields
        value = value.to_numpy()
    if isinstance(value, (bool, np.bool_)):
        raise TypeError(f"scene parameter {key!r}: expected numbers, got a bool")
    try:
        arr = np.asarray(value)
    except (TypeError, ValueError) as exc:
        raise ValueError(
            f"scene parameter {key!r}: cannot convert the value to an array: {exc}"
        ) from None
    if arr.dtype.kind not in "iuf":
        raise TypeError(
            f"scene parameter {key!r}: expected real numbers, got an array of dtype {arr.dtype}"
        )
    return arr


def validated_value(p, value) -> np.ndarray:
    """A validated, owned copy of ``value`` in the shape and dtype of parameter ``p`` (a
    `params._Param`: its key, current value, dtype, flat/resizable flags and extra check);
    `TypeError` or `ValueError` naming the key otherwise."""
    key = p.key
    arr = to_array(key, value)
    current = np.asarray(p.get())
    expected = current.shape
    if p.resizable:
        if arr.ndim == 2 and expected[2] == 1:
            arr = arr[..., None]
        if arr.ndim != 3 or arr.shape[2] != expected[2] or arr.shape[0] < 1 or arr.shape[1] < 1:
            raise ValueError(
                f"scene parameter {key!r}: expected shape (H, W, {expected[2]}), got {arr.shape}"
            )
    elif arr.shape != expected:
        if (p.flat or current.size == 1) and arr.size == current.size:
            arr = arr.reshape(expected)
        else:
            raise ValueError(f"scene parameter {key!r}: expected shape {expected}, got {arr.shape}")
    if p.dtype == np.int32:
        if arr.dtype.kind == "f" and (not np.all(np.isfinite(arr)) or np.any(arr != np.round(arr))):
            raise ValueError(f"scene parameter {key!r}: expected integer values")
        out = arr.astype(np.int64)
        if np.any(out < np.iinfo(np.int32).min) or np.any(out > np.iinfo(np.int32).max):
            raise ValueError(f"scene parameter {key!r}: values out of the int32 range")
        out = out.astype(np.int32)
    else:
        with np.errstate(over="ignore", invalid="ignore"):  # overflow -> inf, reported below
            out = np.array(arr, dtype=np.float32, copy=True)
        if not np.all(np.isfinite(out)):
            raise ValueError(
                f"scene parameter {key!r}: the value has NaN or infinite entries "
                "(or entries beyond the float32 range)"
            )
    if p.check is not None:
        message = p.check(out)
        if message:
            raise ValueError(f"scene parameter {key!r}: {message}")
    return np.ascontiguousarray(out)
