"""Product pictures at head office: the catalog's `image` column made into small pictures for the kiosks' screens,
kept by their SHA-256 and served to kiosks by it (`GET /api/v1/pictures/{sha256}`, headoffice/web.py).

`image` names a file in `catalog.pictures_dir` (a merchandiser's photos, by file name) or an http(s) address.
`prepare()` runs before each publish: a source is read again only when its file's size or time changed (an
address once, then kept), decoded with Pillow (a file that is not a picture is reported by product, never
published), turned upright by its EXIF orientation, fitted into SIZE x SIZE pixels and written as JPEG (PNG
when it has transparency), without the original's metadata.  The publish then names each product's picture by
sha256 and size in the bundle; the manifest the kiosk checks signs the bundle, so the kiosk checks each picture
it downloads against its hash (kiosk/services/pictures.py) and the address needs no secret.
"""

from __future__ import annotations

import hashlib
import io
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import Engine, delete, insert, select

from headoffice import catalog
from headoffice.db import catalog_picture_sources, catalog_pictures

SIZE = 240  # px: the look-up screen's tiles and the scanned item's card show them at up to ~120 px on 1280x800
MAX_SOURCE = 20 * 2**20  # a product photo larger than this is a mistake (or not a photo)
MAX_PIXELS = 50_000_000  # Pillow refuses to decode more (a "decompression bomb")
FETCH_TIMEOUT_S = 15.0


@dataclass(frozen=True)
class Picture:
    sha256: str
    size: int


class PictureProblem(ValueError):
    """Why one source gave no picture (reported with the products that name it)."""


def prepare(engine: Engine, pictures_dir: str, products: list[catalog.CatalogProduct] | None = None) -> list[str]:
    """Make the picture of every active product's `image` that changed since the last time; returns what went
    wrong, one line per source (those products are published without a picture)."""
    items = catalog.products(engine) if products is None else products
    by_source: dict[str, list[str]] = {}
    for p in items:
        if p.active and p.image:
            by_source.setdefault(p.image, []).append(p.sku)
    with engine.connect() as conn:
        known = {r.source: r.stamp for r in conn.execute(select(catalog_picture_sources))}
    problems = []
    for source, skus in sorted(by_source.items()):
        try:
            stamp = _stamp(source, pictures_dir)
            if known.get(source) == stamp:
                continue
            picture, data, media_type = make(_read(source, pictures_dir))
        except PictureProblem as exc:
            named = ", ".join(skus[:5]) + (f" and {len(skus) - 5} more" if len(skus) > 5 else "")
            problems.append(f"{source} ({named}): {exc}")
            if source in known:  # it had a picture: not any more (the file was removed or spoilt)
                with engine.begin() as conn:
                    conn.execute(delete(catalog_picture_sources).where(catalog_picture_sources.c.source == source))
            continue
        with engine.begin() as conn:
            if (
                conn.execute(
                    select(catalog_pictures.c.sha256).where(catalog_pictures.c.sha256 == picture.sha256)
                ).first()
                is None
            ):
                conn.execute(
                    insert(catalog_pictures).values(
                        sha256=picture.sha256,
                        size=picture.size,
                        media_type=media_type,
                        data=data,
                        created_at=time.time(),
                    )
                )
            conn.execute(delete(catalog_picture_sources).where(catalog_picture_sources.c.source == source))
            conn.execute(
                insert(catalog_picture_sources).values(
                    source=source, stamp=stamp, sha256=picture.sha256, size=picture.size
                )
            )
    return problems


def published(engine: Engine) -> dict[str, Picture]:
    """Each source's current picture (what the next publish names)."""
    with engine.connect() as conn:
        return {r.source: Picture(r.sha256, r.size) for r in conn.execute(select(catalog_picture_sources))}


def data(engine: Engine, sha256: str) -> tuple[bytes, str] | None:
    """A picture's bytes and media type by its hash, or None."""
    with engine.connect() as conn:
        row = conn.execute(
            select(catalog_pictures.c.data, catalog_pictures.c.media_type).where(catalog_pictures.c.sha256 == sha256)
        ).first()
    return None if row is None else (bytes(row.data), row.media_type)


def make(raw: bytes) -> tuple[Picture, bytes, str]:
    """A source's bytes as the kiosk's picture: (its hash and size, its bytes, its media type)."""
    from PIL import Image, ImageOps, UnidentifiedImageError  # the publisher's only: decoding is its job

    Image.MAX_IMAGE_PIXELS = MAX_PIXELS
    try:
        with Image.open(io.BytesIO(raw)) as img:
            img.load()
            img = ImageOps.exif_transpose(img)
            img.thumbnail((SIZE, SIZE), Image.Resampling.LANCZOS)
            transparent = img.mode in ("RGBA", "LA", "PA") or "transparency" in img.info
            out = io.BytesIO()
            if transparent:
                img.convert("RGBA").save(out, "PNG", optimize=True)
            else:
                img.convert("RGB").save(out, "JPEG", quality=85, optimize=True)
    except (UnidentifiedImageError, Image.DecompressionBombError, OSError, ValueError, SyntaxError) as exc:
        raise PictureProblem(f"not a picture Pillow can read ({type(exc).__name__}: {str(exc)[:120]})") from None
    data_ = out.getvalue()
    return Picture(hashlib.sha256(data_).hexdigest(), len(data_)), data_, "image/png" if transparent else "image/jpeg"


def _is_address(source: str) -> bool:
    return source.startswith(("http://", "https://"))


def _path(source: str, pictures_dir: str) -> Path:
    """A file name inside the pictures folder (sub-folders allowed, nothing outside it)."""
    root = Path(pictures_dir).resolve()
    path = (root / source).resolve()
    if root not in path.parents:
        raise PictureProblem(f"not a file in the pictures folder {pictures_dir} (catalog.pictures_dir)")
    return path


def _stamp(source: str, pictures_dir: str) -> str:
    """What changes when the source does: a file's size and time; an address is read once."""
    if _is_address(source):
        return "address"
    path = _path(source, pictures_dir)
    try:
        st = path.stat()
    except OSError:
        raise PictureProblem(f"no such file in the pictures folder {pictures_dir} (catalog.pictures_dir)") from None
    return f"{st.st_size}:{st.st_mtime_ns}"


def _read(source: str, pictures_dir: str) -> bytes:
    if not _is_address(source):
        path = _path(source, pictures_dir)
        if path.stat().st_size > MAX_SOURCE:
            raise PictureProblem(f"larger than {MAX_SOURCE // 2**20} MB")
        return path.read_bytes()
    try:
        with urllib.request.urlopen(source, timeout=FETCH_TIMEOUT_S) as resp:  # noqa: S310 - http(s) only
            raw = resp.read(MAX_SOURCE + 1)
    except (urllib.error.URLError, OSError) as exc:
        raise PictureProblem(f"could not be downloaded ({getattr(exc, 'reason', exc)})") from None
    if len(raw) > MAX_SOURCE:
        raise PictureProblem(f"larger than {MAX_SOURCE // 2**20} MB")
    return raw
