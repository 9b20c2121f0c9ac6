"""Compile the package's .po catalogues into HOME/locale (compiled files are never committed)."""

from __future__ import annotations

import hashlib
import logging
import tempfile
from pathlib import Path

from django.conf import settings
from django.utils.functional import lazy

log = logging.getLogger(__name__)


def ensure_compiled() -> list[Path]:
    """Compile every .po whose content differs from what its .mo was built from.

    The .po's SHA-256 is kept beside the .mo: file times are not enough (a checkout or a copy
    can leave an old .mo newer than a changed .po).
    """
    from babel.messages.mofile import write_mo
    from babel.messages.pofile import read_po

    source: Path = settings.LOCALE_SOURCE
    target: Path = Path(settings.LOCALE_PATHS[0])
    written = []
    for po in sorted(source.glob("*/LC_MESSAGES/*.po")):
        mo = target / po.relative_to(source).with_suffix(".mo")
        stamp = mo.with_suffix(".mo.sha256")
        digest = hashlib.sha256(po.read_bytes()).hexdigest()
        if mo.exists() and stamp.exists() and stamp.read_text() == digest:
            continue
        mo.parent.mkdir(parents=True, exist_ok=True)
        with po.open("rb") as f:
            catalog = read_po(f, locale=po.parts[-3])
        # Processes starting together on a new home may compile at once: each writes its own
        # temporary files and renames them into place, so none sees a half-written catalogue.
        with tempfile.NamedTemporaryFile(dir=mo.parent, suffix=".mo.tmp", delete=False) as f:
            write_mo(f, catalog, use_fuzzy=False)
        Path(f.name).replace(mo)
        with tempfile.NamedTemporaryFile(
            "w", dir=mo.parent, suffix=".sha256.tmp", delete=False
        ) as f:
            f.write(digest)
        Path(f.name).replace(stamp)
        written.append(mo)
    if written:
        log.info("compiled %d translation catalogue(s)", len(written))
        _forget_loaded_catalogues()
    return written


def _forget_loaded_catalogues() -> None:
    """Drop catalogues Django loaded before ours existed, so the new ones are read."""
    import gettext

    from asgiref.local import Local
    from django.utils.translation import trans_real

    gettext._translations.clear()  # the standard library's own cache of parsed .mo files
    trans_real._translations = {}
    trans_real._default = None
    trans_real._active = Local()


def _pick(zh: str, en: str) -> str:
    from django.utils.translation import get_language

    return en if (get_language() or "").startswith("en") else zh


bilingual = lazy(_pick, str)
"""A label given in both languages by a code list (not a msgid): shown in the active one."""
