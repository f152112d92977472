"""Integer image operations shared by the cell finder.

Every step here has a line-for-line twin in `pwa/js/classifier/cells/image-ops.js`. They work
on integers (or on floats only through correctly rounded single operations) so that Python and
the browser reach the same boxes: numpy's pairwise float sums would not match a JS loop.
"""

import numpy as np
from scipy import ndimage

EIGHT_CONNECTED = np.ones((3, 3), dtype=bool)
FOUR_CONNECTED = ndimage.generate_binary_structure(2, 1)


def block_mean(rgb: np.ndarray, factor: int) -> np.ndarray:
    """Shrink an (H, W, 3) uint8 image by an integer factor: floor of each block's mean."""
    if factor == 1:
        return rgb.astype(np.int32)
    h, w = rgb.shape[0] // factor, rgb.shape[1] // factor
    blocks = np.ascontiguousarray(rgb[: h * factor, : w * factor])
    # Summing uint8 blocks into int64 keeps a 6000x4000 photo at its own size in memory.
    sums = blocks.reshape(h, factor, w, factor, 3).sum(axis=(1, 3), dtype=np.int64)
    return (sums // (factor * factor)).astype(np.int32)


def histogram_percentile(hist: np.ndarray, fraction: float) -> int:
    """Smallest bin whose cumulative count reaches `fraction` of all counts."""
    target = fraction * int(hist.sum())
    cumulative = 0
    for value, count in enumerate(hist.tolist()):
        cumulative += count
        if cumulative >= target:
            return value
    return len(hist) - 1


def otsu_threshold(hist: np.ndarray) -> int:
    """Otsu's threshold over integer bins; pixels > the returned bin are foreground."""
    counts = hist.tolist()
    total = sum(counts)
    weighted_total = sum(i * c for i, c in enumerate(counts))
    best_bin, best_score = 0, -1.0
    below = 0
    weighted_below = 0
    for i, count in enumerate(counts):
        below += count
        weighted_below += i * count
        above = total - below
        if below == 0 or above == 0:
            continue
        mean_below = weighted_below / below
        mean_above = (weighted_total - weighted_below) / above
        gap = mean_below - mean_above
        score = below * above * (gap * gap)
        if score > best_score:
            best_bin, best_score = i, score
    return best_bin


def dilate_square(mask: np.ndarray, radius: int) -> np.ndarray:
    """Binary dilation by a (2r+1)-pixel square; outside the image counts as empty."""
    if radius <= 0:
        return mask.copy()
    return ndimage.binary_dilation(mask, structure=np.ones((2 * radius + 1,) * 2, dtype=bool))


def city_block_distance(mask: np.ndarray) -> np.ndarray:
    """Taxicab distance of each mask pixel to the nearest pixel outside the mask.

    The image edge is not 'outside': a cell cut by the edge is as thick as it looks.
    The mask must have at least one pixel outside it.
    """
    return ndimage.distance_transform_cdt(mask, metric="taxicab").astype(np.int32)


def fill_small_holes(mask: np.ndarray, max_area: int) -> np.ndarray:
    """Fill background pockets (4-connected, not touching the border) up to max_area pixels."""
    labels, count = ndimage.label(~mask, structure=FOUR_CONNECTED)
    if count == 0:
        return mask.copy()
    areas = np.bincount(labels.ravel(), minlength=count + 1)
    border = np.unique(np.concatenate([labels[0], labels[-1], labels[:, 0], labels[:, -1]]))
    fillable = areas <= max_area
    fillable[0] = False
    fillable[border] = False
    return mask | fillable[labels]


def label_components(mask: np.ndarray) -> np.ndarray:
    """8-connected component labels (0 = outside the mask)."""
    return ndimage.label(mask, structure=EIGHT_CONNECTED)[0]


def components(mask: np.ndarray, members: np.ndarray | None = None) -> list[dict]:
    """8-connected components of `mask`, each with the area, box and pixels of its members.

    `members` (default: the mask itself) lets a dilated mask group pixels while the
    statistics count only the original ones. Boxes are [x0, y0, x1, y1], x1/y1 exclusive;
    pixels are (rows, columns) index arrays.
    """
    labels, count = ndimage.label(mask, structure=EIGHT_CONNECTED)
    if members is not None:
        labels = np.where(members, labels, 0)
    found = []
    for index, region in enumerate(ndimage.find_objects(labels, max_label=count), start=1):
        if region is None:
            continue
        ys, xs = np.nonzero(labels[region] == index)
        ys, xs = ys + region[0].start, xs + region[1].start
        found.append(
            {
                "area": int(ys.size),
                "box": [int(xs.min()), int(ys.min()), int(xs.max()) + 1, int(ys.max()) + 1],
                "pixels": (ys, xs),
            }
        )
    return found


def box_mean(values: np.ndarray, radius: int) -> np.ndarray:
    """Floor of the mean of each pixel's (2r+1)-pixel square, the square clipped to the image
    (summed in int64 through a summed-area table, so the JS twin gets the same integers)."""
    height, width = values.shape
    table = np.zeros((height + 1, width + 1), dtype=np.int64)
    table[1:, 1:] = values.astype(np.int64).cumsum(axis=0).cumsum(axis=1)
    rows, cols = np.arange(height), np.arange(width)
    y0, y1 = np.maximum(rows - radius, 0), np.minimum(rows + radius + 1, height)
    x0, x1 = np.maximum(cols - radius, 0), np.minimum(cols + radius + 1, width)
    sums = table[y1][:, x1] - table[y0][:, x1] - table[y1][:, x0] + table[y0][:, x0]
    return sums // ((y1 - y0)[:, None] * (x1 - x0)[None, :])
