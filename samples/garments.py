"""Garment drawings for the sample packshots, one function per garment.

Each function draws one product, front view, onto a `Sketch` in design units (x 0..1000 across
the canvas) and ends with `sketch.finish()`. Proportions follow real flat-lay product shots.
"""

from __future__ import annotations

import math

import numpy as np
from PIL import Image

from samples.drawing import (
    Colour,
    Path,
    Point,
    Sketch,
    denim,
    dots,
    gingham,
    heather,
    mirrored,
    rib,
    shade,
    solid,
    stripes,
)

# Shared neckline of the jersey tops: the back neck sits higher than the front neck.
NECK_LEFT: Point = (405.0, 245.0)
NECK_RIGHT: Point = (595.0, 245.0)


def _back_neck() -> list[Point]:
    return Path(NECK_LEFT).curve((440, 262), (560, 262), NECK_RIGHT).points


def _front_neck(depth: float = 325.0) -> list[Point]:
    return Path(NECK_LEFT).curve((420, depth + 2), (580, depth + 2), NECK_RIGHT).points


def _shifted(points: list[Point], dx: float, dy: float) -> list[Point]:
    return [(x + dx, y + dy) for x, y in points]


def _mirror_x(points: list[Point]) -> list[Point]:
    return [(1000.0 - x, y) for x, y in points]


def _jersey_neckline(sketch: Sketch, body: Colour, band: Image.Image, depth: float) -> None:
    """Paint the inside of the back seen through a crew neck and the ribbed neckband."""
    back = _back_neck()
    front = _front_neck(depth)
    sketch.paint(sketch.mask(back + list(reversed(front))), shade(body, 0.72), cover=False)
    outer = Path((388, 243)).curve((405, depth + 26), (595, depth + 26), (612, 243)).points
    sketch.paint(sketch.mask(outer + list(reversed(front))), band, cover=False)
    back_band = Path((405, 245)).curve((440, 278), (560, 278), (595, 245)).points
    sketch.paint(sketch.mask(back + list(reversed(back_band))), band, cover=False)
    sketch.fold(front, 6, 18)


def _tee_outline() -> list[Point]:
    left = (
        Path((500, 262))
        .curve((460, 262), (425, 255), NECK_LEFT)
        .line((262, 290), (135, 455), (205, 522), (268, 470))
        .curve((272, 600), (262, 800), (268, 985))
        .curve((340, 992), (420, 995), (500, 995))
    )
    return mirrored(left.points)


def _tee_folds(sketch: Sketch) -> None:
    sketch.fold([(300, 500), (360, 640), (350, 760)], 10, 10)
    sketch.fold([(700, 520), (650, 660)], 12, 9)
    sketch.fold([(420, 880), (520, 930), (640, 900)], 14, 8)
    sketch.fold([(280, 340), (330, 420)], 16, -10)
    sketch.fold([(600, 620), (560, 760), (600, 860)], 18, -8)


def _sleeve_hems(sketch: Sketch, thread: Colour) -> None:
    hem = [(135, 455), (205, 522)]
    sketch.stitches(_shifted(hem, 13, -15), thread)
    sketch.stitches(_mirror_x(_shifted(hem, 13, -15)), thread)


def _badge(sketch: Sketch, centre: Point, radius: float, colour: Colour) -> None:
    """Draw a small round logo: a ring around a mountain ridge and a sun."""
    x, y = centre
    steps = 48
    ring = [
        (
            x + radius * math.cos(2 * math.pi * i / steps),
            y + radius * math.sin(2 * math.pi * i / steps),
        )
        for i in range(steps + 1)
    ]
    sketch.outline(ring, colour, radius * 0.11)
    r = radius
    ridge = [
        (x - 0.62 * r, y + 0.35 * r),
        (x - 0.2 * r, y - 0.3 * r),
        (x + 0.05 * r, y + 0.05 * r),
        (x + 0.3 * r, y - 0.2 * r),
        (x + 0.62 * r, y + 0.35 * r),
    ]
    sketch.outline(ridge, colour, radius * 0.11)
    sketch.circle((x + 0.28 * r, y - 0.5 * r), 0.14 * r, colour)


def slogan_tee(sketch: Sketch, body: Colour, ink: Colour, thread: Colour) -> None:
    """Draw a crew-neck jersey T-shirt with a two-line chest slogan and a small logo badge."""
    outline = _tee_outline()
    sketch.paint(sketch.mask(outline), solid(sketch, body, 2.0))
    _jersey_neckline(sketch, body, rib(sketch, shade(body, 0.97), 5.0), 325.0)
    _sleeve_hems(sketch, thread)
    sketch.stitches([(270, 958), (500, 966), (730, 958)], thread)
    sketch.outline([NECK_LEFT, (262, 290)], shade(body, 0.9), 2)
    sketch.outline([NECK_RIGHT, (738, 290)], shade(body, 0.9), 2)

    sketch.text((500, 590), "GOOD THINGS\nTAKE TIME", 50, ink, weight=1.4, tracking=3)
    _badge(sketch, (612, 415), 27, ink)

    _tee_folds(sketch)
    sketch.finish()


def raglan_tee(sketch: Sketch, body: Colour, sleeves: Colour) -> None:
    """Draw a mélange jersey T-shirt with contrast raglan sleeves and a contrast neckband."""
    outline = _tee_outline()
    sketch.paint(sketch.mask(outline), heather(sketch, body))
    sleeve_fabric = heather(sketch, sleeves, 7.0)
    left_sleeve = (
        Path((425, 256))
        .line(NECK_LEFT, (262, 290), (135, 455), (205, 522), (268, 470))
        .curve((320, 400), (380, 320), (425, 256))
        .points
    )
    sketch.paint(sketch.mask(left_sleeve, _mirror_x(left_sleeve)), sleeve_fabric, cover=False)
    seam = shade(sleeves, 0.6)
    sketch.outline(left_sleeve[-25:], seam, 2.5)
    sketch.outline(_mirror_x(left_sleeve[-25:]), seam, 2.5)
    _jersey_neckline(sketch, body, rib(sketch, sleeves, 5.0), 318.0)
    _sleeve_hems(sketch, shade(sleeves, 1.6))
    sketch.stitches([(270, 958), (500, 966), (730, 958)], shade(body, 0.7))

    _tee_folds(sketch)
    sketch.finish()


def _long_sleeve_outline(neck_left: Point, cuff_outer: Point, cuff_inner: Point) -> list[Point]:
    neck_x, neck_y = neck_left
    left = (
        Path((500, neck_y + 14))
        .curve((460, neck_y + 14), (neck_x + 25, neck_y + 6), neck_left)
        .line((262, 290))
        .curve((215, 400), (150, 640), cuff_outer)
        .line(cuff_inner)
        .curve((230, 700), (262, 560), (272, 468))
        .curve((274, 620), (266, 820), (270, 985))
        .curve((340, 992), (420, 995), (500, 995))
    )
    return mirrored(left.points)


def breton_top(sketch: Sketch, ground: Colour, stripe: Colour) -> None:
    """Draw a boat-neck long-sleeve Breton top: stripes below a plain yoke, striped sleeves."""
    cuff_outer, cuff_inner = (112.0, 842.0), (196.0, 862.0)
    outline = _long_sleeve_outline((360, 232), cuff_outer, cuff_inner)
    sketch.paint(
        sketch.mask(outline), stripes(sketch, ground, stripe, 40, 14, start=395, origin=(0, 0))
    )

    # Sleeve stripes run across each sleeve, so they follow its angle.
    left_sleeve = (
        Path((262, 290))
        .curve((215, 400), (150, 640), cuff_outer)
        .line(cuff_inner)
        .curve((230, 700), (262, 560), (272, 468))
        .line((300, 330))
        .points
    )
    # Angle of the sleeve axis (shoulder to cuff) from vertical, negative towards the left.
    axis_angle = -math.degrees(math.atan2(262 - cuff_outer[0], cuff_outer[1] - 290))
    sleeves = (
        (left_sleeve, axis_angle, (262.0, 290.0)),
        (_mirror_x(left_sleeve), -axis_angle, (738.0, 290.0)),
    )
    for polygon, angle, shoulder in sleeves:
        fabric = stripes(sketch, ground, stripe, 40, 14, angle=angle, origin=shoulder, start=130)
        sketch.paint(sketch.mask(polygon), fabric, cover=False)
    seam = shade(ground, 0.8)
    sketch.outline(left_sleeve[-27:-1], seam, 2)
    sketch.outline(_mirror_x(left_sleeve[-27:-1]), seam, 2)

    # A boat neck is a wide, shallow opening with a turned and stitched edge.
    back = Path((360, 232)).curve((420, 250), (580, 250), (640, 232)).points
    front = Path((360, 232)).curve((410, 282), (590, 282), (640, 232)).points
    sketch.paint(sketch.mask(back + list(reversed(front))), shade(ground, 0.74), cover=False)
    sketch.stitches(_shifted(front, 0, 14), seam, 2.0, 7, 4)
    sketch.fold(front, 6, 16)

    cuff = [cuff_outer, cuff_inner]
    sketch.stitches(_shifted(cuff, 6, -22), seam, 2.0, 7, 4)
    sketch.stitches(_mirror_x(_shifted(cuff, 6, -22)), seam, 2.0, 7, 4)
    sketch.stitches([(272, 958), (500, 966), (728, 958)], seam, 2.0, 7, 4)

    sketch.fold([(330, 520), (380, 700), (340, 860)], 14, 9)
    sketch.fold([(660, 480), (620, 700)], 12, 9)
    sketch.fold([(200, 560), (170, 700)], 10, -10)
    sketch.fold([(430, 880), (560, 930)], 14, 8)
    sketch.finish()


def gingham_shirt(sketch: Sketch, ground: Colour, check: Colour, button: Colour) -> None:
    """Draw a long-sleeve button-down shirt in gingham: collar, placket, chest pocket, cuffs."""
    cuff_outer, cuff_inner = (118.0, 860.0), (204.0, 878.0)
    left = (
        Path((500, 242))
        .line((412, 230))
        .line((248, 282))
        .curve((205, 420), (150, 650), cuff_outer)
        .line(cuff_inner)
        .curve((236, 700), (262, 560), (268, 470))
        .curve((270, 640), (262, 820), (262, 930))
        .curve((300, 990), (400, 1000), (500, 1010))
    )
    outline = mirrored(left.points)
    straight = gingham(sketch, ground, check, 15)
    sketch.paint(sketch.mask(outline), straight)

    sleeve = (
        Path((248, 282))
        .curve((205, 420), (150, 650), cuff_outer)
        .line(cuff_inner)
        .curve((236, 700), (262, 560), (268, 470))
        .line((290, 300))
        .points
    )
    sketch.paint(
        sketch.mask(sleeve, _mirror_x(sleeve)), gingham(sketch, ground, check, 15, 45), cover=False
    )
    seam = shade(check, 0.75)
    sketch.outline(sleeve[-27:-1], seam, 2)
    sketch.outline(_mirror_x(sleeve[-27:-1]), seam, 2)

    # Cuffs: a band at the end of each sleeve, cut on the straight grain, with a button.
    cuff = [(124, 800), (200, 818), cuff_inner, cuff_outer]
    for polygon in (cuff, _mirror_x(cuff)):
        sketch.paint(sketch.mask(polygon), straight, cover=False)
        sketch.outline(polygon[:2], seam, 2)
    sketch.circle((160, 838), 8, button, shade(button, 0.8))
    sketch.circle((840, 838), 8, button, shade(button, 0.8))

    # Chest pocket on the wearer's left, pattern-matched to the body.
    pocket = [(560, 380), (668, 380), (668, 500), (614, 522), (560, 500)]
    sketch.stitches(pocket + [pocket[0]], seam, 1.8, 6, 3)
    sketch.outline([(560, 380), (668, 380)], seam, 2)

    # Placket with buttons, then the collar laid over the neck.
    sketch.paint(
        sketch.mask([(482, 300), (518, 300), (518, 1005), (482, 1003)]), straight, cover=False
    )
    sketch.stitches([(484, 300), (484, 1000)], seam, 1.8, 6, 3)
    sketch.stitches([(516, 300), (516, 1000)], seam, 1.8, 6, 3)
    for y in (320, 420, 520, 620, 720, 820, 920):
        sketch.circle((500, y), 9, button, shade(button, 0.8))
        sketch.circle((497, y), 1.5, shade(button, 0.6))
        sketch.circle((503, y), 1.5, shade(button, 0.6))

    band = [(412, 230), (500, 242), (588, 230), (590, 212), (500, 222), (410, 212)]
    sketch.paint(sketch.mask(band), straight, cover=True)
    collar_left = [(410, 212), (500, 228), (505, 262), (438, 330), (392, 246)]
    collar_fabric = gingham(sketch, ground, check, 15, 30)
    for polygon in (collar_left, _mirror_x(collar_left)):
        sketch.paint(sketch.mask(polygon), collar_fabric, cover=True)
        sketch.outline(polygon + [polygon[0]], seam, 1.5)
        sketch.fold(polygon[2:4], 8, 20)
    sketch.stitches([(412, 222), (500, 236), (588, 222)], seam, 1.5, 5, 3)

    sketch.fold([(300, 560), (350, 760)], 14, 9)
    sketch.fold([(700, 540), (660, 760)], 14, 9)
    sketch.fold([(190, 560), (165, 700)], 10, -10)
    sketch.fold([(380, 900), (470, 960)], 12, 8)
    sketch.finish(fold_blur=7)


def polka_dot_dress(sketch: Sketch, ground: Colour, dot: Colour) -> None:
    """Draw a midi dress: fitted bodice, flutter sleeves, tie waist, A-line skirt, polka dots."""
    left = (
        Path((500, 178))
        .curve((460, 178), (430, 172), (412, 162))
        .line((345, 176))
        .curve((300, 205), (270, 250), (252, 300))
        .line((322, 318))
        .curve((330, 380), (352, 440), (356, 488))
        .curve((320, 700), (250, 950), (205, 1140))
        .curve((330, 1160), (420, 1165), (500, 1165))
    )
    outline = mirrored(left.points)
    sketch.paint(sketch.mask(outline), dots(sketch, ground, dot, 44, 8))

    back = Path((412, 162)).curve((440, 180), (560, 180), (588, 162)).points
    front = Path((412, 162)).curve((430, 255), (570, 255), (588, 162)).points
    sketch.paint(sketch.mask(back + list(reversed(front))), shade(ground, 0.6), cover=False)
    seam = shade(ground, 0.7)
    sketch.outline(front, seam, 2)

    # Flutter sleeves are cut separately and sewn at the armhole.
    sleeve = Path((345, 176)).curve((300, 205), (270, 250), (252, 300)).line((322, 318)).points
    sketch.outline([(345, 176), (335, 250), (322, 318)], seam, 2)
    sketch.outline(_mirror_x([(345, 176), (335, 250), (322, 318)]), seam, 2)
    sketch.fold(sleeve[10:20], 8, -12)
    sketch.fold(_mirror_x(sleeve[10:20]), 8, -12)

    # Self-fabric tie belt: the band, a knot and two tails.
    sketch.paint(
        sketch.mask([(352, 470), (648, 470), (650, 505), (350, 505)]),
        dots(sketch, ground, dot, 44, 8),
        cover=False,
    )
    sketch.outline([(352, 470), (648, 470)], seam, 2)
    sketch.outline([(350, 505), (650, 505)], seam, 2)
    knot = sketch.ellipse_mask((438, 462, 482, 512))
    tails = sketch.mask(
        [(450, 500), (468, 500), (445, 700), (420, 705)],
        [(462, 500), (480, 500), (505, 680), (485, 690)],
    )
    belt_fabric = dots(sketch, ground, dot, 44, 8, offset=(17, 23))
    sketch.paint(tails, belt_fabric, cover=False)
    sketch.paint(knot, belt_fabric, cover=False)
    sketch.outline([(450, 500), (420, 705), (445, 700), (468, 500)], seam, 2)
    sketch.outline([(462, 500), (485, 690), (505, 680), (480, 500)], seam, 2)
    ring = [
        (460 + 22 * math.cos(a / 12 * math.pi), 487 + 25 * math.sin(a / 12 * math.pi))
        for a in range(25)
    ]
    sketch.outline(ring, seam, 2)
    sketch.fold([(430, 505), (415, 700)], 5, 22)
    sketch.fold([(486, 500), (510, 690)], 5, 22)
    sketch.fold([(440, 465), (482, 512)], 6, -10)

    # Soft skirt folds fan out from the waist.
    for x_waist, x_hem, depth in (
        (380, 300, 12),
        (430, 400, -10),
        (560, 600, 14),
        (610, 700, -9),
        (470, 470, 10),
        (520, 540, -8),
        (640, 770, 12),
    ):
        sketch.fold([(x_waist, 540), (x_hem, 1120)], 16, depth)
    sketch.stitches(
        [(212, 1120), (350, 1138), (500, 1143), (650, 1138), (788, 1120)], seam, 2, 7, 4
    )
    sketch.finish()


def pleated_skirt(sketch: Sketch, colour: Colour, pleats: int = 22) -> None:
    """Draw a knife-pleated midi skirt on a waistband. Each pleat has a lit and a shaded face."""
    waist_top, waist_bottom, hem = 190.0, 245.0, 1030.0
    waist_left, hem_left = 340.0, 160.0

    def edge(y: float) -> float:
        t = (y - waist_bottom) / (hem - waist_bottom)
        return waist_left + (hem_left - waist_left) * (t**0.9)

    # The hem zigzags because every pleat fold ends a little lower than its inner crease.
    # The flat-laid hem is also an arc: lowest at the centre front, 20 units higher at the sides.
    hem_points: list[Point] = []
    for k in range(pleats + 1):
        for phase, drop in ((0.0, 8.0), (0.72, 0.0)):
            u = (k + phase) / pleats
            if u > 1.0:
                break
            x = hem_left + (1000 - 2 * hem_left) * u
            hem_points.append((x, hem + drop - 20 * (2 * u - 1) ** 2))
    left_side = [(waist_left, waist_bottom)] + [
        (edge(y), y) for y in np.linspace(waist_bottom, hem - 12, 30)
    ]
    right_side = [(1000 - x, y) for x, y in reversed(left_side)]
    outline = left_side + hem_points + right_side
    sketch.paint(sketch.mask(outline), solid(sketch, colour, 1.5))

    # Pleat light: a face lit by the key light, then a narrow face turned into shadow.
    xs, ys = sketch.grid()
    left_x = np.clip(edge_array(ys, waist_bottom, hem, waist_left, hem_left), 0, 500)
    u = np.clip((xs - left_x) / np.maximum(1000 - 2 * left_x, 1), 0, 1)
    phase = np.mod(u * pleats, 1.0)
    lit = np.where(phase < 0.72, 1.04 - 0.10 * phase, 0.78 + 0.18 * (phase - 0.72) / 0.28)
    lit = np.where(ys > waist_bottom, lit, 1.0).astype(np.float32)
    colours = np.asarray(sketch.rgb, np.float32) * lit[:, :, None]
    sketch.rgb = Image.fromarray(np.clip(colours, 0, 255).astype(np.uint8), "RGB")

    band = (
        Path((waist_left - 6, waist_top))
        .curve((420, waist_top + 8), (580, waist_top + 8), (1006 - waist_left, waist_top))
        .points
    )
    band_bottom = (
        Path((waist_left, waist_bottom))
        .curve((420, waist_bottom + 8), (580, waist_bottom + 8), (1000 - waist_left, waist_bottom))
        .points
    )
    band_polygon = band + list(reversed(band_bottom))
    sketch.paint(sketch.mask(band_polygon), solid(sketch, shade(colour, 0.96), 1.5))
    thread = shade(colour, 0.72)
    sketch.stitches(_shifted(band, 0, 8), thread, 1.8, 6, 3)
    sketch.stitches(_shifted(band_bottom, 0, -8), thread, 1.8, 6, 3)
    sketch.outline(band_bottom, shade(colour, 0.7), 2)
    sketch.fold([(380, 300), (330, 600)], 30, -8)
    sketch.finish(edge_darkening=0.1)


def edge_array(
    ys: np.ndarray, top: float, bottom: float, top_x: float, bottom_x: float
) -> np.ndarray:
    """Compute the pleated skirt's left edge for each row, matching its outline curve."""
    t = np.clip((ys - top) / (bottom - top), 0, 1)
    return top_x + (bottom_x - top_x) * (t**0.9)


def hoodie(sketch: Sketch, body: Colour, print_colour: Colour) -> None:
    """Draw a pullover hoodie: hood, drawstrings, kangaroo pocket, ribbing and a chest print."""
    cuff_outer, cuff_inner = (108.0, 880.0), (204.0, 900.0)
    fabric = solid(sketch, body, 2.5)
    hood = Path((372, 300)).curve((340, 200), (380, 95), (500, 88)).points
    sketch.paint(sketch.mask(mirrored(hood)), fabric)
    left = (
        Path((500, 292))
        .line((405, 262), (240, 300))
        .curve((195, 420), (145, 660), cuff_outer)
        .line(cuff_inner)
        .curve((234, 720), (258, 580), (262, 482))
        .curve((264, 640), (258, 820), (262, 960))
        .line((500, 966))
    )
    sketch.paint(sketch.mask(mirrored(left.points)), fabric)

    # The hood opening shows its darker lining, and its two front edges cross at the neck.
    opening = Path((418, 292)).curve((395, 210), (420, 148), (500, 140)).points
    sketch.paint(sketch.mask(mirrored(opening)), shade(body, 0.62), cover=False)
    sketch.fold(mirrored(opening), 8, 22)
    edge_left = [(418, 292), (520, 330)]
    sketch.outline(edge_left, shade(body, 0.7), 3)
    sketch.outline(_mirror_x(edge_left), shade(body, 0.7), 3)

    cord = shade(body, 1.25) if sum(body) < 450 else shade(body, 0.85)
    for start, end in (((462, 300), (452, 440)), ((538, 300), (550, 430))):
        sketch.outline(
            [start, ((start[0] + end[0]) / 2 + 4, (start[1] + end[1]) / 2), end], cord, 7
        )
        sketch.outline([end, (end[0] + 1, end[1] + 26)], (205, 205, 200), 8)

    # Ribbed cuffs and hem band.
    ribbing = rib(sketch, shade(body, 0.95), 7)
    cuff = [(120, 800), (206, 822), cuff_inner, cuff_outer]
    sketch.paint(
        sketch.mask(cuff, _mirror_x(cuff)), rib(sketch, shade(body, 0.95), 7, 12), cover=False
    )
    sketch.paint(
        sketch.mask([(262, 890), (738, 890), (738, 966), (262, 966)]), ribbing, cover=False
    )
    seam = shade(body, 0.78)
    sketch.outline([(262, 890), (738, 890)], seam, 2)
    sketch.outline(cuff[:2], seam, 2)
    sketch.outline(_mirror_x(cuff[:2]), seam, 2)

    # The sleeves lie along the body, so a seam and a shadow separate them from it.
    underarm = Path(cuff_inner).curve((234, 720), (258, 580), (262, 482)).points
    for curve in (underarm, _mirror_x(underarm)):
        sketch.outline(curve, seam, 2)
        sketch.fold(curve, 10, 30)
    sketch.outline([(405, 262), (240, 300)], seam, 2)
    sketch.outline(_mirror_x([(405, 262), (240, 300)]), seam, 2)

    # Kangaroo pocket with slanted hand openings.
    pocket = [(392, 640), (608, 640), (672, 770), (672, 880), (328, 880), (328, 770)]
    sketch.outline(pocket + [pocket[0]], seam, 2)
    sketch.stitches(_shifted(pocket[:3], 0, 8), seam, 2, 7, 4)
    sketch.fold([(392, 648), (330, 775)], 8, 24)
    sketch.fold([(608, 648), (670, 775)], 8, 24)

    # Chest print: a rising sun over a two-line wordmark.
    sketch.text((500, 555), "COASTLINE\nSURF CLUB", 42, print_colour, weight=1.5, tracking=4)
    for i in range(9):
        angle = math.pi * (i / 8)
        inner = (500 - 30 * math.cos(angle), 495 - 30 * math.sin(angle))
        outer = (500 - 44 * math.cos(angle), 495 - 44 * math.sin(angle))
        sketch.outline([inner, outer], print_colour, 4)
    sketch.circle((500, 495), 22, print_colour)
    sketch.paint(sketch.mask([(470, 495), (530, 495), (530, 520), (470, 520)]), fabric, cover=False)

    sketch.fold([(300, 520), (340, 720)], 16, 10)
    sketch.fold([(690, 500), (650, 700)], 16, 10)
    sketch.fold([(180, 560), (150, 720)], 12, -10)
    sketch.fold([(820, 560), (850, 720)], 12, -10)
    sketch.finish(edge_darkening=0.18)


def straight_jeans(sketch: Sketch, colour: Colour, thread: Colour) -> None:
    """Draw five-pocket straight-leg jeans: waistband, belt loops, fly, pockets, rivets, hems."""
    left_leg = (
        Path((500, 205))
        .line((300, 205))
        .curve((296, 260), (290, 320), (292, 380))
        .line((318, 1150), (488, 1150), (496, 470))
        .line((500, 455))
    )
    outline = mirrored(left_leg.points)
    fabric = denim(sketch, colour)
    sketch.paint(sketch.mask(outline), fabric)
    waistband = [(298, 150), (702, 150), (704, 206), (296, 206)]
    sketch.paint(sketch.mask(waistband), fabric)

    seam = shade(colour, 0.7)
    sketch.outline([(296, 206), (704, 206)], seam, 2)
    for y in (160, 196):
        sketch.stitches([(302, y), (698, y)], thread)

    # Front pockets: the curved opening shows the lighter pocket facing inside.
    opening = Path((360, 206)).curve((356, 270), (330, 310), (294, 318)).points
    facing = opening + [(294, 206)]
    facing_fabric = denim(sketch, shade(colour, 0.88))
    for polygon, line in ((facing, opening), (_mirror_x(facing), _mirror_x(opening))):
        sketch.paint(sketch.mask(polygon), facing_fabric, cover=False)
        sketch.outline(line, seam, 2.5)
        sketch.stitches(_shifted(line, 8, 6), thread)
    coin = [(310, 214), (346, 214), (346, 262), (310, 262)]
    sketch.stitches([coin[1], coin[2], coin[3]], thread, 1.8, 6, 3)
    for rivet in ((358, 212), (296, 316), (642, 212), (704, 316)):
        sketch.circle(rivet, 5.5, (176, 118, 62), (120, 78, 40))

    # Fly: a J-shaped double stitch and the waistband button.
    fly = Path((470, 206)).line((470, 400)).curve((470, 428), (490, 440), (502, 442)).points
    sketch.stitches(fly, thread)
    sketch.stitches(_shifted(fly, -9, 0)[:-8], thread)
    sketch.outline([(500, 206), (500, 440)], seam, 2)
    sketch.circle((500, 178), 13, (150, 150, 150), (95, 95, 95))
    sketch.circle((500, 178), 6, (120, 120, 120))

    for x in (330, 420, 580, 670):
        sketch.paint(
            sketch.mask([(x - 8, 144), (x + 8, 144), (x + 8, 214), (x - 8, 214)]),
            facing_fabric,
            cover=False,
        )
        sketch.stitches([(x - 5, 148), (x - 5, 210)], thread, 1.6, 4, 2)

    # Outseam and inseam topstitching, and the hems.
    sketch.stitches([(300, 380), (324, 1140)], thread)
    sketch.stitches([(484, 480), (478, 1140)], thread)
    sketch.stitches(_mirror_x([(300, 380), (324, 1140)]), thread)
    sketch.stitches(_mirror_x([(484, 480), (478, 1140)]), thread)
    for y in (1128,):
        sketch.stitches([(320, y), (486, y)], thread)
        sketch.stitches([(514, y), (680, y)], thread)

    # Wear: whiskers at the hips, a faded knee, creases behind it.
    for i, y in enumerate((330, 352, 374)):
        sketch.fold([(420, y), (470, y + 14)], 5, -26 + i * 3)
        sketch.fold([(580, y), (530, y + 14)], 5, -26 + i * 3)
    for x in (405, 595):
        sketch.fold([(x, 620), (x, 760)], 50, -14)
    sketch.fold([(340, 860), (470, 880)], 10, 14)
    sketch.fold([(530, 880), (660, 860)], 10, 14)
    sketch.finish(edge_darkening=0.2, fold_blur=10)


def bomber_jacket(sketch: Sketch, shell: Colour, trim: Colour, tipping: Colour) -> None:
    """Draw a bomber jacket: ribbed collar, cuffs and hem with tipping, zip front, welt pockets."""
    cuff_outer, cuff_inner = (104.0, 880.0), (206.0, 900.0)
    left = (
        Path((500, 236))
        .line((410, 226), (236, 282))
        .curve((188, 420), (140, 660), cuff_outer)
        .line(cuff_inner)
        .curve((240, 720), (262, 580), (258, 480))
        .curve((254, 620), (246, 820), (258, 960))
        .line((500, 968))
    )
    fabric = solid(sketch, shell, 2.0)
    sketch.paint(sketch.mask(mirrored(left.points)), fabric)

    def banded(polygon: list[Point], angle: float, bands: tuple[float, ...]) -> None:
        sketch.paint(sketch.mask(polygon), rib(sketch, trim, 6, angle), cover=True)
        for offset in bands:
            inner = _shifted(polygon[:2], 0, offset) if angle == 0 else polygon[:2]
            sketch.outline(inner, tipping, 5)

    # Rib collar standing around the neck.
    collar = [(410, 226), (500, 236), (590, 226), (596, 180), (500, 192), (404, 180)]
    sketch.paint(sketch.mask(collar), rib(sketch, trim, 6), cover=True)
    sketch.outline([(406, 196), (500, 208), (594, 196)], tipping, 5)
    sketch.outline([(405, 186), (500, 198), (595, 186)], tipping, 3)

    # Hem band and cuffs, with two tipping stripes each.
    hem = [(258, 900), (742, 900), (742, 968), (258, 968)]
    banded(hem, 0, ())
    for y in (918, 930):
        sketch.outline([(258, y), (742, y)], tipping, 5 if y == 918 else 3)
    cuff = [(118, 808), (208, 828), cuff_inner, cuff_outer]
    for polygon, angle in ((cuff, 12.0), (_mirror_x(cuff), -12.0)):
        sketch.paint(sketch.mask(polygon), rib(sketch, trim, 6, angle), cover=False)
        a, b = polygon[3], polygon[2]
        sketch.outline([(a[0] + 2, a[1] - 20), (b[0] + 1, b[1] - 20)], tipping, 5)

    # Centre-front zip: tape, teeth and the puller.
    sketch.paint(
        sketch.mask([(490, 236), (510, 236), (510, 900), (490, 900)]), shade(trim, 0.9), cover=False
    )
    for y in range(240, 896, 8):
        sketch.outline([(494, y), (506, y + 3)], (188, 186, 178), 3.5)
    sketch.paint(
        sketch.mask([(492, 250), (508, 250), (512, 300), (488, 300)]), (170, 168, 160), cover=False
    )
    sketch.circle((500, 302), 6, (150, 148, 140))

    # Slanted welt pockets and the sleeve utility pocket.
    seam = shade(shell, 0.7)
    for welt in ([(320, 640), (362, 780)], [(680, 640), (638, 780)]):
        sketch.paint(
            sketch.mask(_shifted(welt, -9, 0) + list(reversed(_shifted(welt, 9, 0)))),
            shade(trim, 1.0),
            cover=False,
        )
        sketch.outline(welt, shade(trim, 0.8), 2)
    pocket = [(150, 420), (232, 436), (222, 530), (138, 514)]
    sketch.stitches(pocket + [pocket[0]], seam, 1.8, 6, 3)
    sketch.outline([(152, 440), (222, 454)], (120, 118, 110), 4)

    underarm = Path(cuff_inner).curve((240, 720), (262, 580), (258, 480)).points
    for curve in (underarm, _mirror_x(underarm)):
        sketch.outline(curve, seam, 2)
        sketch.fold(curve, 10, 30)
    sketch.outline([(410, 226), (236, 282)], seam, 2)
    sketch.outline(_mirror_x([(410, 226), (236, 282)]), seam, 2)
    sketch.fold([(300, 320), (260, 480)], 24, -12)
    sketch.fold([(700, 320), (740, 480)], 24, -12)
    sketch.fold([(360, 420), (420, 620), (380, 860)], 20, 12)
    sketch.fold([(640, 420), (600, 620), (640, 860)], 20, 12)
    sketch.fold([(170, 600), (140, 760)], 16, -14)
    sketch.fold([(830, 600), (860, 760)], 16, -14)
    sketch.finish(edge_darkening=0.2, fold_blur=12)


def tote_bag(sketch: Sketch, canvas: Colour, ink: Colour, handle: Colour) -> None:
    """Draw a cotton canvas tote with two handles and a printed front."""
    body = (
        Path((250, 372))
        .line((750, 372))
        .curve((756, 560), (760, 760), (764, 900))
        .curve((600, 912), (400, 912), (236, 900))
        .curve((240, 760), (244, 560), (250, 372))
        .points
    )

    # Back handle first, then the body, then the front handle over it.
    def handle_polygon(lift: float, spread: float) -> list[Point]:
        outer = (
            Path((330 - spread, 380))
            .curve((330 - spread, 120 - lift), (670 + spread, 120 - lift), (670 + spread, 380))
            .points
        )
        inner = (
            Path((372 - spread, 380))
            .curve((372 - spread, 170 - lift), (628 + spread, 170 - lift), (628 + spread, 380))
            .points
        )
        return [(330 - spread, 380)] + outer + list(reversed(inner))

    sketch.paint(sketch.mask(handle_polygon(18, -10)), solid(sketch, shade(handle, 0.8), 2))
    sketch.paint(sketch.mask(body), solid(sketch, canvas, 3.5))
    sketch.paint(sketch.mask(handle_polygon(0, 0)), solid(sketch, handle, 2))
    thread = shade(canvas, 0.78)
    sketch.stitches([(256, 402), (744, 402)], thread, 2, 7, 4)
    for x in (330, 628):
        box = [(x, 392), (x + 42, 392), (x + 42, 450), (x, 450), (x, 392), (x + 42, 450)]
        sketch.stitches(box, shade(handle, 0.7), 1.8, 5, 3)
    sketch.paint(
        sketch.mask(
            [(330, 372), (372, 372), (372, 452), (330, 452)],
            [(628, 372), (670, 372), (670, 452), (628, 452)],
        ),
        solid(sketch, handle, 2),
        cover=False,
    )
    for x in (330, 628):
        box = [
            (x + 4, 396),
            (x + 38, 396),
            (x + 38, 446),
            (x + 4, 446),
            (x + 4, 396),
            (x + 38, 446),
        ]
        sketch.stitches(box, shade(handle, 0.7), 1.8, 5, 3)

    sketch.text(
        (500, 640), "FRESH\nFROM THE\nMARKET", 62, ink, weight=1.6, spacing=0.18, tracking=5
    )
    sketch.outline([(360, 805), (640, 805)], ink, 5)
    for x in (380, 450, 520, 590):
        sketch.circle((x + 15, 790), 6, ink)

    sketch.fold([(300, 420), (340, 880)], 26, -10)
    sketch.fold([(700, 420), (640, 880)], 20, 10)
    sketch.fold([(260, 880), (740, 880)], 18, 10)
    sketch.finish(edge_darkening=0.16)


def _sneaker(
    sketch: Sketch, dx: float, dy: float, tone: float, upper: Colour, accent: Colour, sole: Colour
) -> None:
    """Draw one low-top sneaker in side view, toe to the left, shifted by (dx, dy).

    Proportions follow a men's size 42 court shoe: length 28 cm, heel collar about 8.5 cm
    and tongue about 11 cm above the ground.
    """

    def at(points: list[Point]) -> list[Point]:
        # The pair is drawn at 1.2 times the outline's size, about the canvas centre.
        return [((x + dx - 500) * 1.2 + 500, (y + dy - 480) * 1.2 + 500) for x, y in points]

    leather = shade(upper, tone)
    trim = shade(accent, tone)
    gum = shade(sole, tone)
    cupsole = shade((238, 235, 226), tone)
    line_colour = shade(leather, 0.7)

    upper_outline = at(
        Path((168, 592))
        .curve((158, 560), (185, 532), (245, 526))
        .line((380, 500))
        .curve((430, 480), (470, 455), (505, 430))
        .line((522, 404), (548, 402), (560, 428))
        .curve((590, 452), (660, 458), (722, 440))
        .curve((760, 448), (774, 510), (772, 592))
        .points
    )
    sketch.paint(sketch.mask(upper_outline), solid(sketch, leather, 1.5))

    # Heel counter and a curved side stripe in the accent colour.
    heel = at(
        Path((700, 446))
        .line((722, 440))
        .curve((760, 448), (774, 510), (772, 592))
        .line((700, 592))
        .curve((690, 540), (686, 490), (700, 446))
        .points
    )
    sketch.paint(sketch.mask(heel), solid(sketch, trim, 1.5), cover=False)
    sketch.stitches(
        at(Path((706, 462)).curve((696, 500), (698, 550), (708, 586)).points),
        shade(trim, 1.5),
        1.6,
        5,
        3,
    )
    stripe_lower = Path((430, 592)).curve((520, 560), (600, 520), (650, 478)).points
    stripe_upper = Path((472, 592)).curve((550, 566), (620, 530), (668, 490)).points
    stripe = at([(430, 592)] + stripe_lower + list(reversed(stripe_upper)))
    sketch.paint(sketch.mask(stripe), solid(sketch, trim, 1.5), cover=False)

    # Toe cap seam with perforations, and the quarter panel seam.
    toe_seam = at(Path((300, 516)).curve((290, 540), (292, 570), (300, 592)).points)
    sketch.outline(toe_seam, line_colour, 2)
    sketch.stitches(_shifted(toe_seam, 8, 0), line_colour, 1.4, 4, 3)
    for row, y in enumerate((548, 566)):
        for x in range(196 + row * 7, 286, 14):
            sketch.circle(at([(x, y)])[0], 2.2, shade(leather, 0.62))
    sketch.outline(
        at(Path((560, 430)).curve((580, 480), (590, 540), (600, 592)).points), line_colour, 2
    )

    # Eyestay along the lace line with eyelets, and laces crossing over it.
    lace_line = Path((380, 500)).curve((430, 480), (470, 455), (505, 430)).points
    eyestay = at(lace_line + list(reversed(_shifted(lace_line, 10, 24))))
    sketch.paint(sketch.mask(eyestay), solid(sketch, shade(leather, 0.95), 1.5), cover=False)
    sketch.outline(at(_shifted(lace_line, 10, 24)), line_colour, 2)
    for i in range(5):
        x, y = lace_line[3 + i * 5]
        sketch.circle(at([(x + 6, y + 12)])[0], 4, shade(leather, 0.45))
        sketch.outline(at([(x - 10, y - 4), (x + 14, y + 6)]), shade((250, 250, 246), tone), 6)

    # Padded collar edge and the tongue's top.
    sketch.outline(
        at(Path((560, 428)).curve((590, 452), (660, 458), (722, 440)).points),
        shade(leather, 0.8),
        5,
    )
    sketch.outline(at([(522, 404), (548, 402)]), shade(leather, 0.82), 5)

    # Cupsole with a stitched sidewall, then the gum outsole.
    midsole = at(
        Path((166, 584))
        .line((774, 584))
        .curve((786, 600), (784, 630), (772, 640))
        .line((190, 640))
        .curve((168, 632), (158, 610), (166, 584))
        .points
    )
    sketch.paint(sketch.mask(midsole), solid(sketch, cupsole, 1.5))
    sketch.stitches(at([(180, 600), (772, 600)]), shade(cupsole, 0.6), 1.6, 5, 3)
    sketch.outline(at([(176, 624), (776, 624)]), shade(cupsole, 0.85), 2)
    outsole = at(
        Path((190, 640))
        .line((772, 640))
        .curve((780, 648), (776, 658), (764, 660))
        .line((204, 660))
        .curve((192, 658), (186, 650), (190, 640))
        .points
    )
    sketch.paint(sketch.mask(outsole), solid(sketch, gum, 2))


def sneakers(sketch: Sketch, upper: Colour, accent: Colour, sole: Colour) -> None:
    """Draw a pair of low-top sneakers: the far shoe behind and above the near one."""
    _sneaker(sketch, 70, -80, 0.9, upper, accent, sole)
    _sneaker(sketch, 0, 20, 1.0, upper, accent, sole)
    sketch.fold([(240, 540), (360, 510)], 14, -12)
    sketch.finish(edge_darkening=0.12, fold_blur=6)


__all__ = [
    "bomber_jacket",
    "breton_top",
    "gingham_shirt",
    "hoodie",
    "pleated_skirt",
    "polka_dot_dress",
    "raglan_tee",
    "slogan_tee",
    "sneakers",
    "straight_jeans",
    "tote_bag",
]
