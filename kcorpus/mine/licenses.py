"""License of a repository from its license file, and the class of an SPDX id."""

from __future__ import annotations

import re
from pathlib import Path

LICENSE_FILES = ("LICENSE", "LICENSE.md", "LICENSE.txt", "LICENCE", "COPYING", "COPYING.md",
                 "LICENSE-MIT", "LICENSE-APACHE")

# License names, as (SPDX id, pattern over the lower-cased, whitespace-collapsed text). License
# texts cite one another by name (the GPL v2 names the LGPL at its end, the MPL 2.0 names the GPL,
# LGPL and AGPL), so the name that comes first in the file is its own; at the same place (GPL
# "version 3" and GPL), the first in this list wins.
_TITLES: list[tuple[str, str]] = [
    ("AGPL-3.0", r"gnu affero general public license"),
    ("LGPL-3.0", r"gnu lesser general public license\W+version 3"),
    ("LGPL-2.1", r"gnu lesser general public license|gnu library general public license"),
    ("GPL-3.0", r"gnu general public license\W+version 3"),
    ("GPL-2.0", r"gnu general public license"),
    ("MPL-2.0", r"mozilla public license"),
    ("Apache-2.0", r"apache license,? version 2\.0|apache license\s+version 2\.0"),
    ("CC0-1.0", r"cc0 1\.0 universal"),
]

# Licenses known by their clauses rather than a name; first match wins.
_CLAUSES: list[tuple[str, str]] = [
    ("MIT", r"permission is hereby granted, free of charge, to any person obtaining a copy"),
    ("BSD-3-Clause", r"neither the name of .{0,200} nor the names of its contributors"),
    ("BSD-2-Clause", r"redistributions in binary form must reproduce the above copyright"),
    ("ISC", r"permission to use, copy, modify, and/or distribute this software for any purpose"),
    ("Unlicense", r"this is free and unencumbered software released into the public domain"),
    ("CC-BY-NC-4.0", r"attribution-noncommercial"),
]

COPYLEFT = {"AGPL-3.0", "LGPL-3.0", "LGPL-2.1", "GPL-3.0", "GPL-2.0", "MPL-2.0", "CC-BY-NC-4.0"}


def detect_license(root: Path) -> str:
    """SPDX id of the license file at the root of `root`, 'unknown' if unrecognised, 'none'."""
    for name in LICENSE_FILES:
        p = root / name
        if p.is_file() and not p.is_symlink():
            text = " ".join(p.read_text(errors="replace")[:20_000].lower().split())
            return _identify(text)
    return "none"


def _identify(text: str) -> str:
    titles = [(m.start(), i, spdx) for i, (spdx, pattern) in enumerate(_TITLES)
              if (m := re.search(pattern, text))]
    if titles:
        return min(titles)[2]
    return next((spdx for spdx, pattern in _CLAUSES if re.search(pattern, text)), "unknown")


def license_class(spdx: str, permissive: list[str]) -> str:
    if spdx in permissive:
        return "permissive"
    if spdx in COPYLEFT:
        return "copyleft"
    return "none" if spdx == "none" else "unknown"


def allowed(license_cls: str, allow_copyleft: bool, allow_unknown: bool) -> bool:
    return (license_cls == "permissive"
            or (license_cls == "copyleft" and allow_copyleft)
            or (license_cls in ("unknown", "none") and allow_unknown))
