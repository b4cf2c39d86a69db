"""``core.static_files.CachedManifestStaticFilesStorage``: WhiteNoise's URLs, each looked
up once per manifest."""

import json

import pytest
from django.template import Context, engines
from whitenoise.storage import CompressedManifestStaticFilesStorage

from core.static_files import CachedManifestStaticFilesStorage

NAMES = ["admin/css/base.css", "css/admin.css", "admin/js/nav_sidebar.js", "css/admin.css?v=1#top"]


def write_manifest(root, suffix):
    paths = {name.split("?")[0]: name.split("?")[0].replace(".", f".{suffix}.", 1) for name in NAMES}
    (root / "staticfiles.json").write_text(json.dumps({"paths": paths, "version": "1.1", "hash": suffix}))


@pytest.fixture
def storages(tmp_path, settings):
    settings.DEBUG = False
    settings.STATIC_ROOT = str(tmp_path)
    write_manifest(tmp_path, "aaaa1111")

    def both():
        return CachedManifestStaticFilesStorage(), CompressedManifestStaticFilesStorage()

    return both


def test_urls_are_whitenoises(storages, settings, tmp_path):
    ours, theirs = storages()
    for _ in range(2):  # looked up, then kept
        for name in NAMES:
            assert ours.url(name) == theirs.url(name), name
    assert ours.url("admin/css/base.css") == "/static/admin/css/base.aaaa1111.css"
    for name in ("missing.css", "admin/css/missing.css"):  # an error every time, as WhiteNoise's
        for _ in range(2):
            with pytest.raises(ValueError):
                ours.url(name)
    settings.DEBUG = True  # unhashed names, not kept
    assert ours.url("admin/css/base.css") == theirs.url("admin/css/base.css") == "/static/admin/css/base.css"
    settings.DEBUG = False
    assert ours.url("admin/css/base.css", force=True) == theirs.url("admin/css/base.css", force=True)
    # A new manifest (collectstatic): the new names, not the kept ones.
    write_manifest(tmp_path, "bbbb2222")
    ours.hashed_files, ours.manifest_hash = ours.load_manifest()
    assert ours.url("admin/css/base.css") == "/static/admin/css/base.bbbb2222.css"


def test_static_tag_renders_the_same(storages, settings):
    settings.STORAGES = {
        **settings.STORAGES,
        "staticfiles": {"BACKEND": "core.static_files.CachedManifestStaticFilesStorage"},
    }
    template = engines["django"].engine.from_string(
        "{% load static %}" + "".join(f"{{% static '{name}' %}} " for name in NAMES)
    )
    ours = [template.render(Context()) for _ in range(2)]
    settings.STORAGES = {
        **settings.STORAGES,
        "staticfiles": {"BACKEND": "whitenoise.storage.CompressedManifestStaticFilesStorage"},
    }
    assert ours == [template.render(Context())] * 2
    assert "/static/css/admin.aaaa1111.css?v=1#top" in ours[0]
