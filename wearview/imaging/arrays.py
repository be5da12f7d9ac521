"""Argument checks shared by the array functions of the imaging package."""

from __future__ import annotations

import numpy as np

from wearview.imaging import errors
from wearview.imaging.errors import ImageError


def binary_mask(mask: np.ndarray, *, name: str = "mask") -> np.ndarray:
    """Return `mask` as a 2-D bool array (True on the garment), checking its shape.

    uint8 masks count values above 127 as garment, float masks values above 0.5.
    """
    array = np.asarray(mask)
    if array.ndim == 3 and array.shape[2] == 1:
        array = array[:, :, 0]
    if array.ndim != 2:
        raise ImageError(
            errors.INVALID_ARGUMENT,
            f"{name} must be a 2-D array (H x W), got shape {array.shape}",
        )
    if array.dtype == bool:
        return array
    if np.issubdtype(array.dtype, np.floating):
        return array > 0.5
    return array > 127


def check_rgb(image: np.ndarray, name: str) -> np.ndarray:
    """Return `image` if it is an H x W x 3 uint8 array, else raise `ImageError`."""
    array = np.asarray(image)
    if array.ndim != 3 or array.shape[2] != 3 or array.dtype != np.uint8:
        raise ImageError(
            errors.INVALID_ARGUMENT,
            f"{name} must be an H x W x 3 uint8 RGB array, got shape {array.shape} and "
            f"dtype {array.dtype}; convert floats with np.clip(x, 0, 255).astype(np.uint8)",
        )
    return array
