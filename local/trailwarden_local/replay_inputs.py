"""Where ``replay`` reads from: files, folders (recursively) and ``s3://bucket/prefix``.

Everything is lazy: inputs are yielded one at a time and read only when asked, so
memory does not grow with the number of files. ``--since`` / ``--until`` select the
dated parts of the layout CloudTrail writes
(``AWSLogs/<account>/CloudTrail/<region>/YYYY/MM/DD/<account>_CloudTrail_<region>_
YYYYMMDDTHHmmZ_<id>.json.gz``): S3 folders outside the range are not even listed.
"""

from __future__ import annotations

import json
import os
import re
import zlib
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from collections.abc import Callable, Iterable, Iterator, Sequence

try:  # ISA-L's inflate when installed (requirements-dev.txt); zlib otherwise
    from isal import isal_zlib as _isal_zlib
except ImportError:  # pragma: no cover - zlib alone gives the same answers
    _isal_zlib = None  # type: ignore[assignment]

LOG_SUFFIXES = (".json", ".json.gz")
DIGEST_FOLDER = "CloudTrail-Digest"  # signed digests, not logs: never read when walking

_DATED_PATH = re.compile(r"(?:^|/)CloudTrail/[^/]+/(\d{4})/(\d{2})/(\d{2})/")
_DATED_NAME = re.compile(r"_CloudTrail_[^_/]+_(\d{4})(\d{2})(\d{2})T\d{4}Z")
_DATED_PREFIX = re.compile(r"(?:^|/)CloudTrail/[^/]+/(\d{4})/(?:(\d{2})/(?:(\d{2})/)?)?$")
GZIP_MAGIC = b"\x1f\x8b"
_MOST_INFLATED_PER_BYTE = 1100  # deflate's best ratio is 1,032:1


class InputUsageError(ValueError):
    """An input that is malformed as an argument (e.g. ``s3://`` without a bucket)."""


class UnreadableInput(Exception):  # noqa: N818 - reads as what it reports
    """An input that could not be read or decoded; the message says why."""


@dataclass(frozen=True)
class DateRange:
    since: date | None = None
    until: date | None = None

    @property
    def open(self) -> bool:
        return self.since is None and self.until is None

    def overlaps(self, first: date, last: date) -> bool:
        return (self.since is None or last >= self.since) and (
            self.until is None or first <= self.until
        )


@dataclass(frozen=True)
class Source:
    """One input document: a local file or an S3 object, read on demand."""

    label: str  # the path or s3:// URL printed in reasons
    explicit: bool  # named on the command line, not found by walking a folder or prefix
    read: Callable[[], bytes]


@dataclass(frozen=True)
class Loaded:
    """A source's bytes, gunzipped, or why they could not be read."""

    label: str
    explicit: bool
    data: bytes | UnreadableInput
    gzipped: bool = False  # gzip's CRC vouches that the bytes are what the writer wrote


def load(source: Source) -> Loaded:
    try:
        raw = source.read()
        if raw.startswith(GZIP_MAGIC):
            return Loaded(source.label, source.explicit, gunzip(raw), gzipped=True)
    except UnreadableInput as exc:
        return Loaded(source.label, source.explicit, exc)
    return Loaded(source.label, source.explicit, raw)


def loaded(sources: Iterable[Source], prefetch: int = 2) -> Iterator[Loaded]:
    """``load`` each source in order; with ``prefetch`` > 0 a thread reads and gunzips
    up to that many documents ahead (network reads and zlib release the GIL; ISA-L does not)."""
    if prefetch <= 0:
        yield from map(load, sources)
        return
    # Only S3 reads ahead (replay._prefetch): local replay's start-up skips these.
    import threading
    from queue import Full, Queue

    queue: Queue[Loaded | BaseException | None] = Queue(maxsize=prefetch)
    stop = threading.Event()

    def put(item: Loaded | BaseException | None) -> bool:
        while not stop.is_set():
            try:
                queue.put(item, timeout=0.1)
            except Full:
                continue
            return True
        return False

    def feed() -> None:
        try:
            for source in sources:
                if not put(load(source)):
                    return
        except BaseException as exc:  # re-raised in the consumer
            put(exc)
        put(None)

    thread = threading.Thread(target=feed, name="replay-reader", daemon=True)
    thread.start()
    try:
        while (item := queue.get()) is not None:
            if isinstance(item, BaseException):
                raise item
            yield item
    finally:
        stop.set()
        thread.join()


def path_date(path: str) -> date | None:
    """The day CloudTrail filed a log under, from its folder or its file name."""
    match = _DATED_PATH.search(path) or _DATED_NAME.search(path)
    if not match:
        return None
    try:
        return date(int(match.group(1)), int(match.group(2)), int(match.group(3)))
    except ValueError:
        return None


def _prefix_days(prefix: str) -> tuple[date, date] | None:
    """The days a dated folder (``.../CloudTrail/<region>/YYYY/[MM/[DD/]]``) covers."""
    match = _DATED_PREFIX.search(prefix)
    if not match:
        return None
    import calendar  # S3 prefixes only (local replay's start-up skips it)

    try:
        year = int(match.group(1))
        if match.group(2) is None:
            return date(year, 1, 1), date(year, 12, 31)
        month = int(match.group(2))
        if match.group(3) is None:
            return date(year, month, 1), date(year, month, calendar.monthrange(year, month)[1])
        day = date(year, month, int(match.group(3)))
    except ValueError:
        return None
    return day, day


def wanted(path: str, dates: DateRange) -> bool:
    """Whether a walked file is a log to read: its suffix, not a digest, in the date range."""
    if not path.lower().endswith(LOG_SUFFIXES):
        return False
    if f"/{DIGEST_FOLDER}/" in f"/{path}":
        return False
    if dates.open:
        return True
    day = path_date(path)
    return day is None or dates.overlaps(day, day)


def gunzip(raw: bytes) -> bytes:
    """Decompress gzip data (every member; CRC and length checked). Raises UnreadableInput.

    With python-isal installed, ISA-L inflates well-formed data ~2x faster than zlib
    (checking the same CRC and length); anything it does not take whole is inflated
    again by zlib, whose answer (data or error) is the one given.
    """
    if _isal_zlib is not None:
        try:
            # isal's stubs type ``error`` as an instance; it is the exception class
            return _gunzip(raw, _isal_zlib.decompressobj, _isal_zlib.error)  # type: ignore[arg-type]
        except UnreadableInput:
            pass
    return _gunzip(raw, zlib.decompressobj, zlib.error)


def _gunzip(raw: bytes, decompressobj: Callable[..., Any], error: type[Exception]) -> bytes:
    parts: list[bytes] = []
    while True:
        inflater = decompressobj(wbits=31)
        try:
            # The output's size, as the trailer (ISIZE, the last member's length mod
            # 2**32) gives it, bounds the first call: the output buffer is sized once
            # instead of grown (~2x faster inflating with ISA-L). A wrong size (several
            # members, a corrupt trailer) only splits the work: what is left of the
            # input is inflated by a second call, and the answer is the same.
            parts.append(inflater.decompress(raw, _size_hint(raw)))
            if not inflater.eof:
                parts.append(inflater.decompress(inflater.unconsumed_tail))
        except error as exc:
            raise UnreadableInput(f"bad gzip data: {exc}") from exc
        if not inflater.eof:
            raise UnreadableInput("bad gzip data: truncated (no end-of-stream marker)")
        raw = inflater.unused_data
        if not raw.startswith(GZIP_MAGIC):
            break
    if raw.strip(b"\0"):
        raise UnreadableInput("bad gzip data: trailing garbage after the last member")
    return parts[0] if len(parts) == 1 else b"".join(parts)


def _size_hint(raw: bytes) -> int:
    """One more than the output size the gzip trailer gives; 0 (no bound) when deflate
    could not produce that much from ``raw`` (at most ~1,032 bytes per byte)."""
    hint = int.from_bytes(raw[-4:], "little") + 1
    return hint if hint <= _MOST_INFLATED_PER_BYTE * len(raw) else 0


def parse_json(data: bytes) -> Any:
    """JSON text (UTF-8, BOM allowed) -> value. Raises UnreadableInput."""
    try:
        return json.loads(data)
    except UnicodeDecodeError as exc:
        raise UnreadableInput(f"not UTF-8 text: {exc.reason}") from exc
    except ValueError as exc:
        raise UnreadableInput(f"not JSON: {exc}") from exc


def decode(raw: bytes) -> Any:
    """gzip (detected by its magic bytes, whatever the name) + JSON. Raises UnreadableInput."""
    return parse_json(gunzip(raw) if raw.startswith(GZIP_MAGIC) else raw)


# --------------------------------------------------------------------------- local


def _failing(exc: BaseException) -> Callable[[], bytes]:
    def read() -> bytes:
        raise UnreadableInput(str(exc)) from exc

    return read


def _reader(path: Path) -> Callable[[], bytes]:
    def read() -> bytes:
        try:
            return path.read_bytes()
        except OSError as exc:
            raise UnreadableInput(exc.strerror or str(exc)) from exc

    return read


def _local(argument: str, dates: DateRange) -> Iterator[Source]:
    path = Path(argument)
    if not path.is_dir():
        yield Source(argument, explicit=True, read=_reader(path))
        return
    for folder, dirnames, filenames in os.walk(path, onerror=None):
        dirnames[:] = sorted(d for d in dirnames if not d.startswith(".") and d != DIGEST_FOLDER)
        for name in sorted(filenames):
            file = Path(folder, name)
            if not name.startswith(".") and wanted(file.as_posix(), dates):
                yield Source(str(file), explicit=False, read=_reader(file))


# --------------------------------------------------------------------------- S3


def parse_s3_url(url: str) -> tuple[str, str]:
    bucket, _, prefix = url[len("s3://") :].partition("/")
    if not bucket:
        raise InputUsageError(f"{url!r}: an s3:// input needs a bucket (s3://bucket/prefix)")
    return bucket, prefix


def _s3_reader(client: Any, bucket: str, key: str) -> Callable[[], bytes]:
    def read() -> bytes:
        from botocore.exceptions import BotoCoreError, ClientError

        try:
            body = client.get_object(Bucket=bucket, Key=key)["Body"]
            data: bytes = body.read()
        except ClientError as exc:
            raise UnreadableInput(f"S3 {exc.response.get('Error', {}).get('Code')}") from exc
        except BotoCoreError as exc:
            raise UnreadableInput(f"S3: {exc}") from exc
        return data

    return read


def _s3_keys(client: Any, bucket: str, prefix: str, dates: DateRange) -> Iterator[str]:
    """Keys under ``prefix``; with a date range, dated folders outside it are pruned."""
    paginator = client.get_paginator("list_objects_v2")
    if dates.open:
        for page in paginator.paginate(Bucket=bucket, Prefix=prefix):
            for item in page.get("Contents", ()):
                yield item["Key"]
        return
    folders: list[str] = []
    for page in paginator.paginate(Bucket=bucket, Prefix=prefix, Delimiter="/"):
        for item in page.get("Contents", ()):
            yield item["Key"]
        folders += [p["Prefix"] for p in page.get("CommonPrefixes", ())]
    for folder in folders:
        days = _prefix_days(folder)
        if folder.endswith(f"/{DIGEST_FOLDER}/") or folder == f"{DIGEST_FOLDER}/":
            continue
        if days is None or dates.overlaps(*days):
            yield from _s3_keys(client, bucket, folder, dates)


def _s3(url: str, dates: DateRange, client_factory: Callable[[], Any]) -> Iterator[Source]:
    from botocore.exceptions import BotoCoreError, ClientError

    bucket, prefix = parse_s3_url(url)
    try:
        client = client_factory()
        for key in _s3_keys(client, bucket, prefix, dates):
            if key == prefix:
                yield Source(url, explicit=True, read=_s3_reader(client, bucket, key))
            elif wanted(key, dates):
                yield Source(f"s3://{bucket}/{key}", False, _s3_reader(client, bucket, key))
    except ClientError as exc:
        code = exc.response.get("Error", {}).get("Code")
        yield Source(url, explicit=True, read=_failing(UnreadableInput(f"S3 listing: {code}")))
    except BotoCoreError as exc:
        yield Source(url, explicit=True, read=_failing(UnreadableInput(f"S3 listing: {exc}")))


def default_s3_client() -> Any:
    import boto3
    from botocore.config import Config

    return boto3.client(
        "s3", config=Config(retries={"mode": "standard"}, connect_timeout=10, read_timeout=60)
    )


def iter_sources(
    arguments: Sequence[str],
    dates: DateRange = DateRange(),
    s3_client: Callable[[], Any] = default_s3_client,
) -> Iterator[Source]:
    """Every input document named by ``arguments``, in order, lazily.

    Raises :class:`InputUsageError` up front for a malformed ``s3://`` argument.
    """
    for argument in arguments:
        if argument.startswith("s3://"):
            parse_s3_url(argument)
    client: list[Any] = []

    def shared_client() -> Any:
        if not client:
            client.append(s3_client())
        return client[0]

    for argument in arguments:
        if argument.startswith("s3://"):
            yield from _s3(argument, dates, shared_client)
        else:
            yield from _local(argument, dates)
