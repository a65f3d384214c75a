"""CenterFace's model file: its input made dynamic, and its int8 build (deterministic, cached).

The file as shipped declares a fixed 10 x 3 x 32 x 32 input; :func:`dynamic_model` rewrites
the few protobuf fields that say so (no ``onnx`` package needed), drops the weights listed as
graph inputs (so onnxruntime may fold the batch norms into the convolutions) and stale
intermediate shapes.

**int8.** CenterFace (:mod:`algorithms.detect.centerface`) costs ~100 ms of one core per
megapixel of input in float32 on this project's machines, and a 12 MP photo needs 6-8 MP of
input to find 20 px faces. Quantised to int8 (weights per output channel, activations per
tensor, onnxruntime's QDQ format, run by its VNNI / AVX2 integer kernels) it costs ~55 ms per
MP (docs/benchmarks.md, "Anonymisation"; recall: tests/algorithms/detect).

How the int8 file is made (:func:`build`), from the ``centerface.onnx`` that
:mod:`algorithms.model_files` fetched and verified (sha256):

1. :func:`dynamic_model` (dynamic input, foldable weights);
2. ``onnxruntime.quantization``'s pre-processing (batch norms folded into the convolutions),
   then opset 13 (per-channel ``DequantizeLinear`` needs its ``axis``);
3. ``quantize_static`` with the activation ranges of :data:`RANGES_FILE`, a JSON file shipped
   with this package: the min / max of every activation over :func:`calibration_images` (the
   six studio portraits of ``tests/data/photos``, CC BY 4.0, pasted at face sizes of 12-400 px
   on 640 px canvases), measured once by :func:`measure_ranges` and written by
   ``.venv/bin/python -m algorithms.detect.centerface_model``. Shipping the ranges, not the
   pictures, makes the build deterministic: the same original, ranges and library versions give the
   same bytes on every machine (float kernels differ in their last bits between CPUs, so
   ranges re-measured on each machine would not);
4. the graph's input becomes **uint8** planes (1 x 3 x H x W): the input range is pinned to
   [0, 255], so the first ``QuantizeLinear`` (scale 1, zero point 0) is the identity and is
   removed; the caller hands the pixels over without a float copy (a 6 MP float blob cost
   ~100 ms to lay out in NumPy).

The result is cached next to the original as ``centerface_int8-<key>.onnx``, where ``key``
digests the original's sha256, the ranges, this recipe's version and the onnx /
onnxruntime versions (another version of either makes a new file; older ones are removed).
A model directory that cannot be written keeps the file in memory for the process. The
build needs the ``onnx`` package and takes ~3 s, once per machine.
"""
from __future__ import annotations

import hashlib
import json
import logging
import os
import tempfile
import threading
from pathlib import Path

import numpy as np

__all__ = ["dynamic_model", "build", "int8_model", "cache_key", "measure_ranges",
           "calibration_images", "RANGES_FILE", "RECIPE", "INPUT", "OUTPUTS"]

log = logging.getLogger(__name__)

RANGES_FILE = Path(__file__).with_name("centerface_int8_ranges.json")
RECIPE = 1                  # bump when the steps above change
INPUT = "input.1"
_lock = threading.Lock()
_memory: dict = {}


def _varint(buf, i: int) -> tuple[int, int]:
    shift = result = 0
    while True:
        b = buf[i]
        i += 1
        result |= (b & 0x7F) << shift
        if not b & 0x80:
            return result, i
        shift += 7


def _enc_varint(v: int) -> bytes:
    out = bytearray()
    while True:
        b, v = v & 0x7F, v >> 7
        out.append(b | 0x80 if v else b)
        if not v:
            return bytes(out)


def _fields(buf):
    """A protobuf message's fields: (number, wire type, raw bytes of the field, value)."""
    i, n, out = 0, len(buf), []
    while i < n:
        key, j = _varint(buf, i)
        num, wt = key >> 3, key & 7
        if wt == 0:
            k = _varint(buf, j)[1]
        elif wt == 1:
            k = j + 8
        elif wt == 2:
            length, j = _varint(buf, j)
            k = j + length
        elif wt == 5:
            k = j + 4
        else:
            raise ValueError(f"unsupported protobuf wire type {wt}")
        out.append((num, wt, buf[i:k], buf[j:k]))
        i = k
    return out


def _ld(num: int, payload: bytes) -> bytes:
    return _enc_varint(num << 3 | 2) + _enc_varint(len(payload)) + payload


def _string(msg, number: int) -> str | None:
    for num, wt, _, val in _fields(msg):
        if num == number and wt == 2:
            return bytes(val).decode()
    return None


def _value_info(name: str, dims) -> bytes:
    """ValueInfoProto {name, type: {tensor_type: {elem_type: FLOAT, shape: dims}}}."""
    shape = b"".join(_ld(1, _enc_varint(1 << 3) + _enc_varint(d)) if isinstance(d, int)
                     else _ld(1, _ld(2, d.encode())) for d in dims)
    tensor = _enc_varint(1 << 3) + _enc_varint(1) + _ld(2, shape)
    return _ld(1, name.encode()) + _ld(2, _ld(1, tensor))


_DYNAMIC = {"input.1": ("B", 3, "H", "W"), "537": ("B", 1, "h", "w"),
            "538": ("B", 2, "h", "w"), "539": ("B", 2, "h", "w"), "540": ("B", 10, "h", "w")}
OUTPUTS = ("537", "538", "539", "540")     # heatmap, log size, offset, landmarks


def dynamic_model(model: bytes) -> bytes:
    """``centerface.onnx`` with a dynamic input (B x 3 x H x W) and outputs.

    ModelProto.graph (7) -> GraphProto: initializer (5, TensorProto.name = 8), input (11),
    output (12), value_info (13); ValueInfoProto: name (1), type (2).
    """
    out = bytearray()
    for num, wt, raw, val in _fields(memoryview(model)):
        if num != 7 or wt != 2:
            out += raw
            continue
        graph = _fields(val)
        weights = {_string(v, 8) for n, _, _, v in graph if n == 5}
        g = bytearray()
        for n, _, r, v in graph:
            if n in (11, 12):
                name = _string(v, 1)
                if name in _DYNAMIC:
                    g += _ld(n, _value_info(name, _DYNAMIC[name]))
                    continue
                if n == 11 and name in weights:
                    continue            # a weight listed as an input: not foldable
            if n == 13:
                continue                # intermediate shapes of the 32 x 32 export
            g += r
        out += _ld(7, bytes(g))
    return bytes(out)



# ------------------------------------------------------------------ int8
def _versions() -> str:
    """The library versions the build depends on (read from the installed metadata: no
    import of onnx when the cached file is used). PackageNotFoundError (an ImportError)
    without onnx: the caller falls back to float32."""
    from importlib.metadata import version

    return f"onnx {version('onnx')}, onnxruntime {version('onnxruntime')}"


def cache_key(original: bytes) -> str:
    """12 hex digits naming the int8 file built from ``original`` by this recipe."""
    h = hashlib.sha256()
    for part in (hashlib.sha256(original).hexdigest(), RANGES_FILE.read_bytes(),
                 f"recipe {RECIPE}", _versions()):
        h.update(part.encode() if isinstance(part, str) else part)
        h.update(b"\0")
    return h.hexdigest()[:12]


def _prepared(original: bytes, tmp: Path) -> Path:
    """Steps 1 and 2: the float model, dynamic, batch norms folded, opset 13."""
    import onnx
    from onnx import version_converter
    from onnxruntime.quantization.shape_inference import quant_pre_process

    src, pre, out = tmp / "fp32.onnx", tmp / "pre.onnx", tmp / "pre13.onnx"
    src.write_bytes(dynamic_model(original))
    quant_pre_process(str(src), str(pre), skip_symbolic_shape=True)
    onnx.save(version_converter.convert_version(onnx.load(str(pre)), 13), str(out))
    return out


def _uint8_input(model) -> None:
    """Step 4: feed the first DequantizeLinear from a uint8 input instead of quantising a
    float one (scale 1, zero point 0: the same numbers)."""
    import onnx
    from onnx import numpy_helper

    graph = model.graph
    init = {t.name: numpy_helper.to_array(t) for t in graph.initializer}
    [quant] = [n for n in graph.node if n.op_type == "QuantizeLinear" and n.input[0] == INPUT]
    scale, zero = init[quant.input[1]], init[quant.input[2]]
    if float(scale) != 1.0 or int(zero) != 0 or zero.dtype != np.uint8:
        raise ValueError(f"the input is quantised with scale {scale}, zero point {zero}: "
                         "expected 1 and uint8 0 (the ranges file pins [0, 255])")
    for node in graph.node:
        for k, name in enumerate(node.input):
            if name == quant.output[0]:
                node.input[k] = INPUT
    graph.node.remove(quant)
    [inp] = [i for i in graph.input if i.name == INPUT]
    inp.type.tensor_type.elem_type = onnx.TensorProto.UINT8


def build(original: bytes) -> bytes:
    """The int8 model built from the verified ``centerface.onnx`` bytes (see the module
    docstring); deterministic."""
    import onnx
    from onnxruntime.quantization import CalibrationMethod, QuantFormat, QuantType, quantize_static
    from onnxruntime.quantization.calibrate import TensorData, TensorsData, save_tensors_data

    spec = json.loads(RANGES_FILE.read_text())
    ranges = TensorsData(CalibrationMethod.MinMax, {
        name: TensorData(lowest=np.float32(lo), highest=np.float32(hi))
        for name, (lo, hi) in spec["ranges"].items()})
    with tempfile.TemporaryDirectory(prefix="centerface-int8-") as d:
        tmp = Path(d)
        prepared = _prepared(original, tmp)
        save_tensors_data(ranges, tmp / "ranges.json")
        quantize_static(str(prepared), str(tmp / "int8.onnx"), None,
                        quant_format=QuantFormat.QDQ, activation_type=QuantType.QUInt8,
                        weight_type=QuantType.QInt8, per_channel=True,
                        calibrate_method=CalibrationMethod.MinMax,
                        calibration_cache_path=str(tmp / "ranges.json"))
        model = onnx.load(str(tmp / "int8.onnx"))
    _uint8_input(model)
    return model.SerializeToString(deterministic=True)


def int8_model(original: bytes, directory: Path) -> bytes:
    """The int8 model for ``original``: from ``directory``'s cache, else built and cached
    (atomically; in memory when ``directory`` cannot be written)."""
    key = cache_key(original)
    path = directory / f"centerface_int8-{key}.onnx"
    with _lock:
        if key in _memory:
            return _memory[key]
        try:
            return path.read_bytes()
        except OSError:
            pass
        log.info("building the int8 CenterFace model %s (once per machine)", path.name)
        data = build(original)
        try:
            fd, tmp = tempfile.mkstemp(dir=directory, prefix=f".{path.name}.")
            with os.fdopen(fd, "wb") as fh:
                fh.write(data)
            os.chmod(tmp, 0o644)
            os.replace(tmp, path)
            for old in directory.glob("centerface_int8-*.onnx"):
                if old != path:
                    old.unlink(missing_ok=True)
        except OSError as exc:
            log.warning("could not cache %s (%s); keeping it in memory", path, exc)
            _memory[key] = data
        return data


# ------------------------------------------------------------------ calibration (dev time)
CALIBRATION_FACES = (12, 16, 20, 28, 40, 64, 100, 160, 250, 400)   # px, face box side


def calibration_images(photos_dir: Path) -> list[np.ndarray]:
    """640 x 640 RGB canvases (smooth colour + noise) with the portraits of ``photos_dir``
    pasted so that their faces measure :data:`CALIBRATION_FACES` px (a portrait's face is
    about half its side)."""
    import cv2
    from PIL import Image

    rng = np.random.default_rng(8)
    out = []
    for p in sorted(photos_dir.glob("*.jpg")):
        with Image.open(p) as im:
            rgb = np.asarray(im.convert("RGB"))
        for face in CALIBRATION_FACES:
            side = min(640, 2 * face)
            low = rng.uniform(40, 220, (3, 3, 3)).astype(np.float32)
            canvas = cv2.resize(low, (640, 640), interpolation=cv2.INTER_CUBIC)
            canvas += rng.normal(0, 6, canvas.shape).astype(np.float32)
            canvas = canvas.clip(0, 255).astype(np.uint8)
            x, y = (int(v) for v in rng.integers(0, 640 - side + 1, 2))
            canvas[y:y + side, x:x + side] = cv2.resize(rgb, (side, side),
                                                        interpolation=cv2.INTER_AREA)
            out.append(canvas)
    return out


def measure_ranges(original: bytes, images: list[np.ndarray]) -> dict:
    """Min / max of every activation of the prepared float model over ``images``; the
    input's range pinned to [0, 255]."""
    from onnxruntime.quantization import CalibrationDataReader, CalibrationMethod
    from onnxruntime.quantization.calibrate import create_calibrator

    class Reader(CalibrationDataReader):
        def __init__(self):
            self.items = iter(images)

        def get_next(self):
            img = next(self.items, None)
            if img is None:
                return None
            return {INPUT: np.ascontiguousarray(np.moveaxis(img, 2, 0))[None]
                    .astype(np.float32)}

    with tempfile.TemporaryDirectory(prefix="centerface-calib-") as d:
        prepared = _prepared(original, Path(d))
        calibrator = create_calibrator(prepared, None,
                                       augmented_model_path=str(Path(d) / "augmented.onnx"),
                                       calibrate_method=CalibrationMethod.MinMax)
        calibrator.collect_data(Reader())
        data = calibrator.compute_data()
    ranges = {name: [float(np.asarray(v, np.float32).reshape(-1)[0]) for v in t.range_value]
              for name, t in sorted(data.data.items())}
    ranges[INPUT] = [0.0, 255.0]
    return ranges


def main() -> None:  # pragma: no cover - a dev-time tool
    """Re-measure the activation ranges from ``tests/data/photos`` into :data:`RANGES_FILE`."""
    from algorithms import model_files

    photos = Path(__file__).resolve().parents[2] / "tests" / "data" / "photos"
    images = calibration_images(photos)
    ranges = measure_ranges(model_files.path("centerface").read_bytes(), images)
    about = ("CenterFace activation ranges (min, max) over the calibration canvases of "
             "algorithms/detect/centerface_model.py: the six portraits of tests/data/photos (Face "
             "Research Lab London Set, CC BY 4.0) at face sizes "
             f"{list(CALIBRATION_FACES)} px; regenerate: .venv/bin/python -m "
             "algorithms.detect.centerface_model")
    lines = [f'  "{k}": [{lo!r}, {hi!r}]' for k, (lo, hi) in ranges.items()]
    RANGES_FILE.write_text(f'{{"about": {json.dumps(about)},\n "images": {len(images)},\n'
                           f' "ranges": {{\n' + ",\n".join(lines) + "\n }\n}\n")
    print(f"{RANGES_FILE}: {len(ranges)} tensors from {len(images)} canvases")


if __name__ == "__main__":  # pragma: no cover
    main()
