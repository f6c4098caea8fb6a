"""LibreOffice Calc (headless, Debian's `libreoffice-calc`) as an independent spreadsheet reader.

A conversion starts a whole office suite (seconds), so tests hand it every file at once: one
`soffice --convert-to` call per kind of input, with a profile folder of its own (a shared or default
profile would lock against other runs on the machine).

- `.xlsx` needs no import options at all. The CSV it is written to uses LibreOffice's export options
  `44,34,76,1,,0,false,true,true`: comma, double quote, UTF-8, and the 9th token, "save cell contents
  as shown", so a time reads as its format shows it (without it Calc writes `12:00:01 AM`).
- `.csv` is imported as UTF-8 (`--infilter`, token 3 = 76), the choice Calc's import dialog offers
  once the byte-order mark has told it the file is UTF-8; then written back out the same way.
"""

from __future__ import annotations

import csv
import shutil
import subprocess
from collections.abc import Sequence
from pathlib import Path

import pytest

SOFFICE = shutil.which("soffice") or shutil.which("libreoffice")
CSV_OUT = "csv:Text - txt - csv (StarCalc):44,34,76,1,,0,false,true,true"
CSV_IN_UTF8 = "--infilter=Text - txt - csv (StarCalc):44,34,76,1"
TIMEOUT_SECONDS = 600

needs_libreoffice = pytest.mark.skipif(SOFFICE is None, reason="LibreOffice is not installed (.ci/run installs it)")


def convert_to_csv(files: Sequence[Path], out_dir: Path, profile: Path, csv_input: bool = False) -> dict[Path, Path]:
    """Convert every file in one soffice call; the CSV written for each, by input path."""
    assert SOFFICE is not None
    assert len({file.stem for file in files}) == len(files), "the outputs are named after the inputs' stems"
    out_dir.mkdir(parents=True, exist_ok=True)
    command = [SOFFICE, f"-env:UserInstallation={profile.resolve().as_uri()}", "--headless", "--norestore"]
    if csv_input:
        command.append(CSV_IN_UTF8)
    command += ["--convert-to", CSV_OUT, "--outdir", str(out_dir), *map(str, files)]
    finished = subprocess.run(command, capture_output=True, text=True, timeout=TIMEOUT_SECONDS, check=False)
    converted = {file: out_dir / f"{file.stem}.csv" for file in files}
    missing = [str(file) for file, out in converted.items() if not out.is_file()]
    assert finished.returncode == 0 and not missing, f"soffice: {finished.stdout}\n{finished.stderr}\n{missing}"
    return converted


def read_rows(path: Path) -> list[list[str]]:
    """The cells of a CSV LibreOffice wrote (UTF-8, no byte-order mark)."""
    with path.open(encoding="utf-8", newline="") as stream:
        return list(csv.reader(stream, strict=True))
