"""The published statistics as files in a folder (CROSSROADS_STATISTICS_EXPORT_DIR/published):
`<table>.csv`, `<table>.parquet` and `<table>.json` (the metadata).

Each file is written beside its final name and renamed over it, so a download never reads half
a file; the metadata goes last, so a table listed is a table whose data is complete.
"""

from __future__ import annotations

import asyncio
import csv
import io
import json
import os
import re
from pathlib import Path
from typing import Any

import pyarrow
import pyarrow.parquet

from ..services.ports import Columns, OpenData

_FILE = re.compile(r"^[a-z0-9_]{1,64}\.(csv|parquet|json)$")


class FolderOpenData(OpenData):
    def __init__(self, folder: Path) -> None:
        self.folder = folder

    async def write(self, name: str, columns: Columns, metadata: dict[str, Any]) -> None:
        await asyncio.to_thread(self._write, name, columns, metadata)

    def _write(self, name: str, columns: Columns, metadata: dict[str, Any]) -> None:
        self.folder.mkdir(parents=True, exist_ok=True)
        text = io.StringIO()
        writer = csv.writer(text, lineterminator="\n")
        writer.writerow(list(columns))
        writer.writerows(zip(*columns.values(), strict=True))
        self._replace(f"{name}.csv", lambda path: path.write_text(text.getvalue()))
        self._replace(
            f"{name}.parquet",
            lambda path: pyarrow.parquet.write_table(pyarrow.table(columns), path),
        )
        body = json.dumps(metadata, indent=2, ensure_ascii=False) + "\n"
        self._replace(f"{name}.json", lambda path: path.write_text(body))

    def _replace(self, filename: str, write) -> None:
        final = self.folder / filename
        partial = self.folder / f".{filename}.partial"
        write(partial)
        os.replace(partial, final)

    async def tables(self) -> list[dict[str, Any]]:
        def read() -> list[dict[str, Any]]:
            if not self.folder.is_dir():
                return []
            return [json.loads(p.read_text()) for p in sorted(self.folder.glob("*.json"))]

        return await asyncio.to_thread(read)

    async def rows(self, name: str) -> list[dict[str, str]]:
        path = self.file(f"{name}.csv")
        if path is None:
            return []
        text = await asyncio.to_thread(path.read_text)
        return list(csv.DictReader(io.StringIO(text)))

    def file(self, filename: str) -> Path | None:
        if not _FILE.match(filename):
            return None
        path = self.folder / filename
        return path if path.is_file() else None
