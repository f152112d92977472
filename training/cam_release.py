"""A why-this-call map for a release: the same network, a third output ``cam``.

    python -m training.cam_release --from tflite_models/wbc-differential/2.1.0 \\
        tflite_models/wbc-differential/2.2.0

The released head is global average pooling of the base network's last feature map F [R, C, D]
followed by one Dense layer (kernel W [D, K], bias b; the calibration is baked into both). So
calibrated logit k = mean_ij (F(i, j) . W[:, k]) + b_k, and the class-activation map
CAM_k(i, j) = F(i, j) . W[:, k] is exact for this head: it splits the logit over the R x C
places of the image. This step adds CAM to the released Keras model as a Dense layer with the
kernel W applied at every place of the feature map (FULLY_CONNECTED in the file: in LiteRT.js
it cost 1 % of a model run where the same product as a 1x1 CONV_2D cost 17 %, bench.cam),
converts it to the format the source ships, and checks on real test images that the
probabilities and familiarity equal the source file's and that mean(CAM) + b gives back the
logits; only then is the new folder written, with a card that declares the map
(``class_activation``), keeps everything the source card measured and says what the map is
and is not. No retraining: the calibration, thresholds and metrics stay the source's.
"""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path

import numpy as np

from classifier.classify import TFLiteModel, load_image
from classifier.differential import CLASS_NAMES
from classifier.model_card import read_model_card
from training import derived_release
from training.paths import datasets_root

CAM = "cam"
HEADING = "## Why-this-call map (class activation)"
CHECK_IMAGES = 96
# Probabilities and familiarity of the new file against the same network converted today
# without the map: the map must change nothing (measured: 0). Against the source's shipped
# file: float32 rounding of another converter run (measured: 0 for wbc-differential 2.1.0, up
# to 1.5e-5 for malaria-screen 1.1.0, whose plain reconversion differs from it just as much).
SAME_GRAPH_TOLERANCE = 1e-6
SOURCE_FILE_TOLERANCE = 1e-4
# mean(CAM) + b against the logits: the same products summed in another order (float32);
# in the file after softmax (measured: up to 1.1e-6), in Keras as logits (up to 2.9e-6).
SOFTMAX_TOLERANCE = 1e-5
LOGIT_TOLERANCE = 1e-4

WHAT_IT_IS = (
    "Where in the image the evidence for the called class lies, on the R x C grid of the "
    "network's last feature map, taken from the model's own last layer: for this global-average-"
    "pooled head the map averaged over the image plus the class's bias is exactly the class's "
    "logit, so it shows how the model's own score for that class is spread over the image."
)
WHAT_IT_IS_NOT = (
    "Not a segmentation of the cell and not proof that the call is right. It can light up "
    "stain, background or a neighbouring cell when that is what drove the score. A map of a "
    "wrong call shows why the model made it, not where the right answer is. It is coarse "
    "(each square covers about 32 x 32 input pixels) and shows only positive evidence for the "
    "called class, scaled to its own maximum: it does not compare classes or images."
)
DISPLAY_RULE = (
    "The map of the model's label k = argmax(probabilities): v = max(CAM[:, :, k], 0); values = "
    "round_half_up(255 * v / max(v)) as integers 0..255, row-major, length rows * cols (all 0 "
    "when max(v) = 0). It covers the whole square image the model was given (single cell: the "
    "whole photo resized without crop; field mode: the cell's framed crop) and is drawn "
    "stretched over that image, bilinear, semi-transparent."
)


def cam_model(released, batch_size: int | None = None):
    """The released Keras model with a third output `cam` [batch, R, C, K]; its layers (and so
    its weights) are the released model's own."""
    import keras

    from training.model import _base

    probe = _base(released)  # standardised pixels -> [last feature map, familiarity's map]
    dense = released.get_layer("calibrated_logits")
    pixels = keras.Input(released.input.shape[1:], batch_size=batch_size, name="pixels")
    top, middle = probe(released.get_layer("standardize")(pixels), training=False)
    logits = dense(released.get_layer("features")(top))
    probabilities = released.get_layer("probabilities")(logits)
    familiarity = released.get_layer("familiarity")(middle)
    kernel = dense.get_weights()[0]
    cam_layer = keras.layers.Dense(kernel.shape[1], use_bias=False, name=CAM)  # on the last axis
    cam = cam_layer(top)
    cam_layer.set_weights([kernel])
    return keras.Model(pixels, [probabilities, familiarity, cam], name="released")


def logits_model(released):
    """Pixels -> calibrated logits of the released Keras model (for the check)."""
    import keras

    return keras.Model(released.input, released.get_layer("calibrated_logits").output)


def check_images(card: dict, total: int = CHECK_IMAGES) -> list[Path]:
    """About `total` test images of the card's dataset, the first ones of each label alike
    (real images the model never trained on)."""
    test = datasets_root() / card["dataset"]["name"] / "test"
    per_class = -(-total // len(card["labels"]))
    images = []
    for label in card["labels"]:
        paths = sorted(p for p in (test / label).glob("*") if p.is_file())[:per_class]
        if not paths:
            raise ValueError(f"no test images in {test / label} to check the map on")
        images.extend(paths)
    return images


def softmax(z: np.ndarray) -> np.ndarray:
    e = np.exp(z - z.max(axis=-1, keepdims=True))
    return e / e.sum(axis=-1, keepdims=True)


def check(files: dict[str, Path], cam_entry: dict, released, images: np.ndarray) -> dict:
    """The new file (files["new"]) against the source's shipped file (files["source"]) and
    the source network converted without the map (files["plain"]), and mean(CAM) + b against
    the logits, on `images`; ValueError when a figure is out of tolerance."""
    n = cam_entry["shape"][-1]
    new = TFLiteModel(files["new"], n, cam_output=cam_entry)
    others = {k: TFLiteModel(files[k], n) for k in ("source", "plain")}
    bias = released.get_layer("calibrated_logits").get_weights()[1]
    _, _, keras_maps = cam_model(released).predict(images.astype(np.float32), 32, verbose=0)
    keras_logits = logits_model(released).predict(images.astype(np.float32), 32, verbose=0)
    gaps: dict[str, float] = {}
    for rgb, keras_map, logits in zip(images, keras_maps, keras_logits, strict=True):
        p_new, f_new, cam = new.run(rgb)
        measured = {
            "softmax_of_mean_cam_plus_bias": np.abs(softmax(cam.mean((0, 1)) + bias) - p_new),
            "keras_logit_reconstruction": np.abs(keras_map.mean((0, 1)) + bias - logits),
        }
        for name, model in others.items():
            p, f = model.predict(rgb)
            measured[f"probabilities_vs_{name}"] = np.abs(p_new - p)
            measured[f"familiarity_vs_{name}"] = np.abs(f_new - f)
        for key, gap in measured.items():
            gaps[key] = max(gaps.get(key, 0.0), float(np.max(gap)))
    limits = {
        "softmax_of_mean_cam_plus_bias": SOFTMAX_TOLERANCE,
        "keras_logit_reconstruction": LOGIT_TOLERANCE,
        "probabilities_vs_plain": SAME_GRAPH_TOLERANCE,
        "familiarity_vs_plain": SAME_GRAPH_TOLERANCE,
        "probabilities_vs_source": SOURCE_FILE_TOLERANCE,
        "familiarity_vs_source": SOURCE_FILE_TOLERANCE,
    }
    failed = [f"{k} {gaps[k]:.2e} > {limits[k]:.0e}" for k in limits if gaps[k] > limits[k]]
    if failed:
        raise ValueError(f"the new file does not match {files['source']}: {'; '.join(failed)}")
    return {
        "images": len(images),
        "max_difference": {k: float(f"{gaps[k]:.3g}") for k in limits},
        "tolerance": limits,
    }


def display_names(labels: list[str]) -> dict:
    """display_names (English) and display_names_by_language (fr, es, pt) of the card's labels,
    from classifier/class_names.json, the one source of the translated class names."""
    names = CLASS_NAMES
    missing = [f"{lang}:{x}" for lang, table in names.items() for x in labels if x not in table]
    if missing:
        raise ValueError(f"classifier/class_names.json lacks class names {missing}")
    by_language = {lang: {x: names[lang][x] for x in labels} for lang in names if lang != "en"}
    return {
        "display_names": {x: names["en"][x] for x in labels},
        "display_names_by_language": by_language,
    }


def class_activation(rows: int, cols: int, checked: dict) -> dict:
    return {
        "output": CAM,
        "rows": rows,
        "cols": cols,
        "definition": "CAM_k(i, j) = sum_c F(i, j, c) * W(c, k): F the base network's last "
        "feature map, W the kernel of the calibrated_logits Dense layer; mean over (i, j) of "
        "CAM_k plus bias_k is calibrated logit k (exact for the global-average-pooled head)",
        "display": DISPLAY_RULE,
        "what_it_is": WHAT_IT_IS,
        "what_it_is_not": WHAT_IT_IS_NOT,
        "checked": checked,
    }


def section(card: dict) -> str:
    ca, checked = card["class_activation"], card["class_activation"]["checked"]
    gap = checked["max_difference"]
    return "\n".join(
        [
            HEADING,
            "",
            f"The file has a third output `cam` [1, {ca['rows']}, {ca['cols']}, "
            f"{len(card['labels'])}] (`class_activation` in model.json). The network is "
            f"{card['derived_from']['name']} {card['derived_from']['version']}'s, unchanged, "
            "and so are every figure above, the thresholds and the calibration.",
            "",
            f"**What the map is.** {WHAT_IT_IS}",
            "",
            f"**What it is not.** {WHAT_IT_IS_NOT}",
            "",
            f"**How it is shown.** {DISPLAY_RULE}",
            "",
            f"Checked on {checked['images']} test images before release (largest differences; "
            "tolerance in brackets): probabilities "
            f"{gap['probabilities_vs_source']:.2g} [{SOURCE_FILE_TOLERANCE:.0e}] and familiarity "
            f"{gap['familiarity_vs_source']:.2g} [{SOURCE_FILE_TOLERANCE:.0e}] from "
            f"{card['derived_from']['version']}'s file; probabilities "
            f"{gap['probabilities_vs_plain']:.2g} [{SAME_GRAPH_TOLERANCE:.0e}] and familiarity "
            f"{gap['familiarity_vs_plain']:.2g} [{SAME_GRAPH_TOLERANCE:.0e}] from the same network "
            "converted today without the map (so the map changes nothing; any difference from "
            "the older file is the converter's float32 rounding); softmax(mean(CAM) + bias) "
            f"from the file's probabilities {gap['softmax_of_mean_cam_plus_bias']:.2g} "
            f"[{SOFTMAX_TOLERANCE:.0e}]; in the Keras model mean(CAM) + bias from the logits "
            f"{gap['keras_logit_reconstruction']:.2g} [{LOGIT_TOLERANCE:.0e}].",
            "",
        ]
    )


def derive(source: Path, out: Path, log=print) -> dict:
    """The new release `out` (its name is the version) of `source`'s network with the map;
    returns its model.json. Nothing is written unless every check passes."""
    card = read_model_card(source)
    if "class_activation" in card:
        raise ValueError(f"{source} already has a class-activation map")
    derived_release.refuse_target(source, card, out)
    display_names(card["labels"])  # every label named in every language, before any work

    import keras  # after the checks: a refusal costs no TensorFlow start

    from training.export import batch_of_one, convert_float16
    from training.model import PerImageStandardization  # noqa: F401  (registers the layers)
    from training.release.card import output_entry

    images = np.stack([load_image(p, card["input"]["shape"][1]) for p in check_images(card)])
    released = keras.saving.load_model(source / "model.keras", compile=False)
    with_cam = cam_model(released)
    with tempfile.TemporaryDirectory(dir=out.parent, prefix=f".{out.name}.") as work:
        work = Path(work)
        (work / "model.tflite").write_bytes(convert_float16(batch_of_one(with_cam)))
        cam_entry = output_entry(work / "model.tflite", [1, *with_cam.outputs[2].shape[1:]], CAM)
        (work / "plain.tflite").write_bytes(convert_float16(batch_of_one(released)))
        files = {"new": work / "model.tflite", "source": source / "model.tflite",
                 "plain": work / "plain.tflite"}  # fmt: skip
        checked = check(files, cam_entry, released, images)
        (work / "plain.tflite").unlink()
        log(f"checked on {checked['images']} test images: {checked}")
        card = _card(card, out.name, work / "model.tflite", cam_entry, checked)
        derived_release.finish(work, out, source, card, HEADING, section(card), with_cam, log)
    return card


def _card(card: dict, version: str, tflite: Path, cam_entry: dict, checked: dict) -> dict:
    from training.release.card import file_entry, io_details

    outputs = io_details(tflite, len(card["labels"]))["outputs"]
    _, rows, cols, _ = cam_entry["shape"]
    return {
        **card,
        "version": version,
        "outputs": [*outputs, cam_entry],
        "client_rule": card["client_rule"] + " The `cam` output (class_activation) is the "
        "why-this-call map: " + DISPLAY_RULE,
        "file": file_entry(tflite),
        "derived_from": {
            "name": card["name"],
            "version": card["version"],
            "change": "class-activation output `cam` added (class_activation); the network, "
            "its probabilities and familiarity are the same",
        },
        "class_activation": class_activation(rows, cols, checked),
        **display_names(card["labels"]),
    }


def main(argv: list[str] | None = None) -> int:
    parser = derived_release.parser("python -m training.cam_release", __doc__, "2.2.0")
    args = parser.parse_args(argv)
    return derived_release.run(lambda log: derive(args.source, args.out, log=log))


if __name__ == "__main__":
    sys.exit(main())
