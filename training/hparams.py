"""Hyper-parameters of one training run, recorded verbatim in the released model.json."""

from __future__ import annotations

from dataclasses import asdict, dataclass


@dataclass
class HParams:
    """Everything that shapes a model; the defaults are the released wbc-differential recipe."""

    image_size: int = 128
    """Side of the square RGB input. Clients resize the whole image to this (bilinear), no crop."""
    framing: str = "none"
    """"none": the whole image is resized (1.0.0). Otherwise every image is re-framed through
    the cell finder as clients will frame it (classifier.cells.model_framing): "wbc-canonical" (the
    central white cell's box spans `frame_fill` of the frame) or "rbc-scaled" (a frame
    `frame_span` red-cell diameters wide around the central white cell, else platelet, else the
    photo's centre). Images with nothing to frame are left out and counted. The release's
    model.json then declares input.framing, and clients frame alike."""
    frame_fill: float = 0.6
    """wbc-canonical: the share of the frame the found cell's box spans."""
    frame_span: float = 3.5
    """rbc-scaled: the frame's side in median red-cell diameters of the photo."""
    alpha: float = 0.35
    """MobileNetV2 width multiplier: 0.35 or 0.5 (the ImageNet weights shipped in ../shared)."""
    batch_size: int = 32
    head_epochs: int = 2
    """Epochs with the ImageNet base frozen: only the new classification head learns."""
    fine_tune_epochs: int = 6
    """Epochs fine-tuning the upper blocks (BatchNorm stays in inference mode)."""
    fine_tune_from: str = "block_9_expand"
    """First base layer that fine-tuning unfreezes; everything below stays frozen."""
    weight_average_from: int = 0
    """Fine-tuning epoch (1 = the first) from which the trainable weights are averaged after
    every batch; the run ends with that average (stochastic weight averaging, published as
    carrying better to unseen domains; measured here from epochs 4 and 8 with tecom and lisc
    held out: no gain, docs/notes/leave-one-lab-out-multi-lab-recipe.md). 0 = the last weights."""
    head_learning_rate: float = 1e-3
    fine_tune_learning_rate: float = 5e-4
    """Peak of a cosine decay over the fine-tuning steps."""
    dropout: float = 0.2
    augment: str = "strong"
    """"strong" (stain, zoom/shift/aspect, blur, exposure, noise, JPEG, rotation, flips),
    "strong-wide" (the same with zooms 0.55-2 instead of 0.8-1.3: other labs' framings),
    "strong-stain" (strong, and half the images re-coloured: any hue, often little colour),
    "strong-wide-stain" (strong-wide, and 30% of the images re-coloured),
    "light" (flips and rotations only) or "none"."""
    per_image_standardization: bool = True
    """Scale each image by its own mean and standard deviation inside the model, so exposure
    and contrast of another microscope/camera matter less."""
    colour_normalization: bool = False
    """With per-image standardisation: standardise each colour channel on its own, which
    removes another lab's colour cast (stain, lamp, camera white balance) inside the model."""
    lab_share: float = 0.0
    """With --other-labs: repeat the other laboratories' training crops so that they make up
    at least this share of each epoch (a few hundred crops beside pbc's thousands would
    otherwise barely move the model). 0 = each crop once."""
    class_weights_from: str = "epoch"
    """Which images the balancing class weights are counted on: "epoch" (every image as the
    epoch holds it, other labs' repeated crops included) or "pbc" (pbc's own images only). The
    other labs have no erythroblast, platelet or ig, so weights counted on the whole epoch
    raise those pbc-only classes against the shared ones, a prior an unseen lab's cells then
    fall towards."""
    noisy_label_smoothing: float = 0.0
    """Label smoothing for the crops of labs whose labels were partly assigned without expert
    review (training.labs.UNREVIEWED_LABS): a mislabelled crop then costs a bounded loss
    instead of pulling the model towards its wrong class. 0 = hard labels for every crop."""
    start_from: str = ""
    """A released folder (model.json + model.keras) whose trained weights this run starts
    from instead of ImageNet's; it must have the same labels, image size, width and
    standardisation. "" = ImageNet. With it, --head-epochs 0 skips training the head anew."""
    val_fraction: float = 0.1
    """Share of the training images held out for validation when the dataset has no val split."""
    confident_precision: float = 0.99
    """The "confident" threshold is the lowest max-probability at which validation predictions
    reach this accuracy."""
    familiarity_layer: str = "block_13_expand_relu"
    """Base layer whose feature statistics measure familiarity (see model.Familiarity)."""
    familiar_quantile: float = 0.01
    """The "unfamiliar" threshold: this share of validation images falls below it."""
    int8_min_agreement: float = 0.995
    """Ship int8 only if it agrees with the float model on at least this share of validation
    images (and loses at most half a point of accuracy); otherwise ship float16."""
    file_format: str = "auto"
    """"auto" (int8 when it holds by int8_min_agreement, else float16) or "float16": ship the
    float16 file whatever int8 does on this machine's CPU (int8 kernels are known to disagree
    between CPUs, issue 12; and a release should not change format with the machine)."""
    representative_images: int = 300
    """Real training images used to calibrate the int8 quantization ranges."""
    seed: int = 1234

    def framing_spec(self) -> dict | None:
        """model.json's input.framing for this run, or None (whole images)."""
        if self.framing == "none":
            return None
        if self.framing == "rbc-scaled":
            return {"method": self.framing, "span": self.frame_span}
        return {"method": self.framing, "fill": self.frame_fill}

    def to_dict(self) -> dict:
        return asdict(self)
