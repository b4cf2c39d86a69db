"""Cover images for the demo courses, drawn here with Pillow: no network, no stock photos.

Each cover is a soft two-colour gradient with a few translucent shapes and the course's
English title, in the course's own hue, so the catalogue looks like a catalogue.
"""

import colorsys
import io
import random

from PIL import Image, ImageDraw, ImageFilter, ImageFont

WIDTH, HEIGHT = 1280, 720


def _rgb(hue: float, saturation: float, lightness: float) -> tuple[int, int, int]:
    red, green, blue = colorsys.hls_to_rgb(hue % 1.0, lightness, saturation)
    return round(red * 255), round(green * 255), round(blue * 255)


def demo_cover(*, seed: str, hue: float, caption: str) -> bytes:
    """A 1280 × 720 JPEG; the same ``seed`` always draws the same picture."""
    rng = random.Random(seed)
    top, bottom = _rgb(hue, 0.55, 0.55), _rgb(hue + 0.08, 0.6, 0.35)
    vertical = Image.linear_gradient("L").resize((WIDTH, HEIGHT))
    horizontal = Image.linear_gradient("L").transpose(Image.Transpose.ROTATE_90).resize((WIDTH, HEIGHT))
    gradient = Image.blend(vertical, horizontal.transpose(Image.Transpose.FLIP_LEFT_RIGHT), 0.5)
    image = Image.composite(
        Image.new("RGB", (WIDTH, HEIGHT), bottom), Image.new("RGB", (WIDTH, HEIGHT), top), gradient
    )

    image = image.convert("RGBA")
    for _ in range(5):  # translucent discs, soft-edged (blurred masks: no dark fringes)
        radius = rng.randint(140, 300)
        x, y = rng.randint(-100, WIDTH + 100), rng.randint(-100, HEIGHT + 100)
        colour = _rgb(hue + rng.uniform(-0.08, 0.12), 0.7, rng.uniform(0.6, 0.8))
        mask = Image.new("L", (WIDTH, HEIGHT), 0)
        ImageDraw.Draw(mask).ellipse(
            (x - radius, y - radius, x + radius, y + radius), fill=rng.randint(50, 110)
        )
        image = Image.composite(
            Image.new("RGBA", (WIDTH, HEIGHT), (*colour, 255)),
            image,
            mask.filter(ImageFilter.GaussianBlur(4)),
        )

    lines = ImageDraw.Draw(image)
    for row in range(5):  # a quiet dotted grid, lower right
        for column in range(9):
            cx, cy = WIDTH - 120 - column * 34, HEIGHT - 110 - row * 34
            lines.ellipse((cx - 4, cy - 4, cx + 4, cy + 4), fill=(255, 255, 255, 90))

    font = ImageFont.load_default(size=68)
    small = ImageFont.load_default(size=30)
    lines.text((84, HEIGHT - 250), caption, font=font, fill=(255, 255, 255, 245))
    lines.rounded_rectangle((84, HEIGHT - 150, 84 + 120, HEIGHT - 142), radius=4, fill=(255, 255, 255, 200))
    lines.text((84, 80), "kpay · demo", font=small, fill=(255, 255, 255, 200))

    out = io.BytesIO()
    image.convert("RGB").save(out, "JPEG", quality=84, optimize=True, progressive=True)
    return out.getvalue()
