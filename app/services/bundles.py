"""Open Bundle…: a verified ``.fbz`` becomes a workspace folder the studio can edit.

The bundle is read with :func:`mappings.bundle.load_bundle`, which checks its manifest,
every member's SHA-256 and each flow's contract before anything is written; a broken bundle
is refused with the reader's own sentence. Its mapping documents are then saved as YAML
into a new folder next to the bundle (``payments.fbz`` → ``payments/``), so exporting the
opened workspace again gives the same documents (an empty semantic diff).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from mappings.bundle import Bundle, load_bundle
from mappings.document.yamlio import save_document
from mappings.errors import BundleError


@dataclass(frozen=True, slots=True)
class OpenedBundle:
    bundle: Bundle
    folder: Path  # the workspace the documents were written to


def free_folder_for(bundle_path: Path) -> Path:
    """``payments/`` beside ``payments.fbz``, or ``payments-2/`` … when that one is taken."""
    base = bundle_path.with_suffix("")
    folder, n = base, 2
    while folder.exists() and (not folder.is_dir() or any(folder.iterdir())):
        folder, n = base.with_name(f"{base.name}-{n}"), n + 1
    return folder


def _file_stem(name: str, taken: set[str]) -> str:
    stem = "".join(c if c.isalnum() or c in "-_." else "-" for c in name) or "mappings"
    candidate, n = stem, 2
    while candidate in taken:
        candidate, n = f"{stem}-{n}", n + 1
    taken.add(candidate)
    return candidate


def open_bundle(path: Path | str, folder: Path | str | None = None) -> OpenedBundle:
    """Verify the bundle at ``path`` and write its documents to ``folder`` (a new one by
    default). Raises :class:`BundleError` with a sentence for people when it cannot."""
    path = Path(path)
    if not path.is_file():
        raise BundleError(f"{path} is not a file; choose a Fieldbridge bundle (.fbz)")
    bundle = load_bundle(path)  # verifies manifest, hashes and flow contracts
    if not bundle.documents:
        raise BundleError(f"{path.name} holds no mapping documents")
    target = Path(folder) if folder is not None else free_folder_for(path)
    if target.exists() and any(target.glob("*.y*ml")):
        raise BundleError(
            f"{target} already holds mapping documents; choose an empty folder so no file is "
            "overwritten"
        )
    try:
        target.mkdir(parents=True, exist_ok=True)
        taken: set[str] = set()
        for document in bundle.documents:
            save_document(document, target / f"{_file_stem(document.name, taken)}.yaml")
    except OSError as exc:
        raise BundleError(f"cannot write the bundle's mappings to {target}: {exc}") from exc
    return OpenedBundle(bundle, target)
