"""The catalogue: search, categories, covers (and their placeholder), the course page."""

import io

import pytest
from django.contrib.auth import get_user_model
from django.core.exceptions import ValidationError
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse
from PIL import Image

from courses.covers import MAX_COVER_BYTES
from courses.models import Category, Course
from tests.factories import CourseFactory, LessonFactory


def titles_on(response) -> list[str]:
    return [course.title for course in response.context["courses"]]


def image_bytes(fmt="PNG", size=(640, 360)) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", size, (30, 120, 200)).save(out, fmt)
    return out.getvalue()


def test_search_filters_title_and_summary_ignoring_case(client, db):
    CourseFactory(title="Python 入门", summary="Write your first programs.")
    CourseFactory(title="Data Analysis", summary="Read data with PANDAS.")
    CourseFactory(title="Writing That Works", summary="Clear prose.")
    CourseFactory(title="Hidden python draft", summary="", status=Course.Status.DRAFT)

    catalog = reverse("courses:catalog")
    assert titles_on(client.get(catalog, {"q": "PYTHON"})) == ["Python 入门"]
    assert titles_on(client.get(catalog, {"q": "pandas"})) == ["Data Analysis"]  # summary, other case
    assert titles_on(client.get(catalog, {"q": "入门"})) == ["Python 入门"]
    assert titles_on(client.get(catalog, {"q": "data pandas"})) == ["Data Analysis"]  # every word
    assert titles_on(client.get(catalog, {"q": "data prose"})) == []
    assert len(titles_on(client.get(catalog, {"q": "   "}))) == 3  # blank: everything on sale

    found = client.get(catalog, {"q": "python"}).content.decode()
    assert 'value="python"' in found and "1 course matches “python”." in found


def test_search_without_results_says_so_and_offers_the_whole_catalogue(client, db):
    CourseFactory(title="Python 入门")
    response = client.get(reverse("courses:catalog"), {"q": "<b>cobol</b>"})
    content = response.content.decode()
    assert response.status_code == 200 and titles_on(response) == []
    assert "No course matches “&lt;b&gt;cobol&lt;/b&gt;”." in content  # escaped
    assert "<b>cobol</b>" not in content
    assert "Show all courses" in content and "No courses are on sale yet" not in content


def test_category_filter_and_its_chips(client, db):
    programming = Category.objects.create(name="Programming", slug="programming", position=1)
    writing = Category.objects.create(name="Writing", slug="writing", position=2)
    empty = Category.objects.create(name="Cooking", slug="cooking", position=3)
    CourseFactory(title="Python", category=programming)
    CourseFactory(title="Rust", category=programming, summary="Systems python-free")
    CourseFactory(title="Essays", category=writing)
    CourseFactory(title="Drafted", category=empty, status=Course.Status.DRAFT)

    catalog = reverse("courses:catalog")
    everything = client.get(catalog)
    assert list(everything.context["categories"]) == [programming, writing]  # none without courses on sale
    content = everything.content.decode()
    assert "?category=programming" in content and "?category=cooking" not in content

    in_programming = client.get(catalog, {"category": "programming"})
    assert sorted(titles_on(in_programming)) == ["Python", "Rust"]
    assert 'aria-current="page">Programming</a>' in in_programming.content.decode()
    # Search within the category; the search form keeps the category.
    both = client.get(catalog, {"category": "programming", "q": "python"})
    assert sorted(titles_on(both)) == ["Python", "Rust"]
    assert '<input type="hidden" name="category" value="programming">' in both.content.decode()
    assert titles_on(client.get(catalog, {"category": "writing", "q": "python"})) == []
    none_left = client.get(catalog, {"category": "cooking"})
    assert (
        titles_on(none_left) == []
        and "No course in Cooking is on sale right now." in none_left.content.decode()
    )

    assert client.get(catalog, {"category": "no-such-shelf"}).status_code == 404


def test_pagination_keeps_the_search(client, db, monkeypatch):
    monkeypatch.setattr("courses.views.CATALOG_PAGE_SIZE", 2)
    for number in range(3):
        CourseFactory(title=f"Python {number}")
    CourseFactory(title="Essays")
    first = client.get(reverse("courses:catalog"), {"q": "python"}).content.decode()
    assert "?q=python&amp;page=2" in first


def test_a_course_without_a_cover_gets_a_placeholder_and_one_with_a_cover_shows_it(client, db):
    plain = CourseFactory(title="Plain")
    pictured = CourseFactory(title="Pictured")
    pictured.cover.save("pictured.png", SimpleUploadedFile("pictured.png", image_bytes()), save=True)

    content = client.get(reverse("courses:catalog")).content.decode()
    assert f'src="{pictured.cover.url}"' in content
    assert content.count("cover-placeholder") == 1 and ">P</span>" in content  # the plain one's initial
    assert f'src="{pictured.cover.url}"' in client.get(pictured.get_absolute_url()).content.decode()
    assert "cover-placeholder" in client.get(plain.get_absolute_url()).content.decode()


@pytest.mark.parametrize(
    ("name", "content", "code"),
    [
        ("cover.png", image_bytes("PNG"), None),
        ("cover.jpg", image_bytes("JPEG"), None),
        ("cover.webp", image_bytes("WEBP"), None),
        ("cover.gif", image_bytes("GIF"), "cover_format"),
        ("cover.png", b"%PDF-1.7 not an image at all", "cover_not_an_image"),
        ("cover.jpg", image_bytes("PNG"), "cover_extension"),
        ("cover.png", image_bytes("PNG", size=(100, 60)), "cover_too_small"),
        ("cover.png", image_bytes("PNG", size=(5000, 300)), "cover_too_wide"),
        ("cover.png", image_bytes("PNG") + b"\0" * MAX_COVER_BYTES, "cover_too_large"),
    ],
)
def test_cover_uploads_are_checked(db, name, content, code):
    course = CourseFactory()
    course.cover = SimpleUploadedFile(name, content)
    if code is None:
        course.full_clean()
        return
    with pytest.raises(ValidationError) as refused:
        course.full_clean()
    assert [error.code for error in refused.value.error_dict["cover"]] == [code]


def test_staff_upload_a_cover_in_the_admin_and_a_bad_one_is_refused(client, db):
    admin = get_user_model().objects.create_superuser("boss", "boss@example.com", "pw-admin-12345")
    client.force_login(admin)
    course = CourseFactory(title="With cover")
    url = reverse("admin:courses_course_change", args=[course.pk])
    form = {
        "merchant": course.merchant_id,
        "title": course.title,
        "slug": course.slug,
        "summary": course.summary,
        "description": "",
        "price": course.price,
        "currency": "CNY",
        "status": course.status,
        "lessons-TOTAL_FORMS": "0",
        "lessons-INITIAL_FORMS": "0",
        "lessons-MIN_NUM_FORMS": "0",
        "lessons-MAX_NUM_FORMS": "1000",
    }
    refused = client.post(url, {**form, "cover": SimpleUploadedFile("x.gif", image_bytes("GIF"))})
    assert refused.status_code == 200
    assert "JPEG, PNG or WebP" in str(refused.context["adminform"].form.errors["cover"])
    course.refresh_from_db()
    assert not course.cover

    saved = client.post(url, {**form, "cover": SimpleUploadedFile("ok.png", image_bytes("PNG"))})
    assert saved.status_code == 302, saved.context["adminform"].form.errors if saved.context else saved
    course.refresh_from_db()
    assert course.cover.name.endswith(".png") and course.cover.storage.exists(course.cover.name)
    # Saving again without a new file keeps the stored cover (it is not read again).
    again = client.post(url, form)
    assert again.status_code == 302
    course.refresh_from_db()
    assert course.cover


def test_course_page_shows_the_summary_once_and_the_description_when_it_says_more(client, db):
    same = CourseFactory(summary="Learn Python from zero.", description="Learn Python from zero.")
    content = client.get(same.get_absolute_url()).content.decode()
    assert content.count("Learn Python from zero.") == 1
    assert "About this course" not in content

    more = CourseFactory(summary="Short pitch.", description="A longer description.\n\nTwo paragraphs.")
    content = client.get(more.get_absolute_url()).content.decode()
    assert content.count("Short pitch.") == 1 and "A longer description." in content
    assert "About this course" in content


def test_lesson_page_does_not_repeat_the_title_in_the_body(client, db):
    lesson = LessonFactory(
        title="Welcome · 欢迎", body="Welcome · 欢迎\n\nThe real first line.", is_preview=True
    )
    content = client.get(reverse("courses:lesson", args=[lesson.course.slug, lesson.pk])).content.decode()
    assert content.count("Welcome · 欢迎") == 2  # the <title> and the heading, not the body
    assert "The real first line." in content
    other = LessonFactory(title="Intro", body="Intro is where we start.", is_preview=True)
    assert (
        "Intro is where we start."
        in client.get(reverse("courses:lesson", args=[other.course.slug, other.pk])).content.decode()
    )
