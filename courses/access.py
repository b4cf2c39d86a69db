"""Who may read a course: an active enrollment, or any registered access source.

``courses`` knows enrollments; other apps give access in other ways (a membership
period covering the course) and register a *source* from their ``AppConfig.ready``, so
``courses`` never imports them::

    register_access_source("membership", exists=membership_access, label=_("Membership"))

A source's ``exists(learner_id=, course_ref=, at=)`` returns an ``Exists`` (or any boolean
expression) true when the learner may read the course ``course_ref`` (an ``OuterRef``
to a course's pk) at the instant ``at``. The selectors in :mod:`courses.selectors` (a
learner's courses, a lesson's visibility, "owned" at checkout) use enrollment OR every
source, so every page and API agrees.
"""

from collections.abc import Callable
from dataclasses import dataclass

from django.db.models import BooleanField, Case, CharField, Exists, Q, Value, When
from django.utils import timezone

from .models import Enrollment


@dataclass(frozen=True)
class AccessSource:
    name: str
    exists: Callable[..., object]
    # What the learner sees on a course unlocked this way ("Unlocked by your membership").
    label: str


_SOURCES: dict[str, AccessSource] = {}


def register_access_source(name: str, *, exists: Callable[..., object], label) -> None:
    """Add (or replace) a way of having access to a course besides enrollment."""
    _SOURCES[name] = AccessSource(name=name, exists=exists, label=label)


def access_sources() -> list[AccessSource]:
    return list(_SOURCES.values())


def enrollment_exists(*, learner_id, course_ref) -> Exists:
    return Exists(
        Enrollment.objects.filter(learner_id=learner_id, course=course_ref, status=Enrollment.Status.ACTIVE)
    )


def course_access_q(*, learner_id, course_ref, at=None) -> Q:
    """A filter: the learner may read the course ``course_ref`` at ``at`` (now)."""
    at = at or timezone.now()
    access = Q(enrollment_exists(learner_id=learner_id, course_ref=course_ref))
    for source in _SOURCES.values():
        access |= Q(source.exists(learner_id=learner_id, course_ref=course_ref, at=at))
    return access


def course_access_exists(*, learner_id, course_ref, at=None) -> Case:
    """An annotation: :func:`course_access_q` as a boolean expression."""
    return Case(
        When(course_access_q(learner_id=learner_id, course_ref=course_ref, at=at), then=Value(True)),
        default=Value(False),
        output_field=BooleanField(),
    )


def unlocked_by(*, learner_id, course_ref, at=None) -> Case:
    """An annotation: ``""`` for a course the learner is enrolled in (or cannot read),
    else the label of the first source that unlocks it, in the active language."""
    at = at or timezone.now()
    whens = [When(enrollment_exists(learner_id=learner_id, course_ref=course_ref), then=Value(""))]
    whens += [
        When(
            Q(source.exists(learner_id=learner_id, course_ref=course_ref, at=at)),
            then=Value(str(source.label)),
        )
        for source in _SOURCES.values()
    ]
    return Case(*whens, default=Value(""), output_field=CharField())
