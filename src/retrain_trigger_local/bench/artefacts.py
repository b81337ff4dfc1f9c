"""What `sam build` left in .aws-sam/build: bytes per function and layer, and when it was built. Never built here."""

from __future__ import annotations

import io
import zipfile
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from retrain_trigger_local.runtime import ROOT

BUILD_DIR = ROOT / ".aws-sam" / "build"
_SKIPPED = frozenset({"__pycache__"})


@dataclass(frozen=True)
class Artefact:
    name: str
    files: int
    bytes_on_disk: int
    zipped_bytes: int  # deflated, as `sam deploy` uploads it


@dataclass(frozen=True)
class BuildSizes:
    directory: str
    built_at: str | None  # the build template's modification time, UTC; None: not built
    artefacts: tuple[Artefact, ...]

    @property
    def built(self) -> bool:
        return self.built_at is not None


def _files(directory: Path) -> list[Path]:
    return sorted(p for p in directory.rglob("*") if p.is_file() and not _SKIPPED & set(p.parts))


def _zipped(directory: Path, files: list[Path]) -> int:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for path in files:
            archive.write(path, path.relative_to(directory))
    return buffer.tell()


def build_sizes(build_dir: Path = BUILD_DIR) -> BuildSizes:
    shown = str(build_dir.relative_to(ROOT)) if build_dir.is_relative_to(ROOT) else str(build_dir)
    template = build_dir / "template.yaml"
    if not template.is_file():
        return BuildSizes(shown, None, ())
    built_at = datetime.fromtimestamp(template.stat().st_mtime, UTC).strftime("%Y-%m-%d %H:%M UTC")
    artefacts = []
    for directory in sorted(p for p in build_dir.iterdir() if p.is_dir()):
        files = _files(directory)
        artefacts.append(
            Artefact(directory.name, len(files), sum(p.stat().st_size for p in files), _zipped(directory, files))
        )
    return BuildSizes(shown, built_at, tuple(artefacts))
