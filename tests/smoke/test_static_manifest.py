"""`collectstatic` with hashed names and a manifest, as in production, succeeds: every file a
static file refers to (a CSS url(), a JS sourceMappingURL) is shipped. Issue 14: the vendored Chart.js named a
source map we do not ship, collectstatic aborted, no manifest was written and production answered 500 on every
page."""

from django.conf import settings
from django.core.management import call_command

# Production's whitenoise.storage.CompressedManifestStaticFilesStorage resolves references in this class, which it
# extends; compressing every file on top takes ten seconds (the production smoke runs the real one).
MANIFEST_STORAGE = "django.contrib.staticfiles.storage.ManifestStaticFilesStorage"


def test_collectstatic_with_a_manifest_finds_every_referenced_file(settings, tmp_path):
    settings.STATIC_ROOT = tmp_path
    settings.STORAGES = {**settings.STORAGES, "staticfiles": {"BACKEND": MANIFEST_STORAGE}}
    call_command("collectstatic", "--noinput", "-v0")
    manifest = (tmp_path / "staticfiles.json").read_text()
    for name in ("css/app.css", "js/app.js", "vendor/htmx-2.0.11.min.js", "vendor/chart-4.5.1.umd.min.js"):
        assert f'"{name}"' in manifest, name


def test_vendored_files_refer_to_nothing_unshipped():
    vendor = settings.BASE_DIR / "static" / "vendor"
    for path in vendor.glob("*.js"):
        assert "sourceMappingURL" not in path.read_text(errors="replace"), path.name
