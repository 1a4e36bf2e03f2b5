"""Regenerate ``src/custmdm/standards/data/iso3166-1.tsv`` from pycountry.

One-off conversion script; the package never imports pycountry. pycountry ships the Debian
iso-codes data: the ISO 3166-1 list (alpha-2, alpha-3, numeric, English short name) and its
zh_CN translations (Weblate team, iso_3166-1 zh_CN PO revision 2024-01-15).

    pip install pycountry==26.2.16
    python tools/build_countries.py
"""

from __future__ import annotations

import gettext
import sys
from importlib.metadata import version
from pathlib import Path

import pycountry

OUTPUT = Path(__file__).resolve().parents[1] / "src/custmdm/standards/data/iso3166-1.tsv"


def main() -> int:
    chinese = gettext.translation("iso3166-1", pycountry.LOCALES_DIR, languages=["zh_CN"])
    revision = chinese.info().get("po-revision-date", "unknown")
    rows = []
    for country in sorted(pycountry.countries, key=lambda c: c.alpha_2):
        name_zh = chinese.gettext(country.name)
        if name_zh == country.name:  # untranslated: leave the Chinese name empty
            name_zh = ""
        rows.append((country.alpha_2, country.alpha_3, country.numeric, country.name, name_zh))
    if len(rows) != 249:
        raise SystemExit(f"expected 249 ISO 3166-1 entries, got {len(rows)}")
    lines = [
        "# ISO 3166-1 country codes with English short names and Chinese (zh_CN) names",
        f"# source: Debian iso-codes via PyPI pycountry {version('pycountry')} "
        f"(zh_CN translation revised {revision})",
        "# regenerate: tools/build_countries.py",
        "alpha2\talpha3\tnumeric\tname\tname_zh",
    ]
    lines += ["\t".join(row) for row in rows]
    OUTPUT.write_text("\n".join(lines) + "\n", encoding="utf-8")
    print(f"wrote {len(rows)} countries to {OUTPUT}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
