"""A release whose file runs N images at once: the same network with a fixed batch of N.

    python -m training.batch_release --from tflite_models/malaria-screen/2.2.0 --batch 8 \\
        tflite_models/malaria-screen/2.3.0

The phone's runtime (LiteRT.js) takes only a fixed batch, and for a small network one run per
cell costs more in calls and copies than in arithmetic: a field of 100+ red cells was 100+ runs.
With a batch of N, field mode runs N cells at a time (classifier.classify.TFLiteModel.run_many,
the worker's runBatch); a close-up runs with the rest of the batch left black, its outputs
dropped. This step re-exports the source's network (model.keras) at batch N in the source's
format and checks on real test images, and on field photos when the model has a field mode,
that every image's outputs equal the source file's, whether it shares a batch or is alone in
one; only then is the new folder written. No retraining: calibration, thresholds and metrics
stay the source's. Clients that predate batches refuse such a file (it says why) until the app
updates, so roll it out after the app.
"""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path

import numpy as np

from classifier.classify import Classifier, TFLiteModel, load_image
from classifier.model_card import MAX_BATCH, input_batch, model_card_text, read_model_card
from training import derived_release
from training.cam_release import check_images
from training.paths import datasets_root

HEADING = "## Runs several cells at once (fixed batch)"
SHAPES_SAID = "[1, len(labels)] is probabilities, [1, 1] is familiarity"
# Outputs of the new file against the source's shipped file: float32 rounding of another
# converter run (measured for malaria-screen 2.2.0 at batch 8: 5.3e-5; the same network
# converted today at batch 1 and at batch 8 agree bit for bit).
TOLERANCE = 1e-4
FIELD_PHOTOS = 2


def fixed_batch(model, batch: int):
    """The same Keras model with its input fixed to `batch` images."""
    import keras

    pixels = keras.Input(model.input.shape[1:], batch_size=batch, name="pixels")
    return keras.Model(pixels, model(pixels), name="released")


def check(new: Path, source: Path, images: np.ndarray, photos: list[Path]) -> dict:
    """The release folder `new` against `source`: the largest output difference over `images`
    run in full batches and each alone, and whether field mode finds the same cells with the
    same calls and statuses on `photos`; ValueError when either falls short."""
    reference, batched = Classifier(source), Classifier(new)
    together = batched.model.run_many(list(images))
    alone = [batched.model.run_views(rgb) for rgb in images[: batched.model.batch + 1]]
    gap = 0.0
    for k, rgb in enumerate(images):
        theirs = reference.model.run_views(rgb)
        for mine in [together[k], *alone[k : k + 1]]:
            for a, b in zip(mine, theirs, strict=True):
                if a is not None:
                    gap = max(gap, float(np.max(np.abs(np.asarray(a) - np.asarray(b)))))
    same = 0
    for photo in photos:
        mine, theirs = batched.classify_field(photo), reference.classify_field(photo)
        same += [_call(c) for c in mine["cells"]] == [_call(c) for c in theirs["cells"]]
    if gap > TOLERANCE or same < len(photos):
        raise ValueError(
            f"the batch file does not match {source}: largest output difference {gap:.2e} "
            f"(tolerance {TOLERANCE:.0e}); field photos with the same cells: {same} of "
            f"{len(photos)}"
        )
    return {
        "images": len(images),
        "max_difference": float(f"{gap:.3g}"),
        "tolerance": TOLERANCE,
        "field_photos_same": len(photos),
    }


def _call(cell: dict) -> tuple:
    return cell["box"], cell.get("edge"), cell["label"], cell["status"], cell["status_reason"]


def field_photos(card: dict) -> list[Path]:
    """A few field photos of the kind the model's field mode is for (none without one)."""
    method = ((card.get("input") or {}).get("field_framing") or {}).get("method")
    if method is None:
        return []
    folder = "malaria-fields/bbbc041/images" if method == "rbc-segmented" else "bccd-fields"
    photos = sorted(p for p in (datasets_root() / folder).rglob("*") if p.suffix.lower() in
                    (".png", ".jpg", ".jpeg"))  # fmt: skip
    return photos[:FIELD_PHOTOS]


def section(card: dict) -> str:
    batch, checked = card["input"]["shape"][0], card["batch"]["checked"]
    source = card["derived_from"]
    return "\n".join(
        [
            HEADING,
            "",
            f"The file takes {batch} images per run (`input.shape` [{batch}, ...]; every output "
            f"has {batch} rows, one per image). The network is {source['name']} "
            f"{source['version']}'s, unchanged, and so are every figure above, the thresholds "
            f"and the calibration. Field mode runs {batch} cells at a time; a single image is "
            f"run with the rest of the batch black and only its own row read. {WHY}",
            "",
            f"Checked before release on {checked['images']} test images, run {batch} at a time "
            f"and each alone: largest difference of any output from {source['version']}'s file "
            f"{checked['max_difference']:.2g} (tolerance {checked['tolerance']:.0e}); field "
            f"mode gave the same cells, calls and statuses on {checked['field_photos_same']} "
            "field photos. Apps that predate batched files refuse this one with a message "
            "until they update: roll it out after the app.",
            "",
        ]
    )


WHY = (
    "The phone's runtime takes only a fixed batch, and for a network this small one run per "
    "cell cost more in calls and copies than in arithmetic (docs/benchmarks.md, bench.field)."
)


def derive(source: Path, out: Path, batch: int, log=print) -> dict:
    """The new release `out` (its name is the version) of `source`'s network at `batch`;
    returns its model.json. Nothing is written unless every check passes."""
    card = read_model_card(source)
    if not 2 <= batch <= MAX_BATCH:
        raise ValueError(f"--batch must be 2 to {MAX_BATCH}")
    if input_batch(card) != 1:
        raise ValueError(f"{source} already runs {input_batch(card)} images at once")
    derived_release.refuse_target(source, card, out)

    import keras  # after the checks: a refusal costs no TensorFlow start

    from training.export import convert_float16
    from training.model import PerImageStandardization  # noqa: F401  (registers the layers)
    from training.release.card import file_entry, output_entry, tensor_entry

    images = np.stack([load_image(p, card["input"]["shape"][1]) for p in check_images(card)])
    released = keras.saving.load_model(source / "model.keras", compile=False)
    with tempfile.TemporaryDirectory(dir=out.parent, prefix=f".{out.name}.") as work:
        work = Path(work)
        tflite = work / "model.tflite"
        tflite.write_bytes(convert_float16(fixed_batch(released, batch)))
        model = TFLiteModel(tflite, len(card["labels"]))
        outputs = [output_entry(tflite, [batch, *o["shape"][1:]], o["name"])
                   for o in card["outputs"]]  # fmt: skip
        card = {
            **card,
            "version": out.name,
            "input": {**card["input"], **tensor_entry(model.input, "pixels", 0)},
            "outputs": outputs,
            "client_rule": card["client_rule"].replace(
                SHAPES_SAID, SHAPES_SAID.replace("[1,", f"[{batch},")
            )
            + f" The file runs {batch} images at once "
            "(input.shape[0]): fill the batch with images, black for the rest, and read each "
            "image's own row of every output.",
            "file": file_entry(tflite),
            "derived_from": {
                "name": card["name"],
                "version": card["version"],
                "change": f"the same network exported with a fixed batch of {batch} "
                "(input.shape[0]); each image's outputs are the source file's",
            },
        }
        (work / "model.json").write_text(model_card_text(card))
        checked = check(work, source, images, field_photos(card))
        log(f"checked: {checked}")
        card["batch"] = {"size": batch, "checked": checked}
        derived_release.finish(work, out, source, card, HEADING, section(card), log=log)
    return card


def main(argv: list[str] | None = None) -> int:
    parser = derived_release.parser("python -m training.batch_release", __doc__, "2.3.0")
    parser.add_argument("--batch", type=int, default=8, help="images per run (default 8)")
    args = parser.parse_args(argv)
    return derived_release.run(lambda log: derive(args.source, args.out, args.batch, log=log))


if __name__ == "__main__":
    sys.exit(main())
