// Getting images in: the rear camera (getUserMedia) with a capture button, the file/gallery
// picker (several at once), drag and drop and paste. Every image reaches `onImages([Blob])`.
import { t } from "../i18n.js";

export class CapturePanel {
  constructor(root, { onImages, onError }) {
    this.onImages = onImages;
    this.onError = onError;
    this.video = root.querySelector("#camera-video");
    this.cameraBox = root.querySelector("#camera");
    this.stream = null;
    root.querySelector("#camera-start").addEventListener("click", () => this.startCamera());
    root.querySelector("#camera-stop").addEventListener("click", () => this.stopCamera());
    root.querySelector("#camera-shoot").addEventListener("click", () => this.shoot());
    const input = root.querySelector("#file-input");
    input.addEventListener("change", () => {
      this.take([...input.files]);
      input.value = "";
    });
    this.listenForDropAndPaste();
  }

  take(files) {
    const images = files.filter((f) => f.type.startsWith("image/") || f.type === "");
    if (files.length && !images.length) {
      this.onError(t("capture.not_image"));
      return;
    }
    if (images.length) this.onImages(images);
  }

  listenForDropAndPaste() {
    const body = document.body;
    body.addEventListener("dragover", (event) => {
      event.preventDefault();
      body.classList.add("dragging");
    });
    body.addEventListener("dragleave", (event) => {
      if (event.target === body || !event.relatedTarget) body.classList.remove("dragging");
    });
    body.addEventListener("drop", (event) => {
      event.preventDefault();
      body.classList.remove("dragging");
      this.take([...event.dataTransfer.files]);
    });
    document.addEventListener("paste", (event) => {
      const files = [...event.clipboardData.items].filter((i) => i.kind === "file").map((i) => i.getAsFile());
      if (files.length) this.take(files);
    });
  }

  async startCamera() {
    if (!navigator.mediaDevices || !navigator.mediaDevices.getUserMedia) {
      this.onError(t("capture.no_camera_api"));
      return;
    }
    try {
      this.stream = await navigator.mediaDevices.getUserMedia({
        video: { facingMode: { ideal: "environment" }, width: { ideal: 1920 }, height: { ideal: 1080 } },
        audio: false,
      });
    } catch (error) {
      const name = error && error.name;
      if (name === "NotAllowedError" || name === "SecurityError") {
        this.onError(t("capture.denied"));
      } else if (name === "NotFoundError" || name === "OverconstrainedError") {
        this.onError(t("capture.not_found"));
      } else {
        this.onError(t("capture.failed", { error: name || error }));
      }
      return;
    }
    this.video.srcObject = this.stream;
    this.cameraBox.hidden = false;
    await this.video.play().catch(() => {});
  }

  stopCamera() {
    if (this.stream) this.stream.getTracks().forEach((t) => t.stop());
    this.stream = null;
    this.video.srcObject = null;
    this.cameraBox.hidden = true;
  }

  async shoot() {
    const { videoWidth: w, videoHeight: h } = this.video;
    if (!w || !h) return;
    const canvas = new OffscreenCanvas(w, h);
    canvas.getContext("2d").drawImage(this.video, 0, 0, w, h);
    // PNG: no second lossy compression between the sensor and the model.
    const blob = await canvas.convertToBlob({ type: "image/png" });
    this.stopCamera();
    const frame = new File([blob], `camera-${Date.now()}.png`, { type: "image/png" });
    frame.fromCamera = true;
    this.onImages([frame]);
  }
}
