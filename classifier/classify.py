"""The reference classifier: one released model folder + images -> (label, confidence, status,
status_reason).

Every Python client (the backend's /predict, the training evaluation of the .tflite file, the
command line) uses this module, and the PWA implements the same rule (see ``decide``). It needs
only numpy, Pillow and ai-edge-litert (the TFLite runtime), never TensorFlow.

    python -m classifier.classify tflite_models/wbc-differential/1.0.0 cell1.jpg cell2.png

prints one JSON object per image and line:
``{"image", "label", "confidence", "status", "status_reason", "probabilities": {label: p}}``
(``status_reason``: why the call is not confident, one of STATUS_REASONS, null when it is);
an image that cannot be read gives ``{"image", "error"}`` on its line and the exit status 1
after all lines.

A model whose model.json declares ``input.framing`` (see classifier.cells.model_framing) is fed the
frame of the cell nearest the photo's centre (the line then also has its ``"box"``); with
nothing to frame the line is ``{"label": null, "confidence": null, "status": "unfamiliar",
"status_reason": "no_cell", "probabilities": {}, "reason": ...}``. ``--field`` classifies
every white cell of a field photo: ``{"image", "width", "height", "cells": [{"box", "score",
"label", ...}]}``; for a model whose ``input.field_framing`` is ``rbc-segmented`` (a malaria
screen) every red cell instead, each with ``"edge"`` (cut by the photo's edge: shown, never
counted) and ``"clump"`` (split out of touching cells), and ``"cell_type": "rbc"`` and
``"diameter"`` beside them, and, when the model declares field colour standardisation,
``"colour": {"standardised", "cells", "mean", "std"}`` (classifier.cells.field_colour).
A model whose model.json declares ``class_activation`` adds each call's why-this-call map,
``"cam": {"label", "rows", "cols", "values"}`` (see ``cam_values``), to every result and cell.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np
from PIL import Image, ImageOps

from classifier.cells.field_colour import field_colour, standardised
from classifier.cells.finder import MAX_PIXELS, FinderError
from classifier.cells.model_framing import (
    NO_CELL,
    RBC_SEGMENTED,
    field_framing_of,
    frame_field_cells,
    frame_photo_for,
    framing_of,
    mark_centred,
    no_cell_result,
)
from classifier.cells.red_cell_field import find_red_cells, marked_cell, segmented_crop
from classifier.model_card import (
    ModelCardError,
    class_activation_output,
    parse_model_card,
    view_check_output,
)

STATUSES = ("confident", "review", "unfamiliar")
# Why a call is not `confident` (None when it is): the rule's own three, and NO_CELL when the
# framing found no cell to centre on (model_framing.mark_centred, no_cell_result). A stable
# enum: records carry it to the server (backend/sync/validation.py) and both sides word it.
BELOW_THRESHOLD, VIEW_CHECK, UNFAMILIAR = "below_threshold", "view_check", "unfamiliar"
# The status each reason explains.
REASON_STATUS = {
    BELOW_THRESHOLD: "review",
    VIEW_CHECK: "review",
    UNFAMILIAR: "unfamiliar",
    NO_CELL: "unfamiliar",
}
STATUS_REASONS = tuple(REASON_STATUS)


class UnreadableImageError(ValueError):
    """The file is missing, not an image, or truncated."""


class ModelFolderError(ValueError):
    """The model folder lacks model.json/model.tflite or they do not fit together."""


def load_image(source, size: int) -> np.ndarray:
    """Decode a path or file object into the model input: RGB uint8 [size, size, 3].

    The whole image is resized (bilinear, antialiased), never cropped; EXIF orientation from a
    phone camera is applied first. Training, evaluation and the PWA do exactly this.
    """
    try:
        with Image.open(source) as image:
            image = ImageOps.exif_transpose(image)
            image = image.convert("RGB").resize((size, size), Image.Resampling.BILINEAR)
            return np.asarray(image, dtype=np.uint8)
    except (OSError, ValueError, SyntaxError, Image.DecompressionBombError) as error:
        name = getattr(source, "name", source)
        raise UnreadableImageError(f"cannot read image {name}: {error}") from error


def load_photo(source) -> np.ndarray:
    """The whole photo (path or file object), upright, as RGB uint8 [H, W, 3], for the finder."""
    try:
        with Image.open(source) as image:
            if image.width * image.height > MAX_PIXELS:
                raise UnreadableImageError(
                    f"image of {image.width}x{image.height} pixels is larger than "
                    f"{MAX_PIXELS} pixels"
                )
            return np.asarray(ImageOps.exif_transpose(image).convert("RGB"), dtype=np.uint8)
    except (OSError, ValueError, SyntaxError, Image.DecompressionBombError) as error:
        if isinstance(error, UnreadableImageError):
            raise
        name = getattr(source, "name", source)
        raise UnreadableImageError(f"cannot read image {name}: {error}") from error


def resize_whole(rgb: np.ndarray, size: int) -> np.ndarray:
    """An RGB uint8 array resized whole to size x size, exactly as load_image resizes a file."""
    image = Image.fromarray(np.ascontiguousarray(rgb), "RGB")
    return np.asarray(image.resize((size, size), Image.Resampling.BILINEAR), dtype=np.uint8)


def frame_photo(source, framing: dict, size: int) -> dict:
    """What a framed model is fed for a photo (path or file object): {"frame", "box",
    "reason"} as classifier.cells.model_framing.frame_photo_for gives it ("frame" None: nothing
    to frame, no label). Training (--framing) and Classifier.classify both call this, so the
    model sees the same crop in both."""
    rgb = load_photo(source)
    try:
        return frame_photo_for(rgb, framing, size)
    except FinderError as error:  # e.g. fewer than 16 pixels on a side
        raise UnreadableImageError(str(error)) from error


def decide(
    probabilities: np.ndarray,
    familiarity: float,
    labels: list[str],
    decision: dict,
    views: np.ndarray | None = None,
):
    """Turn the model outputs into (label, confidence, status, reason) by the rule in model.json.

    unfamiliar (reason UNFAMILIAR) if familiarity < unfamiliar_below; else review
    (BELOW_THRESHOLD) if the top probability is under confident_at_or_above; else review
    (VIEW_CHECK) if, with `views` (model.json view_check: [n_views, n_labels], the same image
    turned), the same class's probability in some view is under it; else confident (reason
    None). The top label and its probability are always given.
    """
    top = int(np.argmax(probabilities))
    confidence = float(probabilities[top])
    threshold = decision["confident_at_or_above"]
    if familiarity < decision["unfamiliar_below"]:
        status, reason = "unfamiliar", UNFAMILIAR
    elif not confidence >= threshold:  # not `<`: a NaN is never confident
        status, reason = "review", BELOW_THRESHOLD
    elif views is not None and not all(v[top] >= threshold for v in views):
        status, reason = "review", VIEW_CHECK
    else:
        status, reason = "confident", None
    return labels[top], confidence, status, reason


def field_decision(decision: dict) -> dict:
    """The rule for cells found in a field photo: model.json decision.field's thresholds where
    the card has them (chosen on field-mode frames of validation photos: a cell cut out of a
    field photo is framed otherwise than a close-up, and a model can be surer of it than it
    should be), else the close-up's."""
    return {**decision, **decision.get("field", {})}


def cam_values(cam: np.ndarray, k: int) -> list[int]:
    """The map shown for class k out of the map output [R, C, K]: CAM[:, :, k] clipped at 0,
    scaled to 0..255 by its maximum and rounded half up (all 0 when nothing is positive),
    row-major. The worker (pwa/js/classifier/class-activation.js) does the same in float64."""
    v = np.maximum(cam[:, :, k].astype(np.float64), 0.0)
    top = v.max()
    if not top > 0:
        return [0] * v.size
    return [int(x) for x in np.floor(255.0 * v / top + 0.5).ravel()]


def _dequantize(values: np.ndarray, detail: dict) -> np.ndarray:
    scale, zero_point = detail["quantization"]
    if values.dtype in (np.uint8, np.int8) and scale:
        return (values.astype(np.float32) - zero_point) * scale
    return values.astype(np.float32)


class TFLiteModel:
    """A .tflite file in the TFLite runtime: ``predict(rgb) -> (probabilities, familiarity)``.
    A file with a fixed batch of N (model_card.input_batch) runs up to N images at once
    (``run_many``); fewer are padded with black images whose outputs are dropped."""

    def __init__(
        self,
        model_path: str | Path,
        n_labels: int,
        num_threads: int = 2,
        portable: bool = False,
        cam_output: dict | None = None,
        views_output: dict | None = None,
    ):
        """`portable`: TFLite's reference kernels instead of XNNPACK and the optimised ones:
        slow, but the same arithmetic on every CPU (parity checks, never the app).
        `cam_output`, `views_output`: model.json's `outputs` entries of the class-activation
        map and of the view check's views, if the card declares them."""
        from ai_edge_litert.interpreter import Interpreter, OpResolverType

        resolver = OpResolverType.BUILTIN_REF if portable else OpResolverType.AUTO
        self.interpreter = Interpreter(
            model_path=str(model_path),
            num_threads=num_threads,
            experimental_op_resolver_type=resolver,
        )
        self.interpreter.allocate_tensors()
        self.input = self.interpreter.get_input_details()[0]
        self.batch, self.size = (int(n) for n in self.input["shape"][:2])
        # Outputs are told apart by shape: [batch, n_labels] probabilities, [batch, 1]
        # familiarity.
        outputs = {tuple(d["shape"]): d for d in self.interpreter.get_output_details()}
        try:
            self.probabilities_out = outputs[(self.batch, n_labels)]
            self.familiarity_out = outputs[(self.batch, 1)]
        except KeyError as error:
            raise ModelFolderError(
                f"{model_path} outputs {sorted(outputs)} do not fit {n_labels} labels"
            ) from error
        self.cam_out = None if cam_output is None else self._declared_output(cam_output, model_path)
        self.views_out = (
            None if views_output is None else self._declared_output(views_output, model_path)
        )

    def _declared_output(self, entry: dict, model_path) -> dict:
        """The output the card names (the map, the views), found by its tensor index (its shape
        is not unique to it in general) and checked against the card's shape."""
        details = {d["index"]: d for d in self.interpreter.get_output_details()}
        detail = details.get(entry.get("tensor_index"))
        if detail is None or [int(n) for n in detail["shape"]] != entry.get("shape"):
            raise ModelFolderError(
                f"{model_path} has no output {entry.get('name')!r} with tensor index "
                f"{entry.get('tensor_index')} and shape {entry.get('shape')} as model.json says"
            )
        return detail

    def predict(self, rgb: np.ndarray) -> tuple[np.ndarray, float]:
        """Probabilities [n_labels] and familiarity of one RGB uint8 image of the input size."""
        probabilities, familiarity, _ = self.run(rgb)
        return probabilities, familiarity

    def run(self, rgb: np.ndarray) -> tuple[np.ndarray, float, np.ndarray | None]:
        """predict's outputs and the class-activation map [R, C, n_labels] (None without one)."""
        return self.run_views(rgb)[:3]

    def run_views(self, rgb: np.ndarray):
        """run's outputs and the view check's views [n_views, n_labels] (None without one)."""
        return self.run_many([rgb])[0]

    def run_many(self, images: list[np.ndarray]) -> list[tuple]:
        """run_views of each image, `batch` images per run of the file."""
        for rgb in images:
            if rgb.shape != (self.size, self.size, 3):
                raise ValueError(
                    f"expected an RGB image of {self.size}x{self.size}, got {rgb.shape}"
                )
        results = []
        for start in range(0, len(images), self.batch):
            chunk = images[start : start + self.batch]
            batch = np.zeros((self.batch, *chunk[0].shape), chunk[0].dtype)
            batch[: len(chunk)] = chunk
            self.interpreter.set_tensor(self.input["index"], self._quantize(batch))
            self.interpreter.invoke()
            probabilities, familiarity, cam, views = (
                None if d is None else _dequantize(self.interpreter.get_tensor(d["index"]), d)
                for d in (
                    self.probabilities_out,
                    self.familiarity_out,
                    self.cam_out,
                    self.views_out,
                )
            )
            results += [
                (
                    probabilities[i],
                    float(familiarity[i][0]),
                    None if cam is None else cam[i],
                    None if views is None else views[i],
                )
                for i in range(len(chunk))
            ]
        return results

    def _quantize(self, batch: np.ndarray) -> np.ndarray:
        dtype = self.input["dtype"]
        scale, zero_point = self.input["quantization"]
        if dtype in (np.uint8, np.int8):
            info = np.iinfo(dtype)
            values = np.round(batch.astype(np.float32) / scale + zero_point)
            return np.clip(values, info.min, info.max).astype(dtype)
        return batch.astype(dtype)


class Classifier:
    """A loaded released model folder: ``classify(path)`` or ``classify_array(rgb_uint8)``."""

    def __init__(self, model_dir: str | Path, num_threads: int = 2):
        model_dir = Path(model_dir)
        card_path, model_path = model_dir / "model.json", model_dir / "model.tflite"
        for path in (card_path, model_path):
            if not path.is_file():
                raise ModelFolderError(f"{model_dir} is not a released model: {path.name} missing")
        try:
            self.card = parse_model_card(card_path.read_bytes())
        except ModelCardError as error:
            raise ModelFolderError(f"{card_path}: {error}") from error
        self.labels: list[str] = self.card["labels"]
        self.decision: dict = self.card["decision"]
        self.field_decision = field_decision(self.decision)
        # None: the model was trained on whole images and is fed the resized whole image.
        self.framing = framing_of(self.card)
        self.field_framing = field_framing_of(self.card)
        # A red-cell model: field mode finds and classifies every red cell (not white cells).
        self.red_cells = (self.field_framing or {}).get("method") == RBC_SEGMENTED
        # The card's outputs entry of the why-this-call map; None: no map, no "cam" in results.
        cam_output = class_activation_output(self.card)
        # The view check's views (model.json view_check); None: `confident` as before.
        views = view_check_output(self.card)
        self.model = TFLiteModel(
            model_path, len(self.labels), num_threads, cam_output=cam_output, views_output=views
        )
        self.size = self.model.size

    def classify_array(self, rgb: np.ndarray, decision: dict | None = None) -> dict:
        """`decision`: the rule's thresholds (default: the close-up's, model.json decision).
        With a class-activation map: "cam" {"label", "rows", "cols", "values"} (cam_values)."""
        return self.classify_arrays([rgb], decision)[0]

    def classify_arrays(self, images: list[np.ndarray], decision: dict | None = None) -> list:
        """classify_array of each image, as many per run of the file as it takes (a field's
        cells)."""
        return [self._result(*outputs, decision) for outputs in self.model.run_many(images)]

    def _result(self, probabilities, familiarity, cam, views, decision: dict | None) -> dict:
        label, confidence, status, reason = decide(
            probabilities, familiarity, self.labels, decision or self.decision, views
        )
        result = {
            "label": label,
            "confidence": round(confidence, 4),
            "status": status,
            "status_reason": reason,
            "probabilities": {
                name: round(float(p), 4) for name, p in zip(self.labels, probabilities, strict=True)
            },
        }
        if cam is not None:
            rows, cols = cam.shape[:2]
            values = cam_values(cam, self.labels.index(label))
            result["cam"] = {"label": label, "rows": rows, "cols": cols, "values": values}
        return result

    def classify(self, source) -> dict:
        """Classify one image (path or file object); raises UnreadableImageError.

        With a framed model: the framed cell, with its "box" (see model_framing for the
        rule); nothing to frame -> status unfamiliar and no label."""
        if self.framing is None:
            return self.classify_array(load_image(source, self.size))
        framed = frame_photo(source, self.framing, self.size)
        if framed["frame"] is None:
            return no_cell_result(framed["reason"])
        result = {**self.classify_array(framed["frame"]), "box": framed["box"]}
        return mark_centred(result) if framed["box"] is None else result

    def classify_field(self, source) -> dict:
        """Every white cell found in a field photo, framed and classified:
        {"width", "height", "cells": [{"box", "score", "label", "confidence", "status",
        "probabilities"}]}, cells in the finder's order (sorted by box)."""
        rgb = load_photo(source)
        if self.red_cells:
            return self._classify_red_cells(rgb)
        try:
            found = frame_field_cells(rgb, self.field_framing, self.size)
        except FinderError as error:  # e.g. fewer than 16 pixels on a side
            raise UnreadableImageError(str(error)) from error
        results = self.classify_arrays([frame for _, frame in found], self.field_decision)
        cells = [
            {"box": c["box"], "score": c["score"], **result}
            for (c, _), result in zip(found, results, strict=True)
        ]
        return {"width": int(rgb.shape[1]), "height": int(rgb.shape[0]), "cells": cells}

    def _classify_red_cells(self, rgb: np.ndarray, boxes: list | None = None) -> dict:
        """Red-cell field mode: every red cell found (or each box marked by hand), cut out on
        black in its own box and classified: {"width", "height", "cell_type": "rbc",
        "diameter", "cells": [{"box", "score", "edge", "clump", "label", ...}]}. A cell cut
        by the photo's edge is returned with "edge": true and must not be counted."""
        try:
            found = find_red_cells(rgb)
        except FinderError as error:
            raise UnreadableImageError(str(error)) from error
        cells = found["cells"] if boxes is None else [marked_cell(found, b) for b in boxes]
        crops = [segmented_crop(rgb, cell, found["factor"]) for cell in cells]
        colour = self.field_framing.get("colour")
        table = report = None
        if colour is not None:
            # The photo's colours are judged on every cell found, also when a few are marked.
            every = crops if boxes is None else [
                segmented_crop(rgb, cell, found["factor"]) for cell in found["cells"]
            ]  # fmt: skip
            table, report = field_colour(every, [c["edge"] for c in found["cells"]], colour)
        inputs = [resize_whole(standardised(crop, table), self.size) for crop in crops]
        out = [
            {
                "box": cell["box"],
                "score": cell["score"],
                "edge": cell["edge"],
                "clump": cell["clump"],
                **result,
            }
            for cell, result in zip(
                cells, self.classify_arrays(inputs, self.field_decision), strict=True
            )
        ]
        result = {
            "width": int(rgb.shape[1]),
            "height": int(rgb.shape[0]),
            "cell_type": "rbc",
            "diameter": found["diameter"],
            "cells": out,
        }
        if report is not None:
            result["colour"] = report
        return result


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m classifier.classify",
        description="Classify blood-cell images with a released model; one JSON line per image.",
    )
    parser.add_argument("model_dir", help="a released model folder, e.g. tflite_models/NAME/VER")
    parser.add_argument("images", nargs="+", help="image files (JPEG, PNG, ...)")
    parser.add_argument(
        "--field",
        action="store_true",
        help="field photos: classify every white cell found (every red cell for a red-cell model)",
    )
    args = parser.parse_args(argv)
    try:
        classifier = Classifier(args.model_dir)
    except (ModelFolderError, ValueError, OSError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    failed = False
    for image in args.images:
        try:
            classify = classifier.classify_field if args.field else classifier.classify
            line = {"image": image, **classify(image)}
        except UnreadableImageError as error:
            line, failed = {"image": image, "error": str(error)}, True
        print(json.dumps(line), flush=True)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
