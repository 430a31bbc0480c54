"""Page images sized to the model's image budget: never pay for pixels the API would throw away."""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path

from pipeline.errors import CorruptDocumentError

PIXELS_PER_TOKEN = 750


def image_tokens(width: int, height: int) -> int:
    """Anthropic's estimate of what an image costs: about width x height / 750 tokens."""
    return math.ceil(width * height / PIXELS_PER_TOKEN)


def fit_size(width: int, height: int, long_edge_px: int, max_pixels: int) -> tuple[int, int]:
    """The largest size with the same aspect ratio under both caps; never larger than the image."""
    scale = min(1.0, long_edge_px / max(width, height), math.sqrt(max_pixels / (width * height)))
    if scale >= 1.0:
        return width, height
    return max(1, math.floor(width * scale)), max(1, math.floor(height * scale))


@dataclass(frozen=True)
class BudgetImage:
    png: bytes
    width: int
    height: int
    source_width: int
    source_height: int

    @property
    def tokens(self) -> int:
        return image_tokens(self.width, self.height)

    @property
    def source_tokens(self) -> int:
        return image_tokens(self.source_width, self.source_height)


def load_for_budget(path: Path, long_edge_px: int, max_pixels: int) -> BudgetImage:
    """The page as grayscale PNG bytes, downscaled (area filter) to fit the image budget."""
    import cv2  # loaded only when a page goes to the model

    image = cv2.imread(str(path), cv2.IMREAD_GRAYSCALE)
    if image is None:
        raise CorruptDocumentError(f"The page image {path.name} could not be read for the model.")
    height, width = image.shape[:2]
    new_width, new_height = fit_size(width, height, long_edge_px, max_pixels)
    if (new_width, new_height) != (width, height):
        image = cv2.resize(image, (new_width, new_height), interpolation=cv2.INTER_AREA)
    ok, encoded = cv2.imencode(".png", image, [cv2.IMWRITE_PNG_COMPRESSION, 6])
    if not ok:
        raise CorruptDocumentError(f"The page image {path.name} could not be encoded for the model.")
    return BudgetImage(encoded.tobytes(), new_width, new_height, width, height)
