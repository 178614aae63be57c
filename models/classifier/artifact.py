"""The classifier's versioned artefacts: ``artifacts/<version>/model.skops`` + ``metrics.json``.

``artifacts/CURRENT`` names the version the pipeline uses. The model is saved with skops, which
never executes code on load: :func:`load` refuses a file holding any type outside
:data:`TRUSTED_TYPES`, and refuses a model trained with another scikit-learn major.minor version
than the one installed (retrain instead: ``jobreqs train-classifier``). It also refuses, before
reading any array, a version name that is not a plain folder name inside the artefacts folder
(``CURRENT`` saying ``../../elsewhere``), an artefact whose arrays or files would take more than
:data:`MAX_UNPACKED_BYTES` (a small file can declare a huge array), and a threshold that is not a
number between 0 and 1.
"""

from __future__ import annotations

import json
import os
import re
import zipfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np

ARTIFACTS_DIR = Path(__file__).resolve().parent / "artifacts"
MODEL_FILE = "model.skops"
METRICS_FILE = "metrics.json"
CURRENT_FILE = "CURRENT"

#: Every type a classifier artefact may contain; anything else is refused on load.
TRUSTED_TYPES = [
    "models.classifier.features.TokenCounter",
    "models.classifier.features.TaxonomyMatchCounter",
    "sklearn.pipeline.FeatureUnion",
    "sklearn.feature_extraction.text.TfidfTransformer",
    "sklearn.linear_model._logistic.LogisticRegression",
    "sklearn.pipeline.Pipeline",
    "collections.OrderedDict",
    "builtins.dict",
    "builtins.list",
    "builtins.tuple",
    "builtins.str",
    "builtins.int",
    "builtins.float",
    "builtins.bool",
    "builtins.NoneType",
    "numpy.ndarray",
    "numpy.dtype",
    "numpy.float64",
    "numpy.int64",
    "numpy.int32",
]


#: Most bytes an artefact may unpack to, all files and arrays together (the shipped one: ~3 MB).
MAX_UNPACKED_BYTES = 256 * 1024 * 1024
_VERSION_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,63}")


class ArtifactError(RuntimeError):
    """The artefact is missing, holds untrusted types, or was made by another scikit-learn."""


def _version_folder(directory: Path, version: str) -> Path:
    """``directory/version``, refusing a name that could point anywhere else."""
    if not _VERSION_NAME.fullmatch(version) or version in (".", ".."):
        raise ArtifactError(f"classifier version {version[:80]!r} is not a plain folder name")
    folder = (directory / version).resolve()
    if folder.parent != directory.resolve():
        raise ArtifactError(f"classifier version {version!r} is outside {directory}")
    return folder


def _check_sizes(model_path: Path) -> None:
    """Refuse an artefact whose files or arrays would unpack to more than MAX_UNPACKED_BYTES, or
    whose array headers declare more data than the file holds (numpy would allocate it first)."""
    from numpy.lib import format as npy

    total = 0
    try:
        with zipfile.ZipFile(model_path) as archive:
            for info in archive.infolist():
                total += info.file_size
                if total > MAX_UNPACKED_BYTES:
                    raise ArtifactError(f"classifier artefact unpacks to more than {MAX_UNPACKED_BYTES} bytes")
                if not info.filename.endswith(".npy"):
                    continue
                with archive.open(info) as handle:
                    major, _ = npy.read_magic(handle)
                    if major not in (1, 2):
                        raise ArtifactError(f"classifier artefact array {info.filename} has npy format {major}")
                    read_header = npy.read_array_header_1_0 if major == 1 else npy.read_array_header_2_0
                    shape, _, dtype = read_header(handle, max_header_size=10_000)
                    header = handle.tell()
                if dtype.hasobject:
                    raise ArtifactError(f"classifier artefact array {info.filename} holds Python objects")
                declared = int(np.prod(shape, dtype=np.float64)) * dtype.itemsize
                if declared > info.file_size - header or declared > MAX_UNPACKED_BYTES:
                    raise ArtifactError(f"classifier artefact array {info.filename} declares {declared} bytes "
                                        f"in a {info.file_size}-byte entry")
    except (zipfile.BadZipFile, ValueError, OSError) as exc:
        raise ArtifactError(f"classifier artefact {model_path.name} is unreadable: {exc}") from None


def artifacts_dir() -> Path:
    """Where versions live: ``$JOBREQS_CLASSIFIER_ARTIFACTS`` or ``models/classifier/artifacts``."""
    return Path(os.environ.get("JOBREQS_CLASSIFIER_ARTIFACTS") or ARTIFACTS_DIR)


@dataclass
class Classifier:
    """A loaded model: the fitted pipeline, its decision threshold and its recorded metrics."""

    pipeline: object
    threshold: float
    version: str
    metrics: dict

    def scores(self, paragraphs: list[str]) -> np.ndarray:
        """Probability that each paragraph names a technology (one vectorised call)."""
        if not paragraphs:
            return np.zeros(0)
        return self.pipeline.predict_proba(paragraphs)[:, 1]


def current_version(directory: Path | None = None) -> str | None:
    """The version named by ``CURRENT``, or None when no model was trained yet."""
    path = (directory or artifacts_dir()) / CURRENT_FILE
    return path.read_text().strip() or None if path.exists() else None


def _minor(version: str) -> tuple[str, ...]:
    return tuple(version.split(".")[:2])


def load(version: str | None = None, directory: Path | None = None) -> Classifier:
    """Load a version (default: the current one), checking trusted types and scikit-learn version."""
    import sklearn
    import skops.io as sio

    directory = directory or artifacts_dir()
    version = version or current_version(directory)
    if not version:
        raise ArtifactError(f"no classifier in {directory}: run `jobreqs train-classifier`")
    folder = _version_folder(directory, version)
    model_path = folder / MODEL_FILE
    metrics_path = folder / METRICS_FILE
    if not model_path.exists() or not metrics_path.exists():
        raise ArtifactError(f"classifier version {version} is incomplete in {directory}")
    metrics = json.loads(metrics_path.read_text())
    threshold = metrics.get("threshold")
    if isinstance(threshold, bool) or not isinstance(threshold, (int, float)) or not 0 <= threshold <= 1:
        raise ArtifactError(f"classifier {version} has threshold {threshold!r}: it must be a number from 0 to 1")
    trained_with = metrics.get("sklearn_version", "")
    if _minor(trained_with) != _minor(sklearn.__version__):
        raise ArtifactError(
            f"classifier {version} was trained with scikit-learn {trained_with or '?'}, "
            f"this is {sklearn.__version__}: retrain it with `jobreqs train-classifier`"
        )
    _check_sizes(model_path)
    untrusted = sorted(set(sio.get_untrusted_types(file=model_path)) - set(TRUSTED_TYPES))
    if untrusted:
        raise ArtifactError(f"classifier {version} holds untrusted types {untrusted}: not loading it")
    pipeline = sio.load(model_path, trusted=TRUSTED_TYPES)
    return Classifier(pipeline=pipeline, threshold=float(metrics["threshold"]), version=version, metrics=metrics)


def save(pipeline, metrics: dict, version: str, directory: Path | None = None, make_current: bool = True) -> Path:
    """Write a new version folder (model + metrics) and point ``CURRENT`` at it; returns the folder."""
    import skops.io as sio

    directory = directory or artifacts_dir()
    folder = directory / version
    if folder.exists():
        raise ArtifactError(f"classifier version {version} already exists in {directory}")
    tmp = directory / f".{version}.tmp"
    tmp.mkdir(parents=True, exist_ok=False)
    sio.dump(pipeline, tmp / MODEL_FILE, compression=zipfile.ZIP_DEFLATED)
    (tmp / METRICS_FILE).write_text(json.dumps(metrics, indent=2, sort_keys=True) + "\n")
    tmp.rename(folder)
    if make_current:
        current = directory / f".{CURRENT_FILE}.tmp"
        current.write_text(version + "\n")
        current.replace(directory / CURRENT_FILE)
    return folder


def next_version(directory: Path | None = None) -> str:
    """``v<N+1>`` after the highest ``v<N>`` folder present."""
    directory = directory or artifacts_dir()
    numbers = [int(p.name[1:]) for p in directory.glob("v*") if p.is_dir() and p.name[1:].isdigit()]
    return f"v{max(numbers, default=0) + 1}"
