"""report.md: the human-readable model card and evaluation of one release."""

from __future__ import annotations

from training.sources import section as section_of_sources


def _pct(value) -> str:
    return "n/a" if value is None else f"{100 * value:.1f}%"


def _per_class_table(per_class: dict) -> list[str]:
    rows = ["| class | precision | recall | F1 | images |", "|---|---|---|---|---|"]
    for name, c in per_class.items():
        rows.append(
            f"| {name} | {_pct(c['precision'])} | {_pct(c['recall'])} | {_pct(c['f1'])} "
            f"| {c['support']} |"
        )
    return rows


def _formats_table(formats: dict) -> list[str]:
    rows = [
        "| file | bytes | test accuracy | argmax agreement with Keras (test) | max prob. diff |",
        "|---|---|---|---|---|",
    ]
    for fmt, f in formats.items():
        p = f["parity_with_keras_test"]
        rows.append(
            f"| {fmt} | {f['bytes']:,} | {_pct(f['test_accuracy'])} | "
            f"{_pct(p['argmax_agreement'])} | {p['max_probability_difference']:.3f} |"
        )
    return rows


def _ood_table(checks: dict) -> list[str]:
    rows = [
        "| images | count | called unfamiliar | called confident | median familiarity |",
        "|---|---|---|---|---|",
    ]
    for name, c in checks.items():
        rows.append(
            f"| {name} | {c['images']} | {_pct(c['unfamiliar'])} | {_pct(c['confident'])} "
            f"| {_familiarity(c['median_familiarity'])} |"
        )
    return rows


def _no_cell_line(metrics: dict) -> list[str]:
    if "test_images_without_white_cell" not in metrics:
        return []
    return [
        f"- framed: {metrics['test_images_without_white_cell']} test images had no white cell "
        f"found (status unfamiliar, no label); counting them as not correct, accuracy on the "
        f"whole test split is **{_pct(metrics['test_accuracy_all_images'])}** (the figure to "
        f"compare with an unframed release)",
        "",
    ]


def _familiarity(median) -> str:
    return "- (no image with a white cell)" if median is None else f"{median:.3f}"


def _split_sizes(counts: dict) -> str:
    return ", ".join(
        f"{split} {sum(per_class.values())} images" for split, per_class in counts.items()
    )


def _labs_limit(card: dict) -> str:
    trained = [lab for lab in card["dataset"].get("labs", {}).get("train", {}) if lab != "pbc"]
    if not trained:
        return (
            "- Measured on one lab's images only (the test split above). Other labs, stains, "
            "cameras and magnifications are expected to score lower; the augmentation (stain, "
            "zoom, blur, exposure, noise, JPEG), per-image standardisation, calibration and the "
            "unfamiliar signal are there to soften that, not to remove it. Treat `review` and "
            '`unfamiliar` as "a person must look".'
        )
    return (
        f"- Trained on pbc and {', '.join(trained)}; the test split above is pbc's. How a lab "
        "it never saw fares is what the leave-one-lab-out table says (where it has been "
        "measured), not these figures: expect lower there, and treat `review` and "
        '`unfamiliar` as "a person must look".'
    )


def markdown(card: dict, results: dict) -> str:
    test, decision = results["test"], card["decision"]
    hp, training = card["hparams"], card["training"]
    lines = [
        f"# {card['name']} {card['version']}",
        "",
        f"{card['task']}: {', '.join(card['labels'])}. Dataset `{card['dataset']['name']}` "
        f"({_split_sizes(card['dataset']['counts'])}). MobileNetV2 alpha {hp['alpha']} "
        f"(ImageNet), input "
        f"{hp['image_size']}x{hp['image_size']} RGB, shipped as **{card['format']}** "
        f"({card['file']['bytes']:,} bytes). {card['format_reason']}.",
        "",
        "## Test split (the shipped file, through classifier.classify)",
        "",
        f"- accuracy **{_pct(test['accuracy'])}**, macro-F1 **{_pct(test['macro_f1'])}**, "
        f"ECE **{_pct(test['ece'])}** (before temperature scaling: "
        f"{_pct(results['ece_before_calibration_test'])}; temperature "
        f"{card['calibration']['temperature']})",
        f"- float Keras model: accuracy {_pct(results['keras_float_test']['accuracy'])}, "
        f"macro-F1 {_pct(results['keras_float_test']['macro_f1'])}",
        f"- status shares: {', '.join(f'{k} {_pct(v)}' for k, v in test['status_share'].items())}"
        f"; confident predictions are {_pct(test['confident_accuracy'])} correct and cover "
        f"{_pct(test['confident_coverage'])} of images",
        "",
        *_no_cell_line(card["metrics"]),
        *_per_class_table(test["per_class"]),
        "",
        "![confusion matrix](confusion_matrix.png) ![reliability diagram](reliability.png)",
        "",
        "## Files compared",
        "",
        *_formats_table(results["formats"]),
        "",
        "## Status rule (thresholds chosen on the validation split)",
        "",
        f"- `unfamiliar` when familiarity < {decision['unfamiliar_below']} (the "
        f"{_pct(hp['familiar_quantile'])} quantile of validation images); familiarity measures"
        " how typical the image's mid-level feature statistics (layer "
        f"`{hp['familiarity_layer']}`) are of the training images.",
        f"- otherwise `confident` when the top probability >= "
        f"{decision['confident_at_or_above']} (validation accuracy above it: "
        f"{_pct(hp['confident_precision'])} or more), else `review`.",
        "",
        "## Unfamiliar-image check (never used for tuning)",
        "",
        *_ood_table(results["unfamiliar_checks"]),
        "",
        section_of_sources(card.get("data_sources", {})),
        "## Limits",
        "",
        _labs_limit(card),
        "- Not a diagnostic device.",
        "",
        "## Training",
        "",
        f"- wall time {training['wall_time_s'] / 60:.1f} min on {training['machine']}",
        f"- hyper-parameters: `{hp}`",
        "",
    ]
    return "\n".join(lines)


def derived_report(report: str, old_card: dict, card: dict, heading: str, section: str) -> str:
    """The source release's report.md for a release derived from it (training.cam_release,
    training.view_check_release): the new version in the title, the new file's size, and
    `section` about what changed."""
    report = report.replace(
        f"# {card['name']} {old_card['version']}", f"# {card['name']} {card['version']}", 1
    )
    report = report.replace(
        f"({old_card['file']['bytes']:,} bytes)", f"({card['file']['bytes']:,} bytes)", 1
    )
    return put_section(report, heading, section)


def put_section(report: str, heading: str, section: str) -> str:
    """The model card with `section` (starting with `heading`) just before "## Limits",
    replacing an earlier section under the same heading."""
    if heading in report:
        before, _, after = report.partition(heading)
        report = before + (after[after.find("\n## ") + 1 :] if "\n## " in after else "")
    before, limits, after = report.partition("## Limits")
    return before + section + "\n" + limits + after
