"""Where a bundle's files come from: a folder or a zip archive, with a size limit."""

from __future__ import annotations

import zipfile
from pathlib import Path, PurePosixPath
from typing import Protocol

from site_node.ingest.problems import BundleError, Problem


class BundleSource(Protocol):
    """Read-only access to the files of one bundle, by path relative to its manifest."""

    label: str

    def exists(self, name: str) -> bool: ...

    def read(self, name: str) -> bytes: ...


def _too_big(name: str, size: int, limit: int) -> BundleError:
    mib = 1024 * 1024
    return BundleError([Problem(
        file=name,
        message=f"file is {size / mib:.1f} MiB; the limit is {limit / mib:.0f} MiB "
        "(raise it with TWINFED_SITE_MAX_FILE_MB if this is expected)",
    )])


class FolderSource:
    def __init__(self, root: Path, max_file_bytes: int) -> None:
        self.root = root
        self.label = str(root)
        self._max = max_file_bytes

    def _path(self, name: str) -> Path:
        path = (self.root / name).resolve()
        if not path.is_relative_to(self.root.resolve()):
            raise BundleError([Problem(file=name, message="path leaves the bundle folder")])
        return path

    def exists(self, name: str) -> bool:
        return self._path(name).is_file()

    def read(self, name: str) -> bytes:
        path = self._path(name)
        size = path.stat().st_size
        if size > self._max:
            raise _too_big(name, size, self._max)
        return path.read_bytes()


class ZipSource:
    """A zip bundle; the manifest may sit at the root or inside one top-level folder."""

    def __init__(self, path: Path, max_file_bytes: int) -> None:
        self.label = str(path)
        self._max = max_file_bytes
        try:
            self._zip = zipfile.ZipFile(path)
            names = self._zip.namelist()
        except (zipfile.BadZipFile, OSError, EOFError) as exc:
            raise BundleError([Problem(
                file=path.name,
                message=f"not a readable zip archive (truncated or corrupt?): {exc}",
            )]) from exc
        self._prefix = ""
        if "manifest.json" not in names:
            tops = {PurePosixPath(n).parts[0] for n in names if n.strip("/")}
            if len(tops) == 1 and f"{next(iter(tops))}/manifest.json" in names:
                self._prefix = f"{next(iter(tops))}/"
        self._names = set(names)

    def _member(self, name: str) -> str:
        return self._prefix + str(PurePosixPath(name))

    def exists(self, name: str) -> bool:
        return self._member(name) in self._names

    def read(self, name: str) -> bytes:
        member = self._member(name)
        info = self._zip.getinfo(member)
        if info.file_size > self._max:
            raise _too_big(name, info.file_size, self._max)
        try:
            return self._zip.read(member)
        except (zipfile.BadZipFile, OSError, EOFError, ValueError) as exc:
            raise BundleError([Problem(
                file=name, message=f"cannot be read from the zip (truncated or corrupt?): {exc}",
            )]) from exc

    def close(self) -> None:
        self._zip.close()


def open_source(path: Path, max_file_bytes: int) -> FolderSource | ZipSource:
    """Open a bundle folder or zip; refuse anything else with a clear message."""
    if path.is_dir():
        return FolderSource(path, max_file_bytes)
    if path.is_file():
        return ZipSource(path, max_file_bytes)
    raise BundleError([Problem(file=str(path), message="no such bundle folder or zip file")])
