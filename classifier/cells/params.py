"""The cell finder's tuned settings. Sizes are multiples of D, the median red-cell diameter of
the photo, or of a red cell's area; stain margins are multiples of the red cells' darkness.
`pwa/js/classifier/cells/params.js` holds the same values in DEFAULT_PARAMS."""

from dataclasses import dataclass

SCALE = 1024  # white-balanced channels: 1024 = background level; darkness 1024 = no light
BLACK = 960  # darkness from which a pixel passes no light at all: padding or a frame, not a cell


@dataclass(frozen=True)
class Params:
    """Tuned on the dev part of bccd-fields (photos numbered below HELD_OUT_FROM)."""

    min_background: int = 40  # 99th-percentile level below which a photo is too dark to judge
    min_cell_contrast: int = 40  # Otsu cut on darkness (of 1024) below which nothing is there
    # Nucleus: a pixel whose hue is far from the red cells' (stain > red-cell stain + margin x
    # red-cell darkness), or much darker than them, or dark and of another hue.
    nucleus_margin: float = 1.5
    nucleus_darkness: float = 1.8  # ... or darker than this x the red cells' darkness
    nucleus_absorbs: float = 0.45  # ... or than this x SCALE (pale red cells, a dark nucleus)
    nucleus_hue: float = 0.7  # ... or stain > this x its own darkness, where it is also ...
    hue_darkness: float = 1.2  # ... darker than this x the red cells' darkness
    group_radius: float = 0.15  # nucleus pixels this close (x D) belong to one cell
    wbc_min_area: float = 0.3  # nucleus area (x red-cell area) of the smallest white cell
    wbc_edge_min_area: float = 0.3  # ... and of one cut by the photo's edge
    rbc_min_area: float = 0.4  # (x median red-cell area) smaller blobs are not red cells
    rbc_max_area: float = 1.6  # larger blobs are clumps, split at their deepest points ...
    rbc_centre_depth: float = 0.25  # ... at least this x D deep ...
    rbc_spacing: float = 0.7  # ... and this x D apart
    platelet_margin: float = 1.0  # platelet: stain > red-cell stain + this x darkness
    platelet_min_area: float = 0.004  # (x red-cell area)
    platelet_max_area: float = 0.1
    platelet_max_side: float = 0.45  # (x D)
    platelet_grow: float = 0.05  # (x D) on each side of the speck ...
    platelet_min_side: float = 0.37  # ... and a box at least this x D wide and high
    platelet_max_cover: float = 0.7  # at most this much of its box lies on cells
    wbc_grow: float = 0.1  # white-cell box: nucleus box + this x D on each side, joined with
    cytoplasm_margin: float = 0.1  # the cytoplasm: stain > red-cell stain + this x darkness ...
    cytoplasm_darkness: float = 0.7  # ... and darker than this x the cell/background cut
    cytoplasm_reach: float = 0.3  # cytoplasm counts up to this x D beyond the nucleus box


DEFAULT = Params()
