"""Metrics, thresholds and plots for a classifier's outputs on a labelled split."""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
from scipy.optimize import minimize_scalar  # noqa: E402
from scipy.special import log_softmax  # noqa: E402

from classifier.classify import decide  # noqa: E402

STATUSES = ("confident", "review", "unfamiliar")
ECE_BINS = 15


def fit_temperature(logits: np.ndarray, labels: np.ndarray) -> float:
    """Temperature T minimising the negative log-likelihood of softmax(logits / T)."""

    def nll(log_t: float) -> float:
        scaled = log_softmax(logits / np.exp(log_t), axis=1)
        return -float(scaled[np.arange(len(labels)), labels].mean())

    return float(np.exp(minimize_scalar(nll, bounds=(-3.0, 3.0), method="bounded").x))


def expected_calibration_error(probabilities: np.ndarray, labels: np.ndarray) -> float:
    confidence = probabilities.max(axis=1)
    correct = probabilities.argmax(axis=1) == labels
    bins = np.minimum((confidence * ECE_BINS).astype(int), ECE_BINS - 1)
    ece = 0.0
    for b in range(ECE_BINS):
        inside = bins == b
        if inside.any():
            ece += inside.mean() * abs(correct[inside].mean() - confidence[inside].mean())
    return float(ece)


def confusion_matrix(labels: np.ndarray, predicted: np.ndarray, n: int) -> np.ndarray:
    matrix = np.zeros((n, n), dtype=int)
    np.add.at(matrix, (labels, predicted), 1)
    return matrix


def per_class(matrix: np.ndarray, names: list[str]) -> dict[str, dict[str, float]]:
    out = {}
    for k, name in enumerate(names):
        tp = matrix[k, k]
        precision = tp / max(matrix[:, k].sum(), 1)
        recall = tp / max(matrix[k].sum(), 1)
        f1 = 2 * precision * recall / max(precision + recall, 1e-12)
        out[name] = {
            "precision": round(float(precision), 4),
            "recall": round(float(recall), 4),
            "f1": round(float(f1), 4),
            "support": int(matrix[k].sum()),
        }
    return out


def confident_threshold(probabilities: np.ndarray, labels: np.ndarray, precision: float) -> float:
    """Lowest max-probability at which predictions at or above it reach ``precision`` accuracy."""
    confidence = probabilities.max(axis=1)
    correct = probabilities.argmax(axis=1) == labels
    order = np.argsort(-confidence)
    running = np.cumsum(correct[order]) / np.arange(1, len(order) + 1)
    good = np.nonzero(running >= precision)[0]
    if len(good) == 0:
        return 1.0
    # The deepest prefix whose accuracy is still at the target.
    return float(max(confidence[order][good[-1]], 0.5))


def summarize(probabilities, labels, names, statuses=None) -> dict:
    """Accuracy, macro-F1, per-class scores, confusion matrix, ECE and confident coverage."""
    predicted = probabilities.argmax(axis=1)
    matrix = confusion_matrix(labels, predicted, len(names))
    classes = per_class(matrix, names)
    result = {
        "images": int(len(labels)),
        "accuracy": round(float((predicted == labels).mean()), 4),
        "macro_f1": round(float(np.mean([c["f1"] for c in classes.values()])), 4),
        "ece": round(expected_calibration_error(probabilities, labels), 4),
        "per_class": classes,
        "confusion_matrix": matrix.tolist(),
    }
    if statuses is not None:
        statuses = np.asarray(statuses)
        confident = statuses == "confident"
        result["status_share"] = {s: round(float((statuses == s).mean()), 4) for s in STATUSES}
        result["confident_coverage"] = round(float(confident.mean()), 4)
        result["confident_accuracy"] = (
            round(float((predicted[confident] == labels[confident]).mean()), 4)
            if confident.any()
            else None
        )
    return result


def plot_confusion(matrix: np.ndarray, names: list[str], title: str, path: Path) -> None:
    matrix = np.asarray(matrix)
    fig, ax = plt.subplots(figsize=(1.0 + 0.7 * len(names), 0.8 + 0.65 * len(names)))
    ax.imshow(matrix, cmap="Blues")
    for (i, j), value in np.ndenumerate(matrix):
        color = "white" if value > matrix.max() / 2 else "black"
        ax.text(j, i, str(value), ha="center", va="center", color=color, fontsize=8)
    ax.set_xticks(range(len(names)), names, rotation=45, ha="right")
    ax.set_yticks(range(len(names)), names)
    ax.set_xlabel("predicted")
    ax.set_ylabel("true")
    ax.set_title(title)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def plot_reliability(probabilities, labels, title: str, path: Path) -> None:
    confidence = probabilities.max(axis=1)
    correct = probabilities.argmax(axis=1) == labels
    edges = np.linspace(0, 1, ECE_BINS + 1)
    bins = np.minimum((confidence * ECE_BINS).astype(int), ECE_BINS - 1)
    centres, accuracy, counts = [], [], []
    for b in range(ECE_BINS):
        inside = bins == b
        if inside.any():
            centres.append(confidence[inside].mean())
            accuracy.append(correct[inside].mean())
            counts.append(int(inside.sum()))
    fig, ax = plt.subplots(figsize=(4.6, 4.4))
    ax.plot([0, 1], [0, 1], "--", color="grey", label="perfect calibration")
    ax.bar(
        edges[:-1],
        np.histogram(confidence, edges)[0] / len(confidence),
        width=1 / ECE_BINS,
        align="edge",
        alpha=0.25,
        color="tab:blue",
        label="share of images",
    )
    ax.plot(centres, accuracy, "o-", color="tab:red", label="accuracy in bin")
    ece = expected_calibration_error(probabilities, labels)
    ax.set_title(f"{title}\nECE {100 * ece:.2f}%")
    ax.set_xlabel("confidence (top probability)")
    ax.set_ylabel("accuracy")
    ax.set_xlim(0, 1)
    ax.set_ylim(0, 1.02)
    ax.legend(loc="upper left", fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def synthetic_non_cell_images(n: int, size: int, seed: int = 7) -> np.ndarray:
    """Images that are plainly not microscope cells: noise, flat colours, gradients, stripes,
    checkerboards and random rectangles; for checking the "unfamiliar" signal."""
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0:size, 0:size] / size
    images = []
    for k in range(n):
        kind = k % 6
        if kind == 0:
            image = rng.integers(0, 256, (size, size, 3))
        elif kind == 1:
            image = np.ones((size, size, 3)) * rng.integers(0, 256, 3)
        elif kind == 2:
            a, b = rng.integers(0, 256, 3), rng.integers(0, 256, 3)
            t = (xx * rng.uniform(-1, 1) + yy * rng.uniform(-1, 1))[..., None]
            t = (t - t.min()) / max(np.ptp(t), 1e-6)
            image = a * (1 - t) + b * t
        elif kind == 3:
            period = rng.integers(4, 32)
            stripes = (np.sin(2 * np.pi * (xx * size) / period) > 0)[..., None]
            image = np.where(stripes, rng.integers(0, 256, 3), rng.integers(0, 256, 3))
        elif kind == 4:
            cell = rng.integers(4, 40)
            board = (((xx * size) // cell + (yy * size) // cell) % 2 == 0)[..., None]
            image = np.where(board, rng.integers(0, 256, 3), rng.integers(0, 256, 3))
        else:
            image = np.ones((size, size, 3)) * rng.integers(0, 256, 3)
            for _ in range(8):
                x0, y0 = rng.integers(0, size, 2)
                w, h = rng.integers(4, size // 2, 2)
                image[y0 : y0 + h, x0 : x0 + w] = rng.integers(0, 256, 3)
        images.append(np.clip(image, 0, 255).astype(np.uint8))
    return np.stack(images)


def statuses_of(probabilities, familiarity, labels, decision) -> list[str]:
    """The client rule's status of each image (classifier.classify.decide)."""
    return [
        decide(p, f, labels, decision)[2] for p, f in zip(probabilities, familiarity, strict=True)
    ]
