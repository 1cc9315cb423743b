"""The skill's icons: 108x108 and 512x512 PNG, from a directory or drawn here with Pillow."""
from __future__ import annotations

import io
import math
from pathlib import Path

from PIL import Image, ImageDraw, UnidentifiedImageError

SIZES = (108, 512)
BACKGROUND = (18, 122, 104)  # a deep teal
FOREGROUND = (255, 255, 255)


class IconError(ValueError):
    """The icons given cannot be used; the message says why, naming the file."""


def png_size(content: bytes) -> tuple[int, int] | None:
    """(width, height) of a PNG, or None when the bytes are not a PNG."""
    try:
        with Image.open(io.BytesIO(content)) as image:
            return image.size if image.format == "PNG" else None
    except (UnidentifiedImageError, OSError):
        return None


def _png(image: Image.Image) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, format="PNG", optimize=True)
    return buffer.getvalue()


def draw_icon(size: int) -> bytes:
    """A circular "refill" arrow around a dot, white on teal; drawn at 4x and scaled down for smooth edges."""
    scale = 4
    side = size * scale
    image = Image.new("RGB", (side, side), BACKGROUND)
    draw = ImageDraw.Draw(image)
    centre = side / 2
    radius = side * 0.30
    width = max(int(side * 0.075), 1)
    box = (centre - radius, centre - radius, centre + radius, centre + radius)
    draw.arc(box, start=-60, end=250, fill=FOREGROUND, width=width)
    # Arrow head at the arc's open end (angle -60 degrees), pointing along the direction of travel.
    angle = math.radians(-60)
    tip_r = radius - width / 2
    x, y = centre + tip_r * math.cos(angle), centre + tip_r * math.sin(angle)
    head = side * 0.12
    tangent = angle - math.pi / 2  # the arc runs clockwise from 250 back round to -60
    points = [
        (x + head * math.cos(tangent), y + head * math.sin(tangent)),
        (x + head * 0.9 * math.cos(angle), y + head * 0.9 * math.sin(angle)),
        (x - head * 0.9 * math.cos(angle), y - head * 0.9 * math.sin(angle)),
    ]
    draw.polygon(points, fill=FOREGROUND)
    dot = side * 0.09
    draw.ellipse((centre - dot, centre - dot, centre + dot, centre + dot), fill=FOREGROUND)
    return _png(image.resize((size, size), Image.Resampling.LANCZOS))


def generated_icons() -> dict[int, bytes]:
    return {size: draw_icon(size) for size in SIZES}


def icons_from(directory: str | Path) -> dict[int, bytes]:
    """The 108x108 and 512x512 PNGs in ``directory``, found by their size, not their names.

    Without a 108x108 PNG the 512x512 one is scaled down. Anything else is an ``IconError``.
    """
    directory = Path(directory)
    if not directory.is_dir():
        raise IconError(f"{directory} is not a directory")
    found: dict[int, bytes] = {}
    wrong: list[str] = []
    for path in sorted(directory.iterdir()):
        if not path.is_file() or path.suffix.lower() != ".png":
            continue
        content = path.read_bytes()
        dimensions = png_size(content)
        if dimensions is None:
            wrong.append(f"{path.name} is not a PNG")
        elif dimensions[0] == dimensions[1] and dimensions[0] in SIZES:
            found.setdefault(dimensions[0], content)
        else:
            wrong.append(f"{path.name} is {dimensions[0]}x{dimensions[1]}")
    if 512 not in found:
        detail = f" ({'; '.join(wrong)})" if wrong else ""
        raise IconError(f"{directory} has no 512x512 PNG{detail}; Alexa needs a 108x108 and a 512x512 PNG icon")
    if 108 not in found:
        with Image.open(io.BytesIO(found[512])) as large:
            found[108] = _png(large.convert("RGBA" if "A" in large.getbands() else "RGB")
                              .resize((108, 108), Image.Resampling.LANCZOS))
    return found
