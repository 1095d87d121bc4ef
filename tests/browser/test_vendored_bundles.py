"""The vendored bundles are the recorded ones, carry their licences and keep the watermark;
the accessibility checker is there for the tests only."""

import importlib.util
import shutil

from webapp.web.security import CONTENT_SECURITY_POLICY, WATERMARK_STYLES, style_hash

from .diagram_pages import REPO_ROOT

STATIC = REPO_ROOT / "webapp" / "web" / "static"
TEMPLATES = REPO_ROOT / "webapp" / "web" / "templates"
BPMN_IO = ("bpmn-js", "dmn-js")


def load_vendor_script():
    """Import scripts/vendor.py, which is a script rather than a package module."""
    spec = importlib.util.spec_from_file_location(
        "vendor_script", REPO_ROOT / "scripts" / "vendor.py"
    )
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_vendored_files_match_their_recorded_checksums():
    assert load_vendor_script().check() == []


def test_check_names_a_changed_file_and_an_unrecorded_one(tmp_path):
    vendor = load_vendor_script()
    copy = tmp_path / "vendor"
    shutil.copytree(vendor.VENDOR_DIR, copy)
    (copy / "bpmn-js" / "assets" / "bpmn-js.css").write_text(".bjs-powered-by{display:none}")
    (copy / "dmn-js" / "extra.js").write_text("")
    assert vendor.check(copy) == [
        "bpmn-js/assets/bpmn-js.css: checksum differs",
        "dmn-js/extra.js: not recorded",
    ]


def test_each_vendored_package_is_pinned_and_carries_its_licence():
    versions = load_vendor_script().load_versions()["packages"]
    assert set(versions) == {*BPMN_IO, "axe-core"}
    for name, entry in versions.items():
        assert entry["version"].count(".") == 2
        assert entry["integrity"].startswith("sha512-")
        licence = (STATIC / "vendor" / name / entry["license_file"]).read_text()
        if name in BPMN_IO:
            assert "watermark must stay fully visible" in licence
        else:
            assert "Mozilla Public License" in licence


def test_no_page_loads_the_accessibility_checker():
    ours = [*TEMPLATES.rglob("*.html"), *STATIC.joinpath("js").glob("*.js")]
    assert ours
    for path in ours:
        text = path.read_text()
        assert "axe-core" not in text and "axe.min" not in text, path.name


def test_our_assets_never_touch_the_bpmn_io_watermark():
    ours = [*STATIC.joinpath("css").glob("*.css"), *STATIC.joinpath("js").glob("*.js")]
    assert ours
    for path in ours:
        text = path.read_text()
        assert "powered-by" not in text, path.name


def test_dmn_js_bundles_are_production_builds_without_inferno_development_warnings():
    for bundle in ("dmn-viewer", "dmn-modeler"):
        text = (STATIC / "vendor" / "dmn-js" / f"{bundle}.production.min.js").read_text()
        assert "development build of Inferno" not in text
        assert "Inferno is in development mode" not in text
    built = load_vendor_script().load_versions()["packages"]["dmn-js"]
    assert built["built_with"]["node_env"] == "production"
    assert built["dependencies"]["inferno"].count(".") == 2


def test_the_csp_allows_exactly_the_watermark_styles_the_dmn_js_bundles_write():
    modeler = (STATIC / "vendor" / "dmn-js" / "dmn-modeler.production.min.js").read_text()
    for style in WATERMARK_STYLES:
        assert f'style="{style}"' in modeler
        assert style_hash(style) in CONTENT_SECURITY_POLICY
    assert "unsafe-inline" not in CONTENT_SECURITY_POLICY
