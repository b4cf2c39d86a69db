"""Catalogue display helpers: a course's cover, or its placeholder."""

from zlib import crc32

from django import template

register = template.Library()


@register.filter
def cover_hue(course) -> int:
    """A hue (0-359) that stays the same for a course: its placeholder cover's colour."""
    return crc32(str(getattr(course, "slug", course)).encode()) % 360


@register.inclusion_tag("courses/_cover.html")
def course_cover(course, size="card"):
    """The course's cover image, or a placeholder in the course's own colour with its
    first letter. ``size``: ``card`` (catalogue) or ``hero`` (the course's page)."""
    return {"course": course, "size": size, "hue": cover_hue(course), "initial": (course.title or "?")[:1]}
