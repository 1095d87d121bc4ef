"""Refresh the vendored bundles (bpmn-js, dmn-js, axe-core) from npm and record their checksums.

dmn-js's published "production" bundles carry Inferno's development build (it warns on every
page, bpmn-io/dmn-js#965), so its two bundles are built here instead: the pinned package and
its dependencies are installed with npm (install scripts off), and esbuild bundles the
package's own entry modules with NODE_ENV set to production. The dependency versions the
build used are recorded beside the checksums.

Usage:
    python scripts/vendor.py              re-download the pinned versions and rewrite VERSIONS.json
    python scripts/vendor.py --set bpmn-js=18.31.1
                                          pin another version, then refresh
    python scripts/vendor.py --check      verify the vendored files against VERSIONS.json (offline)
"""

import argparse
import base64
import fnmatch
import hashlib
import json
import shutil
import subprocess
import sys
import tarfile
import tempfile
from pathlib import Path

VENDOR_DIR = Path(__file__).resolve().parent.parent / "webapp" / "web" / "static" / "vendor"
VERSIONS_FILE = VENDOR_DIR / "VERSIONS.json"

# Only what is loaded: the production bundles, their stylesheets, the icon fonts and the licence.
# Paths are inside the npm tarball; they are copied without the "package/dist/" (or "package/")
# prefix. axe-core is for the browser tests only: they inject it, and no page links to it.
PACKAGE_FILES: dict[str, list[str]] = {
    "bpmn-js": [
        "package/LICENSE",
        "package/dist/bpmn-navigated-viewer.production.min.js",
        "package/dist/bpmn-modeler.production.min.js",
        "package/dist/assets/diagram-js.css",
        "package/dist/assets/bpmn-js.css",
        "package/dist/assets/bpmn-font/css/bpmn.css",
        "package/dist/assets/bpmn-font/font/bpmn.*",
    ],
    "dmn-js": [
        "package/LICENSE",
        "package/dist/assets/diagram-js.css",
        "package/dist/assets/dmn-js-shared.css",
        "package/dist/assets/dmn-js-drd.css",
        "package/dist/assets/dmn-js-decision-table.css",
        "package/dist/assets/dmn-js-decision-table-controls.css",
        "package/dist/assets/dmn-js-literal-expression.css",
        "package/dist/assets/dmn-js-boxed-expression.css",
        "package/dist/assets/dmn-js-boxed-expression-controls.css",
        "package/dist/assets/dmn-font/css/dmn.css",
        "package/dist/assets/dmn-font/font/dmn.*",
    ],
    "axe-core": ["package/LICENSE", "package/axe.min.js"],
}

# Bundles built from a package's modules rather than copied: file -> (entry module, global).
BUILDS: dict[str, dict[str, tuple[str, str]]] = {
    "dmn-js": {
        "dmn-viewer.production.min.js": ("dmn-js/lib/Viewer", "DmnJS"),
        "dmn-modeler.production.min.js": ("dmn-js/lib/Modeler", "DmnJS"),
    },
}
ESBUILD_VERSION = "0.24.2"


class VendorError(Exception):
    """A download or a check did not give what VERSIONS.json promises."""


def sha256_of(data: bytes) -> str:
    """Return the hex SHA-256 digest of data."""
    return hashlib.sha256(data).hexdigest()


def npm_json(*args: str) -> dict:
    """Run an npm command that prints JSON and return the parsed answer."""
    done = subprocess.run(["npm", *args, "--json"], check=True, capture_output=True, text=True)
    return json.loads(done.stdout)


def target_path(member: str) -> str:
    """Return where a tarball member goes, relative to the package's vendor folder."""
    for prefix in ("package/dist/", "package/"):
        if member.startswith(prefix):
            return member[len(prefix) :]
    raise VendorError(f"unexpected tarball member {member}")


def verify_integrity(tarball: Path, integrity: str) -> None:
    """Raise VendorError unless the tarball matches the registry's sha512 integrity string."""
    algorithm, _, expected = integrity.partition("-")
    if algorithm != "sha512":
        raise VendorError(f"unsupported integrity algorithm {algorithm}")
    actual = base64.b64encode(hashlib.sha512(tarball.read_bytes()).digest()).decode()
    if actual != expected:
        raise VendorError(f"{tarball.name}: integrity mismatch")


def wanted_members(names: list[str], patterns: list[str]) -> list[str]:
    """Return the tarball members matching the patterns; each pattern must match something."""
    chosen = []
    for pattern in patterns:
        matched = sorted(name for name in names if fnmatch.fnmatchcase(name, pattern))
        if not matched:
            raise VendorError(f"nothing in the tarball matches {pattern}")
        chosen.extend(matched)
    return chosen


def refresh_package(name: str, version: str, workdir: Path) -> dict:
    """Download one pinned package, verify it, copy its files and return its VERSIONS entry."""
    meta = npm_json("view", f"{name}@{version}", "dist", "license")
    packed = npm_json("pack", f"{name}@{version}", "--pack-destination", str(workdir))
    tarball = workdir / packed[0]["filename"]
    verify_integrity(tarball, meta["dist"]["integrity"])

    destination = VENDOR_DIR / name
    if destination.exists():
        shutil.rmtree(destination)
    files: dict[str, str] = {}
    # Members are read as bytes and written to paths we compute, so the archive cannot place
    # anything outside the vendor folder.
    with tarfile.open(tarball, "r:gz") as archive:
        members = {member.name: member for member in archive.getmembers() if member.isfile()}
        for member_name in wanted_members(list(members), PACKAGE_FILES[name]):
            data = archive.extractfile(members[member_name]).read()
            relative = target_path(member_name)
            path = destination / relative
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_bytes(data)
            files[relative] = sha256_of(data)
    entry = {
        "version": version,
        "license": meta.get("license", ""),
        "license_file": "LICENSE",
        "tarball": meta["dist"]["tarball"],
        "integrity": meta["dist"]["integrity"],
        "files": files,
    }
    if name in BUILDS:
        built, dependencies = build_bundles(name, version, workdir / f"build-{name}", destination)
        files.update(built)
        entry["built_with"] = {"esbuild": ESBUILD_VERSION, "node_env": "production"}
        entry["dependencies"] = dependencies
    entry["files"] = dict(sorted(files.items()))
    return entry


def build_bundles(name: str, version: str, workdir: Path, destination: Path) -> tuple[dict, dict]:
    """Build a package's bundles for production; return their checksums and the versions used."""
    workdir.mkdir(parents=True)
    (workdir / "package.json").write_text('{"private": true}', encoding="utf-8")
    subprocess.run(
        ["npm", "install", "--ignore-scripts", "--no-audit", "--no-fund", "--save-exact",
         f"{name}@{version}", f"esbuild@{ESBUILD_VERSION}"],
        cwd=workdir, check=True, capture_output=True,
    )  # fmt: skip
    esbuild = workdir / "node_modules" / ".bin" / "esbuild"
    files = {}
    for target, (module, global_name) in BUILDS[name].items():
        entry = workdir / f"entry-{target}.js"
        entry.write_text(
            f'import Editor from "{module}";\nwindow.{global_name} = Editor;\n', encoding="utf-8"
        )
        output = destination / target
        subprocess.run(
            [str(esbuild), str(entry), "--bundle", "--minify", "--format=iife",
             "--target=es2020", "--legal-comments=eof", "--log-level=warning",
             "--define:process.env.NODE_ENV=\"production\"", f"--outfile={output}"],
            cwd=workdir, check=True, capture_output=True,
        )  # fmt: skip
        if b"development build of Inferno" in output.read_bytes():
            raise VendorError(f"{target}: still holds Inferno's development build")
        files[target] = sha256_of(output.read_bytes())
    lock = json.loads((workdir / "package-lock.json").read_text(encoding="utf-8"))
    dependencies = {
        path.removeprefix("node_modules/"): info["version"]
        for path, info in sorted(lock["packages"].items())
        if path.startswith("node_modules/") and not info.get("dev")
        and "esbuild" not in path
    }  # fmt: skip
    return files, dependencies


def load_versions(vendor_dir: Path = VENDOR_DIR) -> dict:
    """Return the recorded VERSIONS.json content."""
    return json.loads((vendor_dir / VERSIONS_FILE.name).read_text(encoding="utf-8"))


def refresh(pins: dict[str, str]) -> dict:
    """Refresh every package at its pinned version and rewrite VERSIONS.json."""
    recorded = {"packages": {}}
    with tempfile.TemporaryDirectory(prefix="vendor-") as tmp:
        for name, version in pins.items():
            recorded["packages"][name] = refresh_package(name, version, Path(tmp))
    VERSIONS_FILE.write_text(json.dumps(recorded, indent=2) + "\n", encoding="utf-8")
    return recorded


def check(vendor_dir: Path = VENDOR_DIR) -> list[str]:
    """Return the problems found comparing vendored files with VERSIONS.json."""
    problems = []
    for name, entry in load_versions(vendor_dir)["packages"].items():
        folder = vendor_dir / name
        for relative, digest in entry["files"].items():
            path = folder / relative
            if not path.is_file():
                problems.append(f"{name}/{relative}: missing")
            elif sha256_of(path.read_bytes()) != digest:
                problems.append(f"{name}/{relative}: checksum differs")
        present = {p.relative_to(folder).as_posix() for p in folder.rglob("*") if p.is_file()}
        for extra in sorted(present - set(entry["files"])):
            problems.append(f"{name}/{extra}: not recorded")
    return problems


def main(argv: list[str] | None = None) -> int:
    """Parse arguments and refresh or check the vendored bundles."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="verify checksums, no download")
    parser.add_argument("--set", action="append", default=[], metavar="NAME=VERSION")
    args = parser.parse_args(argv)
    if args.check:
        problems = check()
        for problem in problems:
            print(problem, file=sys.stderr)
        return 1 if problems else 0

    pins = {name: entry["version"] for name, entry in load_versions()["packages"].items()}
    for assignment in args.set:
        name, _, version = assignment.partition("=")
        if name not in PACKAGE_FILES or not version:
            parser.error(f"--set expects one of {sorted(PACKAGE_FILES)}=VERSION")
        pins[name] = version
    try:
        recorded = refresh(pins)
    except (VendorError, subprocess.CalledProcessError) as error:
        print(f"vendor: {error}", file=sys.stderr)
        return 1
    for name, entry in recorded["packages"].items():
        print(f"{name} {entry['version']}: {len(entry['files'])} files")
    return 0


if __name__ == "__main__":
    sys.exit(main())
