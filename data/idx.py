"""Reader of idx files, the format MNIST and Fashion-MNIST ship in, gzipped (`.gz`) or not.

An idx file of unsigned bytes is a big-endian int32 magic number 0x000008DD (0x08: unsigned
bytes; DD: the number of dimensions, so 2051 for [N, rows, cols] images and 2049 for [N]
labels), one big-endian int32 size per dimension, then the bytes in C order, nothing after them.
Every way a file can fail to be that (missing, not gzip, wrong magic, cut short, bytes left over)
is an `IdxError` naming the file, in one line.
"""
import gzip
import math
import struct
import zlib

import numpy as np

IMAGES_MAGIC = 2051  # 3-D unsigned bytes
LABELS_MAGIC = 2049  # 1-D unsigned bytes
_KIND = {IMAGES_MAGIC: "images", LABELS_MAGIC: "labels"}
MAX_BYTES = 1 << 32  # a header claiming more is corrupt (Fashion-MNIST's largest file: 47 MB)


class IdxError(ValueError):
    """An idx file that cannot be read; the message names it and says why."""


def read(path, magic):
    """The uint8 array stored in idx file `path`, which must carry `magic`."""
    try:
        with (gzip.open if path.endswith(".gz") else open)(path, "rb") as f:
            return _read(f, path, magic)
    except FileNotFoundError:
        raise IdxError(f"{path} is missing") from None
    except EOFError:  # the gzip stream stops before its end marker
        raise IdxError(f"{path} is truncated (its gzip stream ends early)") from None
    except (OSError, zlib.error) as e:  # not gzip, a corrupt stream, unreadable
        raise IdxError(f"{path} cannot be read ({_one_line(e)})") from None


def _read(f, path, magic):
    head = f.read(4)
    if len(head) < 4:
        raise IdxError(f"{path} is truncated ({len(head)} bytes, not even an idx header)")
    found, = struct.unpack(">i", head)
    if found != magic:
        other = (f" (the magic of idx {_KIND[found]}: are the files swapped?)"
                 if found in _KIND else "")
        raise IdxError(f"{path} is not an idx file of {_KIND.get(magic, 'this kind')}: magic "
                       f"number {found}, expected {magic}{other}")
    ndim = magic & 0xFF
    raw = f.read(4 * ndim)
    if len(raw) < 4 * ndim:
        raise IdxError(f"{path} is truncated inside its header")
    shape = struct.unpack(f">{ndim}i", raw)
    expected = math.prod(shape)
    if min(shape, default=0) < 0 or expected > MAX_BYTES:
        raise IdxError(f"{path} has a corrupt header: sizes {list(shape)}")
    array = np.empty(shape, np.uint8)
    view, done = memoryview(array.reshape(-1)), 0
    while done < expected:
        n = f.readinto(view[done:])
        if not n:
            raise IdxError(f"{path} is truncated: {done} of the {expected} bytes its header "
                           f"announces ({'x'.join(map(str, shape))})")
        done += n
    if f.read(1):
        raise IdxError(f"{path} has bytes after the {expected} its header announces "
                       f"({'x'.join(map(str, shape))})")
    return array


def _one_line(error):
    return " ".join(str(error).split()) or type(error).__name__
