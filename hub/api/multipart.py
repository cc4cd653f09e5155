"""Reading a ``multipart/form-data`` body: every part bounded, every name, file name and text
field under the text rules, and anything malformed (a bad part header, a broken
``Content-Disposition``, a body that ends early) a 400 rather than an error of the hub.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass

from aiohttp import BodyPartReader, web
from aiohttp.http_exceptions import HttpProcessingError
from aiohttp.multipart import BadContentDispositionHeader, BadContentDispositionParam

from hub.api.bodies import refused
from hub.errors import BadRequest, Invalid, TooLarge
from providers.input_rules import InputError, check_text

MAX_FIELD_BYTES = 16 * 1024
MAX_PARTS = 20


@dataclass(frozen=True, slots=True)
class Upload:
    """A file part: its name as the client gave it, its declared type, its bytes."""

    filename: str | None
    content_type: str
    content: bytes


Fields = dict[str, "str | Upload"]


def _bad_disposition() -> BadRequest:
    return BadRequest("a part's Content-Disposition header is malformed", code="invalid_multipart")


def _disposition(part: BodyPartReader) -> tuple[str, str | None]:
    """The part's field name and file name; a malformed ``Content-Disposition`` is a 400
    (aiohttp only warns about it and drops what it cannot read)."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        name, filename = part.name, part.filename
    for warning in caught:
        if issubclass(warning.category, BadContentDispositionHeader | BadContentDispositionParam):
            raise _bad_disposition()
    if not name:
        raise BadRequest("every part needs a field name", code="invalid_multipart")
    return name, filename


async def _read_part(part: BodyPartReader, limit: int, what: str) -> bytes:
    chunks = []
    size = 0
    while chunk := await part.read_chunk(64 * 1024):
        size += len(chunk)
        if size > limit:
            raise TooLarge(f"{what} is larger than {limit} bytes")
        chunks.append(chunk)
    return b"".join(chunks)


async def read_multipart(
    request: web.Request,
    *,
    max_file_bytes: int,
    files: frozenset[str] | None = None,
    max_field_bytes: int = MAX_FIELD_BYTES,
) -> Fields:
    """The fields of the form: text as ``str``, files as :class:`Upload`. A part is a file
    when its name is in ``files`` (or, without ``files``, when it has a file name)."""
    fields: Fields = {}
    try:
        reader = await request.multipart()
        async for part in reader:
            if not isinstance(part, BodyPartReader):
                raise BadRequest("nested multipart bodies are not accepted")
            if len(fields) >= MAX_PARTS:
                raise Invalid(f"a form has at most {MAX_PARTS} fields")
            name, filename = _disposition(part)
            check_text(name, "form")
            if name in fields:
                raise Invalid(f"{name}: is sent twice")
            if filename is not None:
                check_text(filename, f"{name}.filename")
            if (name in files) if files is not None else filename is not None:
                content_type = (part.headers.get("Content-Type") or "").split(";")[0].strip()
                check_text(content_type, f"{name}.Content-Type")
                content = await _read_part(part, max_file_bytes, "the file")
                fields[name] = Upload(filename, content_type, content)
            else:
                raw = await _read_part(part, max_field_bytes, f"the field {name!r}")
                try:
                    fields[name] = check_text(raw.decode("utf-8"), name)
                except UnicodeDecodeError:
                    raise BadRequest(f"{name}: is not UTF-8 text", code="invalid_text") from None
    except InputError as exc:
        raise refused(exc) from None
    except (BadContentDispositionHeader, BadContentDispositionParam):
        # Only where warnings are errors (aiohttp warns while it reads the next part);
        # otherwise the same header is refused by _disposition.
        raise _bad_disposition() from None
    except (ValueError, HttpProcessingError) as exc:
        message = getattr(exc, "message", None) or str(exc)
        raise BadRequest(
            f"the multipart body is malformed: {message}".strip(), code="invalid_multipart"
        ) from None
    return fields
