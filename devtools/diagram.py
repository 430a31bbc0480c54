"""The reliability diagram: measured accuracy per confidence bin, drawn as a PNG (Pillow only)."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from PIL import Image, ImageDraw, ImageFont

from devtools.evaluate import expected_calibration_error, reliability_bins


def _font(size: int) -> ImageFont.FreeTypeFont | ImageFont.ImageFont:
    try:
        return ImageFont.load_default(size=size)
    except TypeError:  # Pillow < 10.1 has only the fixed-size bitmap font
        return ImageFont.load_default()


def write_reliability_diagram(
    pairs: Sequence[tuple[float, bool]], path: Path, bins: int = 10, title: str = "Reliability diagram"
) -> Path:
    """A PNG of measured accuracy per confidence bin (bars, count above each) against the diagonal."""
    width, height = 760, 600
    left, right, top, bottom = 80, 30, 70, 80
    plot_w, plot_h = width - left - right, height - top - bottom
    image = Image.new("RGB", (width, height), "white")
    draw = ImageDraw.Draw(image)
    small, normal = _font(13), _font(16)

    def to_xy(x: float, y: float) -> tuple[float, float]:
        return left + x * plot_w, top + (1 - y) * plot_h

    for step in range(6):
        value = step / 5
        x, y = to_xy(value, value)
        draw.line([to_xy(0, value), to_xy(1, value)], fill=(225, 225, 225))
        draw.text((left - 10, y), f"{value:.1f}", fill="black", font=small, anchor="rm")
        draw.text((x, top + plot_h + 10), f"{value:.1f}", fill="black", font=small, anchor="mt")

    items = reliability_bins(pairs, bins)
    for item in items:
        if not item.count:
            continue
        x0, y0 = to_xy(item.lower, item.accuracy)
        x1, y1 = to_xy(item.upper, 0)
        draw.rectangle([x0 + 2, y0, x1 - 2, y1], fill=(70, 130, 200), outline=(30, 60, 120))
        # A full bar leaves no room above it inside the frame, so its count goes inside the bar.
        if y0 - top < 18:
            draw.text(((x0 + x1) / 2, y0 + 4), f"n={item.count}", fill="white", font=small, anchor="mt")
        else:
            draw.text(((x0 + x1) / 2, y0 - 4), f"n={item.count}", fill="black", font=small, anchor="mb")
        # The bin's mean confidence on the accuracy scale: where a calibrated bar's top would be.
        mx, my = to_xy(item.mean_confidence, item.mean_confidence)
        draw.ellipse([mx - 3, my - 3, mx + 3, my + 3], outline=(200, 40, 40))

    draw.line([to_xy(0, 0), to_xy(1, 1)], fill=(200, 40, 40), width=2)
    draw.rectangle([left, top, left + plot_w, top + plot_h], outline="black")
    ece = expected_calibration_error(pairs, bins)
    draw.text((width / 2, 15), title, fill="black", font=normal, anchor="mt")
    draw.text(
        (width / 2, 40),
        f"{len(pairs)} documents, {bins} bins, expected calibration error {ece:.3f}; red line: perfect calibration",
        fill="black",
        font=small,
        anchor="mt",
    )
    draw.text((left + plot_w / 2, height - 30), "record confidence", fill="black", font=normal, anchor="mt")
    label = Image.new("RGB", (260, 24), "white")
    ImageDraw.Draw(label).text((130, 12), "share with all header fields right", fill="black", font=small, anchor="mm")
    rotated = label.rotate(90, expand=True)
    image.paste(rotated, (8, top + plot_h // 2 - rotated.height // 2))

    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    image.save(path, format="PNG")
    return path
