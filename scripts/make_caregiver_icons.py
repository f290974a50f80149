"""Draw the caregiver app's icons (颐 on the brand colour) with Pillow; the PNGs are committed.

    .venv/bin/python scripts/make_caregiver_icons.py

Needs a CJK font (Debian: fonts-noto-cjk). The background fills the square so one file serves as a
"maskable" icon too: the glyph stays inside the central 60 % that every mask keeps.
"""

from pathlib import Path

from PIL import Image, ImageDraw, ImageFont

OUT = Path(__file__).resolve().parent.parent / "yiyang" / "services" / "static" / "services"
BRAND, INK = (162, 59, 42), (255, 255, 255)
FONTS = ["/usr/share/fonts/opentype/noto/NotoSansCJK-Bold.ttc",
         "/usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc"]


def font(size: int):
    for path in FONTS:
        if Path(path).exists():
            return ImageFont.truetype(path, size, index=0)  # index 0: the Simplified Chinese face
    raise SystemExit("no CJK font: apt-get install fonts-noto-cjk")


def draw(size: int) -> Image.Image:
    img = Image.new("RGB", (size, size), BRAND)
    d = ImageDraw.Draw(img)
    # A white ring inside the safe zone, then the glyph.
    r = size * 0.30
    c = size / 2
    d.ellipse((c - r, c - r, c + r, c + r), outline=INK, width=max(2, size // 64))
    f = font(int(size * 0.36))
    box = d.textbbox((0, 0), "颐", font=f)
    w, h = box[2] - box[0], box[3] - box[1]
    d.text((c - w / 2 - box[0], c - h / 2 - box[1]), "颐", font=f, fill=INK)
    return img


if __name__ == "__main__":
    OUT.mkdir(parents=True, exist_ok=True)
    for size in (192, 512):
        draw(size).save(OUT / f"icon-{size}.png", optimize=True)
        print(OUT / f"icon-{size}.png")
