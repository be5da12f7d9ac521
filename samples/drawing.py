"""Vector drawing helpers for the sample packshots: paths, fabric textures, shading, output.

Garments are drawn in design units: x runs from 0 to 1000 across the canvas width and y
uses the same unit, so a 768 x 960 canvas is 1000 x 1250 units and a square one 1000 x 1000.
Everything is drawn at `SUPERSAMPLE` times the output size and reduced with a Lanczos filter
at the end, which gives smooth silhouettes while stripes, dots and type stay sharp.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence

import numpy as np
from PIL import Image, ImageDraw, ImageFilter, ImageFont

SUPERSAMPLE = 3

Point = tuple[float, float]
Colour = tuple[int, int, int]


def cubic(p0: Point, p1: Point, p2: Point, p3: Point, steps: int = 24) -> list[Point]:
    """Flatten one cubic Bezier segment into `steps` points, excluding its start point."""
    points = []
    for i in range(1, steps + 1):
        t = i / steps
        u = 1.0 - t
        x = u**3 * p0[0] + 3 * u * u * t * p1[0] + 3 * u * t * t * p2[0] + t**3 * p3[0]
        y = u**3 * p0[1] + 3 * u * u * t * p1[1] + 3 * u * t * t * p2[1] + t**3 * p3[1]
        points.append((x, y))
    return points


class Path:
    """A polyline built from straight and cubic segments, in design units."""

    def __init__(self, start: Point) -> None:
        self.points: list[Point] = [start]

    def line(self, *targets: Point) -> Path:
        self.points.extend(targets)
        return self

    def curve(self, control1: Point, control2: Point, end: Point) -> Path:
        self.points.extend(cubic(self.points[-1], control1, control2, end))
        return self


def mirrored(left_half: Sequence[Point], axis: float = 500.0) -> list[Point]:
    """Close a left-half outline with its mirror image about the vertical line x = axis."""
    right_half = [(2 * axis - x, y) for x, y in reversed(left_half)]
    return list(left_half) + right_half


def shade(rgb: Colour, factor: float) -> Colour:
    """Scale a colour's brightness, clamped to 0..255."""
    return tuple(max(0, min(255, round(c * factor))) for c in rgb)  # type: ignore[return-value]


class Sketch:
    """A supersampled RGBA drawing surface for one garment, plus its shading map.

    `rgb` contains the garment colours and `alpha` the garment coverage. `light` is a grey map
    (128 is neutral) that `finish` multiplies into the colours to add folds and edge falloff.
    """

    def __init__(self, width: int, height: int, seed: int) -> None:
        self.width = width
        self.height = height
        self.scale = width * SUPERSAMPLE / 1000.0
        self.size = (width * SUPERSAMPLE, height * SUPERSAMPLE)
        self.rgb = Image.new("RGB", self.size, (0, 0, 0))
        self.alpha = Image.new("L", self.size, 0)
        self.light = Image.new("L", self.size, 128)
        self.rng = np.random.default_rng(seed)
        self._grid: tuple[np.ndarray, np.ndarray] | None = None

    # Geometry ---------------------------------------------------------------------------

    @property
    def design_height(self) -> float:
        return self.height * 1000.0 / self.width

    def px(self, points: Iterable[Point]) -> list[Point]:
        return [(x * self.scale, y * self.scale) for x, y in points]

    def units(self, value: float) -> float:
        return value * self.scale

    def grid(self) -> tuple[np.ndarray, np.ndarray]:
        """Return the design-unit coordinates of every supersampled pixel centre (x, y)."""
        if self._grid is None:
            columns = (np.arange(self.size[0], dtype=np.float32) + 0.5) / self.scale
            rows = (np.arange(self.size[1], dtype=np.float32) + 0.5) / self.scale
            self._grid = (columns[None, :], rows[:, None])
        return self._grid

    def mask(self, *polygons: Sequence[Point]) -> Image.Image:
        """Rasterise the union of polygons into an L mask at supersampled resolution."""
        region = Image.new("L", self.size, 0)
        draw = ImageDraw.Draw(region)
        for polygon in polygons:
            draw.polygon(self.px(polygon), fill=255)
        return region

    def ellipse_mask(self, box: tuple[float, float, float, float]) -> Image.Image:
        region = Image.new("L", self.size, 0)
        left, top, right, bottom = box
        ImageDraw.Draw(region).ellipse(self.px([(left, top), (right, bottom)]), fill=255)
        return region

    # Painting ---------------------------------------------------------------------------

    def paint(self, region: Image.Image, fill: Colour | Image.Image, cover: bool = True) -> None:
        """Paint `fill` (a colour or a full-size RGB texture) through the `region` mask.

        With `cover`, the region also becomes part of the garment silhouette. Details such
        as prints and stitches lie inside the silhouette already, so they pass False.
        """
        if isinstance(fill, tuple):
            fill = Image.new("RGB", self.size, fill)
        self.rgb.paste(fill, (0, 0), region)
        if cover:
            self.alpha.paste(255, (0, 0), region)

    def outline(self, points: Sequence[Point], colour: Colour, width: float) -> None:
        """Draw a solid line along `points` (a seam edge or a fabric fold line)."""
        draw = ImageDraw.Draw(self.rgb)
        draw.line(
            self.px(points), fill=colour, width=max(1, round(self.units(width))), joint="curve"
        )

    def stitches(
        self,
        points: Sequence[Point],
        colour: Colour,
        width: float = 2.2,
        dash: float = 9.0,
        gap: float = 5.0,
    ) -> None:
        """Draw a dashed topstitch line along a polyline."""
        draw = ImageDraw.Draw(self.rgb)
        line_width = max(1, round(self.units(width)))
        phase = 0.0
        for (x0, y0), (x1, y1) in zip(points, points[1:], strict=False):
            length = math.hypot(x1 - x0, y1 - y0)
            position = 0.0
            while position < length:
                on = dash - phase if phase < dash else 0.0
                if on > 0:
                    end = min(length, position + on)
                    start_point = (
                        x0 + (x1 - x0) * position / length,
                        y0 + (y1 - y0) * position / length,
                    )
                    end_point = (x0 + (x1 - x0) * end / length, y0 + (y1 - y0) * end / length)
                    draw.line(self.px([start_point, end_point]), fill=colour, width=line_width)
                    phase += end - position
                    position = end
                else:
                    skip = min(length - position, dash + gap - phase)
                    phase += skip
                    position += skip
                if phase >= dash + gap:
                    phase = 0.0

    def circle(
        self, centre: Point, radius: float, fill: Colour, edge: Colour | None = None
    ) -> None:
        x, y = centre
        box = self.px([(x - radius, y - radius), (x + radius, y + radius)])
        outline_width = max(1, round(self.units(radius * 0.12)))
        ImageDraw.Draw(self.rgb).ellipse(box, fill=fill, outline=edge, width=outline_width)

    def text(
        self,
        centre: Point,
        words: str,
        size: float,
        colour: Colour,
        weight: float = 0.0,
        spacing: float = 0.25,
        tracking: float = 0.0,
    ) -> None:
        """Print text centred on `centre`, one line per newline in `words`.

        The font is the FreeType face bundled with Pillow, so the output does not depend on
        fonts installed on the machine. `weight` thickens strokes (in design units) to get a
        bold print from the regular face. `tracking` adds letter spacing in design units.
        """
        font = ImageFont.load_default(size=max(4, round(self.units(size))))
        stroke = round(self.units(weight))
        lines = words.split("\n")
        line_height = self.units(size) * (1.0 + spacing)
        extra = self.units(tracking)
        widths = [self._line_width(font, line, extra) + 2 * stroke for line in lines]
        total_height = line_height * (len(lines) - 1) + self.units(size)
        cx, cy = self.px([centre])[0]
        draw = ImageDraw.Draw(self.rgb)
        top = cy - total_height / 2
        for line, width in zip(lines, widths, strict=True):
            x = cx - width / 2 + stroke
            for letter in line:
                draw.text(
                    (x, top),
                    letter,
                    font=font,
                    fill=colour,
                    stroke_width=stroke,
                    stroke_fill=colour,
                    anchor="la",
                )
                x += font.getlength(letter) + extra
            top += line_height

    @staticmethod
    def _line_width(font: ImageFont.FreeTypeFont, line: str, extra: float) -> float:
        return sum(font.getlength(letter) for letter in line) + extra * max(0, len(line) - 1)

    # Shading ----------------------------------------------------------------------------

    def fold(self, points: Sequence[Point], width: float, depth: int) -> None:
        """Add a soft crease: a dark line (positive depth) or a highlight (negative depth)."""
        draw = ImageDraw.Draw(self.light)
        draw.line(
            self.px(points), fill=128 - depth, width=max(1, round(self.units(width))), joint="curve"
        )

    def finish(self, edge_darkening: float = 0.14, fold_blur: float = 9.0) -> None:
        """Multiply folds, edge falloff and a top-left key light into the garment colours."""
        light = np.asarray(
            self.light.filter(ImageFilter.GaussianBlur(self.units(fold_blur))), np.float32
        )
        light /= 128.0

        # Fabric turns away from the camera at the silhouette, so its edges read darker.
        inner = self.alpha.filter(ImageFilter.GaussianBlur(self.units(22)))
        inner_array = np.asarray(inner, np.float32) / 255.0
        light *= 1.0 - edge_darkening * (1.0 - inner_array)

        xs, ys = self.grid()
        light *= 1.04 - 0.06 * (xs / 1000.0) - 0.05 * (ys / self.design_height)

        colours = np.asarray(self.rgb, np.float32) * light[:, :, None]
        self.rgb = Image.fromarray(np.clip(colours + 0.5, 0, 255).astype(np.uint8), "RGB")

    # Output -----------------------------------------------------------------------------

    def garment(self) -> Image.Image:
        """Return the garment as an RGBA image at output size."""
        layer = self.rgb.copy()
        layer.putalpha(self.alpha)
        return layer.resize((self.width, self.height), Image.Resampling.LANCZOS)


# Fabric textures: each returns a full-size RGB image in the sketch's supersampled space.


def solid(sketch: Sketch, colour: Colour, grain: float = 3.0) -> Image.Image:
    """Make plain fabric with a faint grain, so large areas do not look like flat vector fill."""
    noise = sketch.rng.normal(0.0, grain, (sketch.size[1] // 2 + 1, sketch.size[0] // 2 + 1))
    noise = np.repeat(np.repeat(noise, 2, axis=0), 2, axis=1)[: sketch.size[1], : sketch.size[0]]
    array = np.asarray(colour, np.float32)[None, None, :] + noise[:, :, None].astype(np.float32)
    return Image.fromarray(np.clip(array, 0, 255).astype(np.uint8), "RGB")


def _blurred_noise(noise: np.ndarray, blur: ImageFilter.Filter) -> np.ndarray:
    """Blur zero-centred noise through an 8-bit image, since Pillow blurs only 8-bit modes."""
    image = Image.fromarray(np.clip(noise + 128.0, 0, 255).astype(np.uint8), "L")
    return np.asarray(image.filter(blur), np.float32) - 128.0


def heather(sketch: Sketch, colour: Colour, spread: float = 22.0) -> Image.Image:
    """Make mélange jersey: fibres of lighter and darker yarn streaked along the knit rows."""
    height, width = sketch.size[1], sketch.size[0]
    fibres = sketch.rng.normal(0.0, spread, (height, width // 6 + 1)).astype(np.float32)
    fibres = np.repeat(fibres, 6, axis=1)[:, :width]
    fibres = _blurred_noise(fibres, ImageFilter.BoxBlur(1))
    array = np.asarray(colour, np.float32)[None, None, :] + fibres[:, :, None]
    return Image.fromarray(np.clip(array, 0, 255).astype(np.uint8), "RGB")


def stripes(
    sketch: Sketch,
    ground: Colour,
    stripe: Colour,
    period: float,
    stripe_width: float,
    angle: float = 0.0,
    origin: Point = (0.0, 0.0),
    start: float | None = None,
) -> Image.Image:
    """Make parallel stripes across the direction at `angle` degrees from vertical.

    `angle` 0 gives horizontal stripes. `start` leaves the fabric plain before that distance
    along the stripe direction (a Breton top's plain yoke).
    """
    xs, ys = sketch.grid()
    theta = math.radians(angle)
    along = (xs - origin[0]) * math.sin(theta) + (ys - origin[1]) * math.cos(theta)
    band = np.mod(along, period) < stripe_width
    if start is not None:
        band &= along >= start
    array = np.where(band[:, :, None], np.asarray(stripe, np.uint8), np.asarray(ground, np.uint8))
    return Image.fromarray(array.astype(np.uint8), "RGB")


def gingham(
    sketch: Sketch, ground: Colour, colour: Colour, check: float, angle: float = 0.0
) -> Image.Image:
    """Make gingham: crossing bands of one colour, half strength alone, full where they cross."""
    xs, ys = sketch.grid()
    theta = math.radians(angle)
    u = xs * math.cos(theta) - ys * math.sin(theta)
    v = xs * math.sin(theta) + ys * math.cos(theta)
    across = (np.mod(u, 2 * check) < check).astype(np.float32)
    down = (np.mod(v, 2 * check) < check).astype(np.float32)
    strength = (across + down) / 2.0
    ground_array = np.asarray(ground, np.float32)
    colour_array = np.asarray(colour, np.float32)
    mix = ground_array + (colour_array - ground_array) * (strength[:, :, None] * 0.98)
    return Image.fromarray(np.clip(mix + 0.5, 0, 255).astype(np.uint8), "RGB")


def dots(
    sketch: Sketch,
    ground: Colour,
    dot: Colour,
    spacing: float,
    radius: float,
    offset: Point = (0.0, 0.0),
) -> Image.Image:
    """Make polka dots on a staggered grid (every other row shifted by half a spacing).

    `offset` moves the grid, so a separately cut piece does not line up with the body.
    """
    xs, ys = sketch.grid()
    xs = xs - offset[0]
    ys = ys - offset[1]
    row = np.floor(ys / spacing)
    shifted = xs + (np.mod(row, 2) * spacing / 2)
    dx = np.mod(shifted, spacing) - spacing / 2
    dy = np.mod(ys, spacing) - spacing / 2
    inside = (dx * dx + dy * dy) <= radius * radius
    array = np.where(inside[:, :, None], np.asarray(dot, np.uint8), np.asarray(ground, np.uint8))
    return Image.fromarray(array.astype(np.uint8), "RGB")


def denim(sketch: Sketch, colour: Colour) -> Image.Image:
    """Make indigo twill: fine diagonal wale lines, vertical slub streaks and a little grain."""
    xs, ys = sketch.grid()
    twill = np.sin((xs + ys) * (2 * math.pi / 5.0)).astype(np.float32) * 9.0
    height, width = sketch.size[1], sketch.size[0]
    slub = sketch.rng.normal(0.0, 10.0, (height // 40 + 1, width)).astype(np.float32)
    slub = np.repeat(slub, 40, axis=0)[:height]
    slub = _blurred_noise(slub, ImageFilter.GaussianBlur(6))
    grain = sketch.rng.normal(0.0, 5.0, (height, width)).astype(np.float32)
    array = np.asarray(colour, np.float32)[None, None, :] + (twill + slub + grain)[:, :, None]
    return Image.fromarray(np.clip(array, 0, 255).astype(np.uint8), "RGB")


def rib(sketch: Sketch, colour: Colour, period: float = 7.0, angle: float = 0.0) -> Image.Image:
    """Make rib knit: soft alternating wales, used for cuffs, neckbands and hems."""
    xs, ys = sketch.grid()
    theta = math.radians(angle)
    across = xs * math.cos(theta) - ys * math.sin(theta)
    wave = np.cos(across * (2 * math.pi / period)).astype(np.float32)
    array = np.asarray(colour, np.float32)[None, None, :] * (1.0 + 0.09 * wave[:, :, None])
    return Image.fromarray(np.clip(array, 0, 255).astype(np.uint8), "RGB")


# Studio composition.


def studio_photo(
    garment: Image.Image,
    background: Colour | None,
    shadow_offset: Point = (0.006, 0.012),
    shadow_strength: float = 0.26,
) -> Image.Image:
    """Place a garment on a studio background with a soft drop shadow.

    With `background` None the result is an RGBA cut-out whose shadow is semi-transparent
    black, as a retouched product PNG would ship. Offsets are fractions of the image width.
    """
    width, height = garment.size
    alpha = garment.getchannel("A")
    dx, dy = round(shadow_offset[0] * width), round(shadow_offset[1] * width)

    wide = Image.new("L", garment.size, 0)
    wide.paste(alpha, (dx, dy))
    wide = wide.filter(ImageFilter.GaussianBlur(width * 0.018))
    contact = Image.new("L", garment.size, 0)
    contact.paste(alpha, (dx // 3, dy // 3))
    contact = contact.filter(ImageFilter.GaussianBlur(width * 0.004))
    shadow = (
        np.asarray(wide, np.float32) * shadow_strength
        + np.asarray(contact, np.float32) * shadow_strength * 0.5
    ) / 255.0
    shadow = np.clip(shadow, 0.0, 1.0)

    garment_array = np.asarray(garment, np.float32)
    coverage = garment_array[:, :, 3:4] / 255.0

    if background is None:
        shadow_alpha = shadow[:, :, None] * (1.0 - coverage)
        out_alpha = coverage + shadow_alpha
        colour = garment_array[:, :, :3] * coverage / np.maximum(out_alpha, 1e-6)
        array = np.concatenate([colour, out_alpha * 255.0], axis=2)
        return Image.fromarray(np.clip(array + 0.5, 0, 255).astype(np.uint8), "RGBA")

    # A faint radial falloff keeps the studio sweep from looking like a flat fill.
    ys, xs = np.mgrid[0:height, 0:width].astype(np.float32)
    radius = np.hypot((xs - width / 2) / width, (ys - height * 0.45) / height)
    studio = (
        np.asarray(background, np.float32)[None, None, :] * (1.0 - 0.035 * radius**2)[:, :, None]
    )
    studio = studio * (1.0 - shadow[:, :, None])
    array = studio * (1.0 - coverage) + garment_array[:, :, :3] * coverage
    return Image.fromarray(np.clip(array + 0.5, 0, 255).astype(np.uint8), "RGB")
