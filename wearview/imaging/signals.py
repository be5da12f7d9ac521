"""Image signals for the product-only versus on-model classifier.

Every signal is a plain number computed from a downscaled copy of the image with what
OpenCV ships (Haar cascades, the HOG people detector) and simple colour statistics. The
classifier in `classify.py` combines them with learned weights.
"""

from __future__ import annotations

import functools
import logging
import math
import os

import cv2
import numpy as np

logger = logging.getLogger(__name__)

# The signals are computed at this longer side. Haar and HOG cost grows with the pixel
# count, and faces in product photos are rarely smaller than 1/12 of the shorter side.
ANALYSIS_SIDE = 320
HOG_SIDE = 224
FACE_SIDE = 320

SIGNAL_NAMES: tuple[str, ...] = (
    "face_count",
    "face_area",
    "profile_face",
    "hog_person",
    "skin_fraction",
    "skin_largest",
    "skin_blobs",
    "skin_upper_half",
    "skin_limb_blobs",
    "skin_limb_area",
    "border_uniformity",
    "border_lightness",
    "border_chroma",
    "foreground_fraction",
    "foreground_solidity",
    "foreground_sides",
    "foreground_bottom",
    "foreground_symmetry",
    "foreground_aspect",
    "foreground_fill",
    "bottom_width",
    "bottom_runs",
    "skin_in_foreground",
    "skin_top",
    "skin_bottom",
    "border_texture",
    "edge_density",
    "saturation_mean",
    "portrait_ratio",
    "skin_chroma_spread",
    "skin_lightness_spread",
    "skin_texture",
    "skin_elongated_area",
    "skin_at_frame",
    "border_spread",
    "top_edge_uniformity",
    "bottom_edge_uniformity",
    "colorfulness",
    "silhouette_hu1",
    "foreground_top",
)


@functools.cache
def _cascade(file_name: str) -> cv2.CascadeClassifier:
    path = os.path.join(cv2.data.haarcascades, file_name)
    cascade = cv2.CascadeClassifier(path)
    if cascade.empty():
        raise RuntimeError(
            f"OpenCV Haar cascade {path} failed to load; install opencv-python-headless<5, "
            "which ships the cascade files"
        )
    return cascade


@functools.cache
def _hog() -> cv2.HOGDescriptor:
    hog = cv2.HOGDescriptor()
    hog.setSVMDetector(cv2.HOGDescriptor_getDefaultPeopleDetector())
    return hog


def downscale(rgb: np.ndarray, side: int) -> np.ndarray:
    """Return `rgb` resized so its longer side is at most `side` pixels."""
    height, width = rgb.shape[:2]
    scale = side / max(height, width)
    if scale >= 1.0:
        return rgb
    size = (max(1, round(width * scale)), max(1, round(height * scale)))
    return cv2.resize(rgb, size, interpolation=cv2.INTER_AREA)


def compute_signals(rgb: np.ndarray) -> dict[str, float]:
    """Compute every signal in `SIGNAL_NAMES` for an H x W x 3 uint8 RGB image."""
    small = downscale(rgb, ANALYSIS_SIDE)
    gray = cv2.cvtColor(small, cv2.COLOR_RGB2GRAY)
    height, width = gray.shape
    area = float(height * width)

    signals: dict[str, float] = {}

    # 1. Person detectors. OpenCV's upper-body and full-body cascades are left out: on
    # product photos they fired about as often without a person as with one.
    face_gray = cv2.equalizeHist(cv2.cvtColor(downscale(small, FACE_SIDE), cv2.COLOR_RGB2GRAY))
    face_area_total = float(face_gray.shape[0] * face_gray.shape[1])
    min_face = max(14, min(face_gray.shape) // 10)
    faces = _cascade("haarcascade_frontalface_default.xml").detectMultiScale(
        face_gray, scaleFactor=1.2, minNeighbors=4, minSize=(min_face, min_face)
    )
    signals["face_count"] = float(len(faces))
    signals["face_area"] = (
        float(max(w * h for (_, _, w, h) in faces)) / face_area_total if len(faces) else 0.0
    )
    profiles = _cascade("haarcascade_profileface.xml").detectMultiScale(
        face_gray, scaleFactor=1.25, minNeighbors=4, minSize=(min_face, min_face)
    )
    signals["profile_face"] = float(len(profiles) > 0)
    signals["hog_person"] = _hog_person(small)

    # 2. Skin: YCrCb and HSV rules together, which cuts most beige and tan fabrics.
    skin = _skin_mask(small)
    signals.update(_skin_signals(skin))
    signals.update(_skin_pixel_signals(small, gray, skin))

    # 3. Background and border statistics.
    lab = cv2.cvtColor(small, cv2.COLOR_RGB2LAB).astype(np.float32)
    border = _border_pixels(lab)
    border_median = np.median(border, axis=0)
    border_distance = np.linalg.norm(border - border_median, axis=1)
    signals["border_uniformity"] = float(np.mean(border_distance < 12.0))
    signals["border_lightness"] = float(border_median[0] / 255.0)
    signals["border_chroma"] = float(np.hypot(border_median[1] - 128, border_median[2] - 128))
    signals["border_spread"] = float(np.linalg.norm(border.std(axis=0)))
    signals.update(_edge_uniformity(lab))

    # 4. Silhouette of what differs from the border colour.
    foreground = np.linalg.norm(lab - border_median, axis=2) > 18.0
    signals.update(_silhouette_signals(foreground, skin))
    signals["border_texture"] = _border_texture(gray)

    # 5. Texture and colour.
    edges = cv2.Canny(gray, 60, 160)
    signals["edge_density"] = float(np.count_nonzero(edges)) / area
    hsv = cv2.cvtColor(small, cv2.COLOR_RGB2HSV)
    signals["saturation_mean"] = float(hsv[:, :, 1].mean() / 255.0)
    signals["colorfulness"] = _colorfulness(small)
    signals["portrait_ratio"] = float(np.log(height / width))
    return signals


def _hog_person(small: np.ndarray) -> float:
    image = downscale(small, HOG_SIDE)
    height, width = image.shape[:2]
    if height < 128 or width < 64:
        # The people detector's window is 64 x 128; upscale small images to fit it.
        scale = max(128 / height, 64 / width)
        image = cv2.resize(image, (round(width * scale) + 1, round(height * scale) + 1))
    rects, weights = _hog().detectMultiScale(
        image, winStride=(8, 8), padding=(8, 8), scale=1.15, hitThreshold=0.0
    )
    if len(weights) == 0:
        return 0.0
    return float(np.max(weights))


def _skin_mask(small: np.ndarray) -> np.ndarray:
    ycrcb = cv2.cvtColor(small, cv2.COLOR_RGB2YCrCb)
    y, cr, cb = ycrcb[:, :, 0], ycrcb[:, :, 1], ycrcb[:, :, 2]
    rule_ycrcb = (cr >= 136) & (cr <= 175) & (cb >= 80) & (cb <= 128) & (y >= 50)
    hsv = cv2.cvtColor(small, cv2.COLOR_RGB2HSV)
    hue, saturation, value = hsv[:, :, 0], hsv[:, :, 1], hsv[:, :, 2]
    # OpenCV hue runs 0..179; skin sits in the reds and oranges with moderate saturation.
    rule_hsv = ((hue <= 22) | (hue >= 170)) & (saturation >= 40) & (saturation <= 190)
    rule_hsv &= value >= 60
    mask = (rule_ycrcb & rule_hsv).astype(np.uint8)
    return cv2.morphologyEx(mask, cv2.MORPH_OPEN, np.ones((3, 3), np.uint8))


def _skin_signals(skin: np.ndarray) -> dict[str, float]:
    height, width = skin.shape
    area = float(height * width)
    count, labels, stats, _ = cv2.connectedComponentsWithStats(skin, connectivity=8)
    sizes = stats[1:, cv2.CC_STAT_AREA] if count > 1 else np.zeros(0)
    limbs = (sizes > 0.001 * area) & (sizes < 0.08 * area)
    elongated_area, at_frame = _skin_blob_shapes(labels, stats, area)
    return {
        "skin_elongated_area": elongated_area,
        "skin_at_frame": at_frame,
        "skin_fraction": float(skin.sum()) / area,
        "skin_largest": float(sizes.max()) / area if sizes.size else 0.0,
        "skin_blobs": float(np.count_nonzero(sizes > 0.004 * area)),
        "skin_upper_half": float(skin[: height // 2].sum()) / (area / 2),
        # Hands, arms, legs and faces make several mid-sized skin blobs, while a beige
        # garment makes one large blob.
        "skin_limb_blobs": float(np.count_nonzero(limbs)),
        "skin_limb_area": float(sizes[limbs].sum()) / area if sizes.size else 0.0,
    }


def _skin_blob_shapes(labels: np.ndarray, stats: np.ndarray, area: float) -> tuple[float, float]:
    """Return the area share of elongated skin blobs and how many blobs touch the frame.

    Arms and legs are long skin regions, often cut by the frame in cropped shots. A beige
    garment or a printed face gives rounder blobs inside the picture.
    """
    height, width = labels.shape
    elongated = 0.0
    at_frame = 0
    for index in range(1, stats.shape[0]):
        left, top, box_width, box_height, size = (int(value) for value in stats[index])
        if size < 0.002 * area:
            continue
        if left == 0 or top == 0 or left + box_width == width or top + box_height == height:
            at_frame += 1
        window = labels[top : top + box_height, left : left + box_width] == index
        moments = cv2.moments(window.astype(np.uint8), binaryImage=True)
        covariance = np.array(
            [[moments["mu20"], moments["mu11"]], [moments["mu11"], moments["mu02"]]]
        ) / max(1.0, moments["m00"])
        smallest, largest = np.linalg.eigvalsh(covariance)
        # The ratio of the standard deviations along the principal axes approximates
        # length over width. An arm or a leg in view exceeds 2.5, a face or a palm does not.
        if np.sqrt(max(largest, 1e-6) / max(smallest, 1e-6)) > 2.5:
            elongated += size / area
    return float(elongated), float(at_frame)


def _skin_pixel_signals(small: np.ndarray, gray: np.ndarray, skin: np.ndarray) -> dict[str, float]:
    """Return the spread of colour and the texture of the pixels the skin rules accept.

    Skin in a photo carries shading and varies in chroma, while a beige or tan fabric that
    passes the rules is flatter in chroma and lightness.
    """
    selected = skin > 0
    if np.count_nonzero(selected) <= 20:
        return {"skin_chroma_spread": 0.0, "skin_lightness_spread": 0.0, "skin_texture": 0.0}
    ycrcb = cv2.cvtColor(small, cv2.COLOR_RGB2YCrCb).astype(np.float32)
    laplacian = np.abs(cv2.Laplacian(gray, cv2.CV_32F, ksize=3))
    return {
        "skin_chroma_spread": float(ycrcb[:, :, 1][selected].std()),
        "skin_lightness_spread": float(ycrcb[:, :, 0][selected].std()),
        "skin_texture": float(laplacian[selected].mean() / 255.0),
    }


def _edge_uniformity(lab: np.ndarray) -> dict[str, float]:
    """Return the share of the top and bottom border bands close to their median colour.

    A studio backdrop is plain along the top, while the floor or the frame cutting through
    legs and feet makes the bottom band of on-model photos busy.
    """
    height, width = lab.shape[:2]
    margin = max(2, min(height, width) // 25)
    result = {}
    for name, band in (
        ("top_edge_uniformity", lab[:margin]),
        ("bottom_edge_uniformity", lab[-margin:]),
    ):
        pixels = band.reshape(-1, 3)
        distance = np.linalg.norm(pixels - np.median(pixels, axis=0), axis=1)
        result[name] = float(np.mean(distance < 10.0))
    return result


def _colorfulness(small: np.ndarray) -> float:
    """Return the Hasler and Suesstrunk colourfulness metric, divided by 100."""
    red, green, blue = (small[:, :, channel].astype(np.float32) for channel in range(3))
    red_green = red - green
    yellow_blue = 0.5 * (red + green) - blue
    spread = np.hypot(red_green.std(), yellow_blue.std())
    offset = np.hypot(red_green.mean(), yellow_blue.mean())
    return float(spread + 0.3 * offset) / 100.0


def _border_pixels(lab: np.ndarray) -> np.ndarray:
    height, width = lab.shape[:2]
    margin = max(2, min(height, width) // 25)
    parts = [
        lab[:margin].reshape(-1, 3),
        lab[-margin:].reshape(-1, 3),
        lab[:, :margin].reshape(-1, 3),
        lab[:, -margin:].reshape(-1, 3),
    ]
    return np.concatenate(parts, axis=0)


def _border_texture(gray: np.ndarray) -> float:
    """Return the mean absolute Laplacian on the border: studio walls are smooth."""
    height, width = gray.shape
    margin = max(2, min(height, width) // 10)
    laplacian = np.abs(cv2.Laplacian(gray, cv2.CV_32F, ksize=3))
    ring = np.ones_like(gray, dtype=bool)
    ring[margin:-margin, margin:-margin] = False
    return float(laplacian[ring].mean() / 255.0)


def _silhouette_signals(foreground: np.ndarray, skin: np.ndarray) -> dict[str, float]:
    height, width = foreground.shape
    area = float(height * width)
    mask = cv2.morphologyEx(foreground.astype(np.uint8), cv2.MORPH_CLOSE, np.ones((5, 5), np.uint8))
    count, labels, stats, _ = cv2.connectedComponentsWithStats(mask, connectivity=8)
    if count <= 1:
        return {
            "foreground_fraction": 0.0,
            "foreground_solidity": 0.0,
            "foreground_sides": 0.0,
            "foreground_bottom": 0.0,
            "foreground_symmetry": 0.0,
            "foreground_aspect": 0.0,
            "foreground_fill": 0.0,
            "bottom_width": 0.0,
            "bottom_runs": 0.0,
            "skin_in_foreground": 0.0,
            "skin_top": 0.0,
            "skin_bottom": 0.0,
            "silhouette_hu1": 0.0,
            "foreground_top": 0.0,
        }

    largest = 1 + int(np.argmax(stats[1:, cv2.CC_STAT_AREA]))
    blob = (labels == largest).astype(np.uint8)
    blob_area = float(stats[largest, cv2.CC_STAT_AREA])
    contours, _ = cv2.findContours(blob, cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_SIMPLE)
    hull_area = float(cv2.contourArea(cv2.convexHull(np.concatenate(contours))))
    sides = (
        int(blob[0].any()) + int(blob[-1].any()) + int(blob[:, 0].any()) + int(blob[:, -1].any())
    )
    mirrored = blob[:, ::-1]
    overlap = float(np.logical_and(blob, mirrored).sum())
    union = float(np.logical_or(blob, mirrored).sum())
    left = int(stats[largest, cv2.CC_STAT_LEFT])
    top = int(stats[largest, cv2.CC_STAT_TOP])
    box_width = int(stats[largest, cv2.CC_STAT_WIDTH])
    box_height = int(stats[largest, cv2.CC_STAT_HEIGHT])
    box = blob[top : top + box_height, left : left + box_width] > 0
    box_skin = skin[top : top + box_height, left : left + box_width] > 0
    row_widths = box.sum(axis=1).astype(np.float64)
    widest = max(1.0, float(row_widths.max()))
    # Legs and feet below a garment make the silhouette's lowest part narrow and split.
    low_row = box[min(box_height - 1, int(box_height * 0.9))]
    runs = int(np.count_nonzero(np.diff(np.concatenate([[0], low_row.astype(np.int8), [0]])) == 1))
    top_part = box[: max(1, box_height // 5)]
    bottom_part = box[box_height - max(1, box_height // 4) :]
    # The first Hu moment grows as the shape spreads away from its centroid. It is stored
    # as -log10, so compact shapes score higher than shapes with long limbs or legs.
    first_hu = float(cv2.HuMoments(cv2.moments(blob, binaryImage=True))[0, 0])
    return {
        "silhouette_hu1": -math.log10(first_hu) if first_hu > 0 else 0.0,
        "foreground_top": top / float(height),
        "foreground_aspect": float(np.log(box_height / max(1, box_width))),
        "foreground_fill": blob_area / float(box_width * box_height),
        "bottom_width": float(row_widths[int(box_height * 0.9) :].mean()) / widest,
        "bottom_runs": float(runs),
        "skin_in_foreground": float((box & box_skin).sum()) / max(1.0, float(box.sum())),
        "skin_top": float((top_part & box_skin[: top_part.shape[0]]).sum())
        / max(1.0, float(top_part.sum())),
        "skin_bottom": float((bottom_part & box_skin[box_height - bottom_part.shape[0] :]).sum())
        / max(1.0, float(bottom_part.sum())),
        "foreground_fraction": blob_area / area,
        "foreground_solidity": blob_area / hull_area if hull_area > 0 else 0.0,
        "foreground_sides": float(sides),
        "foreground_bottom": float(blob[-1].mean()),
        "foreground_symmetry": overlap / union if union > 0 else 0.0,
    }
