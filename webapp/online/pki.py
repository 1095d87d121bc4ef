"""Demonstration keys: a CA and signing certificates for the demo people, in the instance folder."""

from collections.abc import Iterable
from datetime import UTC, datetime, timedelta
from pathlib import Path

from webapp.signing import DemoCA, issue_person_certificate, make_demo_ca

PKI_FOLDER = "pki"
CA_BACKDATED = timedelta(days=400)


def demo_pki(
    instance_path: str | Path, people: Iterable[tuple[str, str]]
) -> dict[str, tuple[Path, Path]]:
    """Create (or reuse) the demo CA and a key and certificate per (IIN, name); return paths.

    The result maps `ca` and each IIN to its (key, certificate) paths; existing files are kept.
    """
    folder = Path(instance_path) / PKI_FOLDER
    if (folder / "ca.cert.pem").exists():
        ca = DemoCA.load(folder)
        paths = {"ca": (folder / "ca.key.pem", folder / "ca.cert.pem")}
    else:
        # Valid from a year back, so that the demo's month of history can be signed under it.
        ca = make_demo_ca(not_before=datetime.now(UTC) - CA_BACKDATED)
        paths = {"ca": ca.save(folder)}
    for iin, name in people:
        key, cert = folder / f"{iin}.key.pem", folder / f"{iin}.cert.pem"
        paths[iin] = (
            (key, cert) if cert.exists() else issue_person_certificate(ca, iin, name).save(folder)
        )
    return paths


def trusted_ca_pems(paths: Iterable[str | Path]) -> list[bytes]:
    """Read the trusted CA certificates that exist among the paths."""
    return [Path(p).read_bytes() for p in paths if Path(p).is_file()]
