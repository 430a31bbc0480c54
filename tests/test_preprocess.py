"""OpenCV preprocessing on a real rendered page: deskew, contrast, resolution guard, then real Tesseract."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest
from pdf2image import convert_from_path

from pipeline.errors import ImageTooSmallError
from pipeline.ocr import ocr_page
from pipeline.preprocess import (
    PreprocessOptions,
    _RowProfiles,
    check_resolution,
    contrast_range,
    estimate_noise_sigma,
    estimate_skew,
    preprocess_page,
    write_page,
)
from tests.conftest import BENCHMARKS


@pytest.fixture(scope="module")
def page_image(tmp_path_factory: pytest.TempPathFactory) -> np.ndarray:
    from tests.conftest import SIMPLE_INVOICE, make_invoice_pdf

    folder = tmp_path_factory.mktemp("page")
    pdf = make_invoice_pdf(folder / "page.pdf", SIMPLE_INVOICE)
    image = convert_from_path(str(pdf), dpi=200, grayscale=True)[0]
    return np.array(image)


def rotate(image: np.ndarray, degrees: float) -> np.ndarray:
    height, width = image.shape
    matrix = cv2.getRotationMatrix2D((width / 2, height / 2), degrees, 1.0)
    return cv2.warpAffine(image, matrix, (width, height), borderValue=255)


@pytest.mark.parametrize("degrees", [-2.5, -1.0, 0.0, 1.5, 3.0])
def test_estimate_skew_recovers_rotation(page_image: np.ndarray, degrees: float) -> None:
    assert estimate_skew(rotate(page_image, degrees)) == pytest.approx(-degrees, abs=0.2)


def reference_skew(image: np.ndarray, max_degrees: float = 5.0) -> float:
    """The skew search rotating every fine candidate: what estimate_skew's shortlist must pick the same as."""
    profiles = _RowProfiles(
        cv2.threshold(_skew_sample_image(image), 0, 255, cv2.THRESH_BINARY_INV + cv2.THRESH_OTSU)[1]
    )
    best = float(max(np.arange(-max_degrees, max_degrees + 0.25, 0.5), key=profiles.projected))
    for step, span in ((0.1, 0.5), (0.025, 0.1)):
        best = float(max(np.arange(best - span, best + span + step / 2, step), key=profiles.rotated))
    return round(best, 3)


def _skew_sample_image(image: np.ndarray) -> np.ndarray:
    scale = 1000.0 / max(image.shape[:2])
    return cv2.resize(image, None, fx=scale, fy=scale, interpolation=cv2.INTER_AREA) if scale < 1 else image


@pytest.mark.parametrize("degrees", [-2.7, -0.9, -0.3, -0.15, 0.0, 0.1, 0.2, 0.45, 1.3, 2.2])
def test_estimate_skew_picks_what_rotating_every_candidate_picks(page_image: np.ndarray, degrees: float) -> None:
    rng = np.random.default_rng(int(degrees * 100) + 300)
    noisy = np.clip(rotate(page_image, degrees) + rng.normal(0, 12, page_image.shape), 0, 255).astype(np.uint8)
    for image in (rotate(page_image, degrees), noisy):
        assert estimate_skew(image) == reference_skew(image)


RECEIPTS = BENCHMARKS / "sroie"


@pytest.mark.skipif(not RECEIPTS.is_dir(), reason="real-invoice benchmark corpus not present")
@pytest.mark.parametrize("name", ["X51006556810", "X51006828201", "X51006334927"])
def test_estimate_skew_on_receipts_picks_what_rotating_every_candidate_picks(name: str) -> None:
    # On these receipts rotations and projections rank the fine candidates differently (on the first, the
    # sharpest projection alone would give 0 degrees instead of 0.35).
    image = cv2.imread(str(RECEIPTS / f"{name}.jpg"), cv2.IMREAD_GRAYSCALE)
    assert estimate_skew(image) == reference_skew(image)


def test_noise_and_contrast_measures_separate_clean_from_degraded(page_image: np.ndarray) -> None:
    rng = np.random.default_rng(3)
    noisy = np.clip(page_image + rng.normal(0, 20, page_image.shape), 0, 255).astype(np.uint8)
    faint = (page_image.astype(np.float32) * 0.3 + 150).astype(np.uint8)
    assert estimate_noise_sigma(noisy) > 3 * estimate_noise_sigma(page_image)
    assert contrast_range(faint) < 100 < contrast_range(page_image)


def test_resolution_guard_refuses_tiny_images() -> None:
    with pytest.raises(ImageTooSmallError, match="too small"):
        check_resolution(np.full((40, 60), 255, dtype=np.uint8), 300)


def test_preprocess_then_ocr_reads_a_skewed_faint_scan(page_image: np.ndarray, tmp_path: Path) -> None:
    degraded = (rotate(page_image, 2.0).astype(np.float32) * 0.35 + 140).astype(np.uint8)
    source = tmp_path / "scan.png"
    cv2.imwrite(str(source), degraded)
    report = preprocess_page(source, tmp_path / "clean.png", PreprocessOptions())
    assert report.skew_degrees == pytest.approx(-2.0, abs=0.2)
    assert "background normalise" in report.steps
    page = ocr_page(Path(report.image_path), 1)
    text = " ".join(word.text for word in page.words)
    assert "INV-2024-0042" in text
    assert "$1,573.55" in text
    assert all(0 <= word.confidence <= 1 for word in page.words)


def test_clean_page_is_left_alone(page_image: np.ndarray, tmp_path: Path) -> None:
    source = tmp_path / "clean-source.png"
    cv2.imwrite(str(source), page_image)
    report = preprocess_page(source, tmp_path / "out.png", PreprocessOptions(target_short_side_px=1654))
    assert report.steps == ["grayscale"]
    assert report.skew_degrees == pytest.approx(0.0, abs=0.1)


def test_no_target_reads_each_scan_at_its_own_size(page_image: np.ndarray, tmp_path: Path) -> None:
    # A 1000-px page is far from the default 2400-px target: grown with a target, kept without one.
    small = cv2.resize(page_image, None, fx=1000 / min(page_image.shape[:2]), fy=1000 / min(page_image.shape[:2]))
    source = tmp_path / "small.png"
    cv2.imwrite(str(source), small)
    grown = preprocess_page(source, tmp_path / "grown.png", PreprocessOptions())
    kept = preprocess_page(source, tmp_path / "kept.png", PreprocessOptions(target_short_side_px=0))
    assert grown.scale == pytest.approx(2.4, abs=0.01) and grown.width_px > small.shape[1] * 2
    assert kept.scale == 1.0 and (kept.width_px, kept.height_px) == (small.shape[1], small.shape[0])


def test_dot_leaders_are_erased_but_decimal_points_stay(tmp_path: Path) -> None:
    from pipeline.preprocess import remove_dot_leaders
    from tests.conftest import make_invoice_pdf

    lines = [(60, 100, "Subtotal " + "." * 60 + " 1,824.84"), (60, 130, "Tax " + "." * 70 + " 152.07")]
    pdf = make_invoice_pdf(tmp_path / "leaders.pdf", lines)
    image = np.array(convert_from_path(str(pdf), dpi=300, grayscale=True)[0])
    cleaned, removed = remove_dot_leaders(image)
    assert removed >= 100  # about 130 dots drawn
    target = tmp_path / "cleaned.png"
    cv2.imwrite(str(target), cleaned)
    text = " ".join(word.text for word in ocr_page(target, 1).words)
    assert "1,824.84" in text and "152.07" in text
    assert "...." not in text


def test_table_rules_are_erased_and_the_boxed_header_reads(tmp_path: Path) -> None:
    from pipeline.preprocess import remove_rules
    from tests.conftest import make_invoice_pdf

    lines = [(70, 120, "Item #"), (200, 120, "Quantity"), (300, 120, "Description"), (470, 120, "Amount"),
             (70, 145, "SRV-8123"), (230, 145, "1"), (300, 145, "Consulting"), (470, 145, "125.00")]  # fmt: skip
    pdf = make_invoice_pdf(tmp_path / "ruled.pdf", lines)
    image = np.array(convert_from_path(str(pdf), dpi=300, grayscale=True)[0])
    top, bottom, left, right = 450, 640, 250, 2150  # a grid around both rows, in 300-dpi pixels
    for y in (top, 530, bottom):
        image[y : y + 5, left:right] = 0
    for x in (left, 800, 1200, 1900, right):
        image[top : bottom + 5, x : x + 5] = 0
    cleaned, removed = remove_rules(image)
    assert removed >= 1
    assert cleaned[top + 2, (left + right) // 2] > 200  # the rule is paper now
    target = tmp_path / "cleaned.png"
    cv2.imwrite(str(target), cleaned)
    text = " ".join(word.text for word in ocr_page(target, 1).words)
    for word in ("Quantity", "Description", "Amount", "SRV-8123", "125.00"):
        assert word in text


def _dots_in_rows_one_by_one(points: np.ndarray) -> np.ndarray:
    """The rule as it reads: a dot with at least four others within -3..+3 px of its baseline and 60 px."""
    chosen = np.zeros(len(points), dtype=bool)
    for index, (x, y) in enumerate(points):
        same_line = (points[:, 1] >= y - 3) & (points[:, 1] < y + 3) & (np.abs(points[:, 0] - x) < 60)
        chosen[index] = np.count_nonzero(same_line) - 1 >= 4
    return chosen


@pytest.mark.parametrize("max_pairs", [1 << 20, 64, 1])
def test_dot_rows_found_all_at_once_match_the_rule_dot_by_dot(max_pairs: int) -> None:
    from pipeline.preprocess import _dots_in_rows

    rng = np.random.default_rng(12)
    leader_row = np.c_[np.arange(100, 400, 20), np.full(15, 50.0)]  # 15 dots 20 px apart: a leader
    scattered = np.c_[rng.uniform(0, 2000, 1500), np.round(rng.uniform(0, 400, 1500), 1)]
    lone_point = np.array([[1500.0, 45.0]])  # a decimal point on the leader's baseline, far from it
    points = np.vstack([leader_row, scattered, lone_point])
    chosen = _dots_in_rows(points, max_pairs)
    assert chosen[:15].all() and not chosen[-1]
    assert np.array_equal(chosen, _dots_in_rows_one_by_one(points))


def test_a_page_without_rules_comes_back_untouched() -> None:
    from pipeline.preprocess import remove_rules

    page = np.full((600, 500), 245, dtype=np.uint8)
    for left in range(50, 450, 14):  # a row of letter-sized marks: no run reaches 1/25 of the width
        page[100:112, left : left + 9] = 20
    cleaned, removed = remove_rules(page)
    assert removed == 0 and cleaned is page


def test_noise_estimate_equals_immerkaers_formula(page_image: np.ndarray) -> None:
    rng = np.random.default_rng(5)
    noisy = np.clip(page_image + rng.normal(0, 12, page_image.shape), 0, 255).astype(np.uint8)
    pixels = noisy.astype(np.float64)
    height, width = pixels.shape
    response = (
        pixels[:-2, :-2] - 2 * pixels[:-2, 1:-1] + pixels[:-2, 2:]
        - 2 * pixels[1:-1, :-2] + 4 * pixels[1:-1, 1:-1] - 2 * pixels[1:-1, 2:]
        + pixels[2:, :-2] - 2 * pixels[2:, 1:-1] + pixels[2:, 2:]
    )  # fmt: skip
    expected = np.abs(response).sum() * np.sqrt(0.5 * np.pi) / (6.0 * (width - 2) * (height - 2))
    assert estimate_noise_sigma(noisy, band_rows=97) == pytest.approx(expected, rel=1e-12)


@pytest.mark.parametrize(("axis", "length"), [(1, 96), (0, 85), (1, 37), (0, 22)])
def test_long_runs_found_line_by_line_equal_the_opening_of_the_whole_page(axis: int, length: int) -> None:
    """Runs exactly at the length, one pixel short, at odd offsets and against the page's edges (in the
    part the 8-pixel blocks leave over): the same pixels as the morphological opening of the whole page."""
    from pipeline.preprocess import _line_runs

    rng = np.random.default_rng(31)
    ink = np.where(rng.random((1203, 1005)) < 0.3, 255, 0).astype(np.uint8)  # speckle: short runs only
    starts = [0, 3, 7, 9, 301, 1005 - length, 1005 - length - 3]
    for row, start in enumerate(starts):
        ink[40 + 9 * row, start : start + length] = 255  # a run just long enough
        ink[41 + 9 * row, start : start + length - 1] = 255  # one pixel short
        ink[600 + 9 * row, start : start + length] = 255 if row % 2 else 0
    ink[-1, -length:] = 255
    if axis == 0:
        ink = np.ascontiguousarray(ink.T)
    kernel = cv2.getStructuringElement(cv2.MORPH_RECT, (length, 1) if axis == 1 else (1, length))
    expected = cv2.morphologyEx(ink, cv2.MORPH_OPEN, kernel)
    assert cv2.countNonZero(expected) >= len(starts) * length
    assert np.array_equal(_line_runs(ink, length, axis), expected)


def _pages_and_variants(page_image: np.ndarray) -> list[np.ndarray]:
    """A real rendered page as scanned, noisy, faint, background-normalised and cut small, and speckles."""
    rng = np.random.default_rng(41)
    noisy = np.clip(page_image + rng.normal(0, 18, page_image.shape), 0, 255).astype(np.uint8)
    faint = (page_image.astype(np.float32) * 0.3 + 150).astype(np.uint8)
    from pipeline.preprocess import normalise_background

    small = [rng.integers(0, 256, size=(int(rng.integers(1, 40)), int(rng.integers(1, 40))), dtype=np.uint8)
             for _ in range(60)]  # fmt: skip
    few_levels = [(image // 37 * 37).astype(np.uint8) for image in small[:20]]
    return [page_image, noisy, faint, normalise_background(noisy), page_image[::7, ::5].copy(), *small, *few_levels]


def test_otsu_level_from_the_histogram_is_opencvs(page_image: np.ndarray) -> None:
    from pipeline.preprocess import gray_histogram, ink_of, otsu_level

    for image in _pages_and_variants(page_image):
        level, ink = cv2.threshold(image, 0, 255, cv2.THRESH_BINARY_INV + cv2.THRESH_OTSU)
        assert otsu_level(gray_histogram(image)) == int(level)
        assert np.array_equal(ink_of(image, gray_histogram(image)), ink)


def test_the_histogram_after_erasing_leader_dots_is_the_cleaned_pages(tmp_path: Path) -> None:
    from pipeline.preprocess import erase_dot_leaders, gray_histogram, remove_dot_leaders
    from tests.conftest import make_invoice_pdf

    pdf = make_invoice_pdf(tmp_path / "leaders.pdf", [(60, 100, "Total " + "." * 60 + " 12.00")])
    image = np.array(convert_from_path(str(pdf), dpi=300, grayscale=True)[0])
    image = np.clip(image + np.random.default_rng(2).normal(0, 6, image.shape), 0, 255).astype(np.uint8)
    cleaned, removed, histogram = erase_dot_leaders(image, gray_histogram(image))
    assert removed >= 50
    assert np.array_equal(histogram, gray_histogram(cleaned))
    assert np.array_equal(remove_dot_leaders(image)[0], cleaned)


@pytest.mark.parametrize("shape", [(7, 5), (3392, 2400)])
def test_cleaned_page_is_written_as_opencv_writes_it(tmp_path: Path, shape: tuple[int, int]) -> None:
    page = np.random.default_rng(3).integers(0, 256, size=shape, dtype=np.uint8)
    write_page(page, tmp_path / "ours" / "page.pgm")
    cv2.imwrite(str(tmp_path / "opencv.pgm"), page)
    assert (tmp_path / "ours" / "page.pgm").read_bytes() == (tmp_path / "opencv.pgm").read_bytes()
    view = page[:, 1:]  # not contiguous: written as its pixels all the same
    write_page(view, tmp_path / "view.pgm")
    assert np.array_equal(cv2.imread(str(tmp_path / "view.pgm"), cv2.IMREAD_UNCHANGED), view)
    write_page(page, tmp_path / "page.png")  # another format by name: OpenCV encodes it
    assert np.array_equal(cv2.imread(str(tmp_path / "page.png"), cv2.IMREAD_UNCHANGED), page)


def _components_as_rows(stats: np.ndarray, centroids: np.ndarray) -> np.ndarray:
    """Every component but the background as (stats, centroid), in one order whatever the labels' order."""
    rows = np.column_stack([stats[1:].astype(np.float64), centroids[1:]])
    return rows[np.lexsort(rows.T[::-1])]


def test_the_squeezed_pages_components_are_the_pages(page_image: np.ndarray) -> None:
    from pipeline.preprocess import LABELLING, _page_centroids, _squeezed, gray_histogram, ink_of

    rng = np.random.default_rng(5)
    speckled = np.where(rng.random(page_image.shape) < 0.002, 0, page_image).astype(np.uint8)
    for image in [speckled, *_pages_and_variants(page_image)]:
        ink = ink_of(image, gray_histogram(image))
        squeezed, rows, cols = _squeezed(ink)
        count, _, stats, centroids = cv2.connectedComponentsWithStatsWithAlgorithm(ink, 8, cv2.CV_32S, LABELLING)
        found = cv2.connectedComponentsWithStatsWithAlgorithm(squeezed, 8, cv2.CV_32S, LABELLING)
        assert found[0] == count
        moved = found[2].copy()
        moved[:, cv2.CC_STAT_LEFT], moved[:, cv2.CC_STAT_TOP] = cols[moved[:, 0]], rows[moved[:, 1]]
        on_page = np.vstack([found[3][:1], _page_centroids(found[2][1:], found[3][1:], rows, cols)])
        assert np.array_equal(_components_as_rows(moved, on_page), _components_as_rows(stats, centroids))
        assert squeezed.size <= ink.size


def test_the_lifted_pages_histogram_is_counted_from_the_flattened_ones(page_image: np.ndarray) -> None:
    from pipeline.preprocess import gray_histogram, lift_background, normalise_background

    for image in _pages_and_variants(page_image)[:24]:
        lifted, histogram = lift_background(image)
        assert np.array_equal(histogram, gray_histogram(lifted))
        assert np.array_equal(normalise_background(image), lifted)


def test_small_blobs_found_band_by_band_are_the_pages_small_components(page_image: np.ndarray) -> None:
    from pipeline.preprocess import LABELLING, _small_blobs, gray_histogram, ink_of

    rng = np.random.default_rng(6)
    speckled = np.where(rng.random(page_image.shape) < 0.002, 0, page_image).astype(np.uint8)
    for image in [speckled, *_pages_and_variants(page_image)]:
        ink = ink_of(image, gray_histogram(image))
        _, labels, stats, centroids = cv2.connectedComponentsWithStatsWithAlgorithm(ink, 8, cv2.CV_32S, LABELLING)
        widths, heights, areas = stats[:, 2], stats[:, 3], stats[:, 4]
        small = (widths <= 12) & (heights <= 12) & (areas >= 4) & (np.abs(widths - heights) <= 4)
        small[0] = False
        band_labels, blobs, found = _small_blobs(ink)
        expected = np.column_stack([stats[small, :4], centroids[small]])
        rows = np.column_stack([blobs[:, 4:8], found])
        assert np.array_equal(rows[np.lexsort(rows.T[::-1])], expected[np.lexsort(expected.T[::-1])])
        for band, label, left, top, page_left, page_top, width, height in blobs.tolist():  # the blob's pixels
            mine = band_labels[band][top : top + height, left : left + width] == label
            page = labels[page_top : page_top + height, page_left : page_left + width]
            assert np.array_equal(mine, page == page[mine][0])


def test_vertical_runs_in_many_columns_equal_the_opening_of_the_whole_page() -> None:
    """A page where most columns may hold a rule (a photo, a dark receipt): opened on the transposed page."""
    from pipeline.preprocess import _line_runs

    rng = np.random.default_rng(32)
    ink = np.where(rng.random((1500, 800)) < 0.3, 255, 0).astype(np.uint8)
    ink[:, ::2] = np.where(rng.random((1500, 400)) < 0.995, 255, 0).astype(np.uint8)  # long broken bars
    ink[:37, 1::2] = 255  # runs just long enough along the top edge, between the bars
    expected = cv2.morphologyEx(ink, cv2.MORPH_OPEN, cv2.getStructuringElement(cv2.MORPH_RECT, (1, 37)))
    assert cv2.countNonZero(expected) > 400 * 37
    assert np.array_equal(_line_runs(ink, 37, 0), expected)


def test_a_turn_by_zero_moves_no_pixel(page_image: np.ndarray) -> None:
    """The skew search's rotated profile at 0 degrees (to six places, as its candidates are keyed) is read off
    the ink unrotated: warpAffine by such an angle gives back every pixel as it was."""
    from pipeline.preprocess import _rotate, gray_histogram, ink_of

    zeros = [0.0, -0.0, float(np.arange(-0.5, 0.55, 0.1)[5]), float(np.arange(-0.1, 0.1125, 0.025)[4]), 4e-7]
    for image in _pages_and_variants(page_image)[:30]:
        ink = ink_of(image, gray_histogram(image))
        for degrees in zeros:
            assert round(degrees, 6) == 0
            assert np.array_equal(_rotate(ink, degrees, 0), ink)
            assert np.array_equal(_rotate(image, degrees, 255), image)
    profiles = _RowProfiles(ink_of(page_image, gray_histogram(page_image)))
    rows = cv2.reduce(_rotate(profiles.ink, 1e-9, 0), 1, cv2.REDUCE_SUM, dtype=cv2.CV_32S).ravel()
    assert profiles.rotated(0.0) == float(np.square(np.diff(rows.astype(np.float64))).sum())


def test_projections_inside_the_page_equal_the_floored_and_filtered_ones(page_image: np.ndarray) -> None:
    """Where every rotated ink row is inside the page the projection truncates and drops nothing: the same
    profile as flooring each row and dropping those off the page, on pages whose ink reaches the edges too."""
    from pipeline.preprocess import gray_histogram, ink_of

    edged = page_image.copy()
    edged[0, 0] = edged[-1, -1] = 0  # ink in the corners: some rotations take it off the page
    used = 0
    for image in (page_image, edged, page_image[::7, ::5].copy()):
        profiles = _RowProfiles(ink_of(image, gray_histogram(image)))
        height = profiles.height
        for radians in np.deg2rad(np.arange(-5.0, 5.01, 0.1)):
            rows = profiles.ys * np.cos(radians) - profiles.xs * np.sin(radians) + height / 2.0
            below = np.floor(rows)
            share = rows - below
            inside = (below >= 0) & (below < height - 1)
            below, share = below[inside].astype(np.int64), share[inside]
            expected = np.bincount(below, weights=1.0 - share, minlength=height)
            expected[1:] += np.bincount(below, weights=share, minlength=height)[: height - 1]
            assert np.array_equal(profiles._projection(radians), expected)
            used += profiles._within(np.cos(radians), np.sin(radians))
    assert 0 < used < 3 * 101


def test_cleaning_in_place_gives_the_copys_pixels(page_image: np.ndarray) -> None:
    from pipeline.preprocess import erase_dot_leaders, gray_histogram, remove_rules

    page = page_image.copy()
    page[300:304, 100:-100] = 0  # a rule
    for left in range(200, 1000, 12):  # a row of dots: a leader
        page[400:403, left : left + 3] = 0
    histogram = gray_histogram(page)
    kept, count, after = erase_dot_leaders(page, histogram)
    ruled, rules = remove_rules(kept)
    assert count >= 40 and rules >= 1 and not np.array_equal(ruled, page)
    scratch = page.copy()
    erased, count_in_place, after_in_place = erase_dot_leaders(scratch, histogram, in_place=True)
    assert erased is scratch and count_in_place == count and np.array_equal(after_in_place, after)
    cleaned, rules_in_place = remove_rules(erased, in_place=True)
    assert cleaned is scratch and rules_in_place == rules and np.array_equal(cleaned, ruled)


@pytest.mark.parametrize("runs", [3, 400])
def test_columns_gathered_as_slices_or_at_once_are_the_columns(runs: int) -> None:
    from pipeline.preprocess import _columns

    rng = np.random.default_rng(runs)
    lines = rng.integers(0, 256, size=(37, 2000), dtype=np.uint8)
    cols = np.unique(np.concatenate([np.arange(start, start + 3) for start in rng.choice(1995, runs)]))
    gathered = _columns(lines, cols)
    assert gathered.flags["C_CONTIGUOUS"] and np.array_equal(gathered, lines[:, cols])


def test_row_profiles_take_the_ink_pixels_in_nonzeros_order(page_image: np.ndarray) -> None:
    from pipeline.preprocess import gray_histogram, ink_of

    inks = [ink_of(image, gray_histogram(image)) for image in [page_image, *_pages_and_variants(page_image)[:10]]]
    for ink in [*inks, np.zeros((40, 30), dtype=np.uint8)]:  # and a page without ink
        profiles = _RowProfiles(ink)
        ys, xs = np.nonzero(ink)
        assert np.array_equal(profiles.xs, xs - ink.shape[1] / 2.0)
        assert np.array_equal(profiles.ys, ys - ink.shape[0] / 2.0)
    assert _RowProfiles(np.zeros((40, 30), dtype=np.uint8)).projected(1.0) == 0.0


def test_the_bounding_box_is_opencvs() -> None:
    from pipeline.preprocess import _bounding_box

    rng = np.random.default_rng(77)
    for _ in range(300):
        height, width = int(rng.integers(1, 90)), int(rng.integers(1, 90))
        mask = np.where(rng.random((height, width)) < rng.choice([0.0, 0.001, 0.02, 0.5]), 255, 0).astype(np.uint8)
        assert _bounding_box(mask) == tuple(cv2.boundingRect(mask))
