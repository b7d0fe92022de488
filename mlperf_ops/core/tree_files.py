"""Read one file of a submission tree whole, never more than the portal takes.

A tree comes from anywhere. One of its files may be a sparse file of terabytes (made in a
blink with `truncate -s 3T`): read whole, it is zeros for as long as memory lasts (a 3 GB
detail log took 9 GB and 22 s before this reader). Or it may be a FIFO, which blocks the
reader until something writes to it. The portal refuses every file over 50 MB, and the
check reports each one (`tree.large-file`), so no file a check needs is larger: nothing
here reads more than that, and nothing waits.
"""

from __future__ import annotations

import errno
import os
import stat
from collections.abc import Callable
from functools import partial
from pathlib import Path

# FILE_SIZE_LIMIT_MB * MB_TO_BYTES of the official checker's older version: the portal's limit
FILE_SIZE_LIMIT_BYTES = 50 * 1024 * 1024
# Non-blocking: opening a FIFO for reading would wait for a writer; fstat then refuses it.
_READ_FLAGS = os.O_RDONLY | os.O_NONBLOCK | getattr(os, "O_CLOEXEC", 0)


class NotAFile(OSError):
    """The path names a FIFO, a device, a socket or a folder: nothing a tree's file may be."""


class FileTooLarge(OSError):
    """A file over the portal's limit, left unread. An OSError, so that every reader which
    reports an unreadable file reports this one too, with its size as the reason."""


def size_text(size: int) -> str:
    return f"{size / (1024 * 1024):.1f} MB is over the 50 MB limit"


def read_tree_file(path: Path | str, limit: int = FILE_SIZE_LIMIT_BYTES) -> bytes:
    """The bytes of the regular file at `path` (links followed), at most `limit` of them.

    Raises FileNotFoundError and the like as open() does, NotAFile for anything but a
    regular file, FileTooLarge for a file over `limit` (or one that grew past it while read).
    """
    fd = os.open(path, _READ_FLAGS)
    try:
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode):
            raise NotAFile(errno.EINVAL, "not a regular file", str(path))
        if info.st_size > limit:
            raise FileTooLarge(errno.EFBIG, size_text(info.st_size), str(path))
        data = read_to_end(partial(os.read, fd), info.st_size, limit)
        if len(data) > limit:
            raise FileTooLarge(errno.EFBIG, f"it grew while read: {size_text(len(data))}", str(path))
        return data
    finally:
        os.close(fd)


def read_to_end(read: Callable[[int], bytes], size: int, limit: int) -> bytes:
    """What `read` (a file's os.read) gives up to the file's end, never more than `limit`
    bytes and one (that one says the file passed `limit`); `size`: what fstat said.

    One call when the file still has that size: asked for one byte more, it comes back
    short, which is the end (thousands of files a tree: a second call that reads nothing
    was a fifth of the secret scan). More calls when it grew since, or when a read came
    back short (a network file system may), until one returns nothing.
    """
    first = read(min(size, limit) + 1)
    if len(first) == size:
        return first
    chunks = [first]
    total = len(first)
    while chunks[-1] and total <= limit:
        chunks.append(read(min(1 << 20, limit + 1 - total)))
        total += len(chunks[-1])
    return first if len(chunks) == 1 else b"".join(chunks)


def read_tree_text(path: Path | str, errors: str = "strict", limit: int = FILE_SIZE_LIMIT_BYTES) -> str:
    """read_tree_file as UTF-8 text (`errors`: as bytes.decode takes it)."""
    return read_tree_file(path, limit).decode("utf-8", errors=errors)
