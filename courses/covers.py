"""Course cover images: what an upload must be (JPEG, PNG or WebP, up to 2 MB, a sensible
size), checked by reading the image itself with Pillow, not by trusting its name."""

from pathlib import PurePath

from django.core.exceptions import ValidationError
from django.template.defaultfilters import filesizeformat
from django.utils.translation import gettext_lazy as _
from PIL import Image, UnidentifiedImageError

MAX_COVER_BYTES = 2 * 1024 * 1024
MIN_COVER_SIZE = (320, 180)
MAX_COVER_SIDE = 4096
# Pillow's format name -> the file name endings that may carry it.
COVER_EXTENSIONS = {"JPEG": ("jpg", "jpeg"), "PNG": ("png",), "WEBP": ("webp",)}


def validate_cover(value) -> None:
    """Refuse an uploaded cover that is too big, not an image, not JPEG/PNG/WebP, named
    as another format than it is, or of a size no page can use. A cover already stored
    is not read again (only a new upload is uncommitted)."""
    if getattr(value, "_committed", False):
        return
    if value.size > MAX_COVER_BYTES:
        raise ValidationError(
            _("The image is %(size)s; a cover may be at most %(limit)s."),
            code="cover_too_large",
            params={"size": filesizeformat(value.size), "limit": filesizeformat(MAX_COVER_BYTES)},
        )
    try:
        value.seek(0)
        with Image.open(value) as image:
            image_format, (width, height) = image.format, image.size
            image.verify()
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError, Image.DecompressionBombError):
        raise ValidationError(
            _("This file is not an image we can read."), code="cover_not_an_image"
        ) from None
    finally:
        value.seek(0)
    if image_format not in COVER_EXTENSIONS:
        raise ValidationError(
            _("Please upload a JPEG, PNG or WebP image (this one is %(format)s)."),
            code="cover_format",
            params={"format": image_format or "?"},
        )
    extension = PurePath(value.name or "").suffix.lower().lstrip(".")
    if extension not in COVER_EXTENSIONS[image_format]:
        raise ValidationError(
            _("The file name ends in “.%(extension)s” but the image is %(format)s: please rename it."),
            code="cover_extension",
            params={"extension": extension, "format": image_format},
        )
    if width < MIN_COVER_SIZE[0] or height < MIN_COVER_SIZE[1]:
        raise ValidationError(
            _(
                "The image is %(width)s × %(height)s pixels; a cover needs at least "
                "%(min_width)s × %(min_height)s."
            ),
            code="cover_too_small",
            params={
                "width": width,
                "height": height,
                "min_width": MIN_COVER_SIZE[0],
                "min_height": MIN_COVER_SIZE[1],
            },
        )
    if max(width, height) > MAX_COVER_SIDE:
        raise ValidationError(
            _("The image is %(width)s × %(height)s pixels; a cover may be at most %(max)s pixels on a side."),
            code="cover_too_wide",
            params={"width": width, "height": height, "max": MAX_COVER_SIDE},
        )
