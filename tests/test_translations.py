"""The Chinese and English catalogues are complete: every string in the code is translated."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

SRC = Path(__file__).resolve().parents[1] / "src" / "cuishou"
LOCALE = SRC / "locale"
CUISHOU = Path(sys.executable).with_name("cuishou")

pytestmark = pytest.mark.skipif(
    shutil.which("msgcmp") is None or shutil.which("xgettext") is None,
    reason="GNU gettext is not installed (make test installs it)",
)


def _extract(tmp_path: Path) -> Path:
    """Run makemessages on a copy of the source; return the freshly extracted zh_Hans catalogue."""
    copy = tmp_path / "cuishou"
    shutil.copytree(SRC, copy, ignore=shutil.ignore_patterns("locale", "__pycache__", "*.mo"))
    (copy / "locale").mkdir()
    subprocess.run(
        [str(CUISHOU), "makemessages", "-l", "zh_Hans", "--no-location", "-v", "0"],
        cwd=copy,
        check=True,
        capture_output=True,
    )
    return copy / "locale" / "zh_Hans" / "LC_MESSAGES" / "django.po"


@pytest.mark.parametrize("language", ["zh_Hans", "en"])
def test_every_string_in_the_code_has_a_translation(tmp_path: Path, language: str) -> None:
    extracted = _extract(tmp_path)
    committed = LOCALE / language / "LC_MESSAGES" / "django.po"
    assert committed.exists(), f"missing catalogue {committed}"
    result = subprocess.run(
        ["msgcmp", str(committed), str(extracted)], capture_output=True, text=True
    )
    missing = [line for line in result.stderr.splitlines() if "this message" in line]
    assert result.returncode == 0, (
        f"{language}: {len(missing)} strings without a translation "
        f"(run `make messages` and translate them):\n{result.stderr[:3000]}"
    )


@pytest.mark.parametrize("language", ["zh_Hans", "en"])
def test_catalogue_compiles_without_errors(language: str) -> None:
    po = LOCALE / language / "LC_MESSAGES" / "django.po"
    result = subprocess.run(
        ["msgfmt", "--check", "--statistics", "-o", "/dev/null", str(po)],
        capture_output=True,
        text=True,
    )
    assert result.returncode == 0, result.stderr
    assert "untranslated" not in result.stderr and "fuzzy" not in result.stderr, result.stderr
