"""Conversions between numpy arrays and QImage, size helpers (safe to call in worker threads), and the
file dialogs' filter for the photos the program reads."""

from __future__ import annotations

from typing import Sequence

import cv2
import numpy as np
from PySide6.QtGui import QImage

from colorizer.imageio import IMAGE_EXTENSIONS
from colorizer.pipeline import working_shape

IMAGE_FILTER = "Images (" + " ".join(f"*{ext}" for ext in sorted(IMAGE_EXTENSIONS)) + ");;All files (*)"


def rgb8_to_qimage(rgb: np.ndarray) -> QImage:
    """(H, W, 3) uint8 -> a QImage that owns its pixels."""
    rgb = np.ascontiguousarray(rgb)
    h, w = rgb.shape[:2]
    return QImage(rgb.data, w, h, 3 * w, QImage.Format_RGB888).copy()


def gray8_to_qimage(gray: np.ndarray) -> QImage:
    """(H, W) uint8 -> Grayscale8 QImage that owns its pixels."""
    gray = np.ascontiguousarray(gray)
    h, w = gray.shape[:2]
    return QImage(gray.data, w, h, w, QImage.Format_Grayscale8).copy()


def lightness_to_qimage(lightness: np.ndarray) -> QImage:
    """(H, W) float lightness in [0, 1] -> gray QImage."""
    return gray8_to_qimage(np.clip(lightness * 255.0 + 0.5, 0, 255).astype(np.uint8))


def downscale(img: np.ndarray, max_side: int) -> np.ndarray:
    """Area-downscale an (H, W[, C]) array so its longest side is at most ``max_side``."""
    h, w = img.shape[:2]
    nh, nw = working_shape(h, w, max_side)
    if (nh, nw) == (h, w):
        return img
    return cv2.resize(img, (nw, nh), interpolation=cv2.INTER_AREA)


def qimage_to_rgb8(image: QImage) -> np.ndarray:
    """QImage -> (H, W, 3) uint8 copy (for tests and exports)."""
    image = image.convertToFormat(QImage.Format_RGB888)
    w, h = image.width(), image.height()
    ptr = image.constBits()
    arr = np.frombuffer(ptr, np.uint8, count=image.bytesPerLine() * h).reshape(h, image.bytesPerLine())
    return arr[:, : 3 * w].reshape(h, w, 3).copy()


def region_overlay(regions: Sequence[tuple[np.ndarray, tuple[int, int, int]]], size: tuple[int, int],
                   max_side: int = 800, tint: int = 50) -> QImage:
    """Regions (weights in [0, 1], any resolution) with their colours, for a photo of ``size`` (width,
    height): a light tint inside and an opaque outline, so the picture under them stays visible."""
    w, h = size
    hh, ww = working_shape(h, w, max_side)
    rgba = np.zeros((hh, ww, 4), np.uint8)
    for region, color in regions:
        inside = cv2.resize(region.astype(np.float32), (ww, hh), interpolation=cv2.INTER_LINEAR) > 0.5
        edge = inside & ~cv2.erode(inside.astype(np.uint8), np.ones((3, 3), np.uint8)).astype(bool)
        edge = cv2.dilate(edge.astype(np.uint8), np.ones((2, 2), np.uint8)).astype(bool)
        rgba[inside, :3] = color
        rgba[inside, 3] = np.maximum(rgba[inside, 3], tint)
        rgba[edge, :3] = color
        rgba[edge, 3] = 255
    return QImage(rgba.data, ww, hh, 4 * ww, QImage.Format_RGBA8888).copy()
