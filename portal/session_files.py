"""The filesystem session backend's folder and cache: private, pickle-free, no full scans.

cachelib's ``FileSystemCache`` keeps a file count and, once it passes ``threshold``, lists and
opens every file of the folder on every write to prune it. With 10,000 sessions that turned
one login from 4 ms into half a second. :class:`SessionFiles` runs with ``threshold=0`` (no
count, no prune) and relies on each file's own expiry, which cachelib already checks on every
read: an expired session, index set or marker is never served. Expired files are removed a
few at a time: every write also looks at the next :data:`SWEEP_BATCH` files of one ongoing
pass over the folder (``os.scandir``, resumed where the previous write stopped) and deletes
those past their expiry. A write therefore costs the same whatever the folder holds, and a
pass completes once per (files / SWEEP_BATCH) writes, faster than logins add files (about
four per login), so the folder stays near the number of live entries.

The folder itself must be private (:func:`prepare_session_dir`): whoever can write there can
plant or delete sessions.
"""

from __future__ import annotations

import logging
import os
import stat
import struct
import threading
import time
import weakref
from pathlib import Path
from typing import Any

from cachelib import FileSystemCache

from portal.session_serializer import FileSerializer
from portal.settings import SettingsError

log = logging.getLogger("portal.sessions")

#: Files looked at (and deleted when expired) per write.
SWEEP_BATCH = 8

#: cachelib's file layout: a 4-byte expiry (unix seconds, 0 = never), then the value.
_HEADER = struct.Struct("I")


def prepare_session_dir(path: Path) -> Path:
    """Create the folder 0700 when absent; refuse one another user owns or others can write.

    Raises :class:`SettingsError` naming ``PORTAL_SESSION_DIR``, the one line shown at start-up.
    """
    expected = "a folder owned by the portal's user and not writable by group or others"
    try:
        path.mkdir(mode=0o700, parents=True, exist_ok=False)
    except FileExistsError:
        pass
    except OSError as exc:
        raise SettingsError(
            "PORTAL_SESSION_DIR", f"a folder the portal can create ({exc.strerror})", str(path)
        ) from None
    else:
        os.chmod(path, 0o700)  # mkdir's mode is filtered by the umask; say it exactly
        return path
    info = path.stat()
    if not stat.S_ISDIR(info.st_mode):
        raise SettingsError("PORTAL_SESSION_DIR", expected, f"{path} is not a folder")
    if info.st_uid != os.geteuid():
        raise SettingsError("PORTAL_SESSION_DIR", expected, f"{path} is owned by uid {info.st_uid}")
    if info.st_mode & (stat.S_IWGRP | stat.S_IWOTH):
        raise SettingsError(
            "PORTAL_SESSION_DIR", expected, f"{path} has mode {stat.S_IMODE(info.st_mode):04o}"
        )
    return path


class SessionFiles(FileSystemCache):
    """``FileSystemCache`` without its threshold scan and pickle, with a bounded sweep."""

    serializer = FileSerializer()

    def __init__(self, cache_dir: Path) -> None:
        self._sweep_lock = threading.Lock()
        # the os.scandir iterator of the ongoing sweep pass, in a holder that the finalizer
        # shares, so that an unfinished pass is closed when the cache goes away
        self._pass: list[Any] = [None]
        weakref.finalize(self, _close_pass, self._pass)
        super().__init__(str(cache_dir), threshold=0, mode=0o600)

    # cachelib logs a failed write or delete (a full disk, a file system remounted read-only)
    # and returns False; unchecked, a logout would answer 200 having deleted nothing, and a
    # tombstone would be lost. Raised here as OSError, the store's errors become 503s as
    # Redis's do (portal.session_store.STORE_ERRORS).

    def set(self, key: str, value: Any, timeout: Any = None, mgmt_element: bool = False) -> bool:
        written = super().set(key, value, timeout, mgmt_element)
        if not written:
            raise OSError("session folder: a file could not be written")
        self.sweep(SWEEP_BATCH)
        return written

    def delete(self, key: str, mgmt_element: bool = False) -> bool:
        if not super().delete(key, mgmt_element):  # a missing file counts as deleted
            raise OSError("session folder: a file could not be deleted")
        return True

    def expires_at(self, key: str) -> int | None:
        """The stored expiry of ``key`` (unix seconds, 0 = never), or None when absent."""
        try:
            with open(self._get_filename(key), "rb") as f:
                return _HEADER.unpack(f.read(_HEADER.size))[0]
        except (OSError, struct.error):
            return None

    def sweep(self, limit: int) -> int:
        """Look at the next ``limit`` files of the ongoing pass; delete the expired ones.

        One thread sweeps at a time; the others skip (the next write continues the pass).
        Returns how many files were looked at.
        """
        if not self._sweep_lock.acquire(blocking=False):
            return 0
        try:
            looked = 0
            while looked < limit:
                if self._pass[0] is None:
                    self._pass[0] = os.scandir(self._path)
                entry = next(self._pass[0], None)
                if entry is None:
                    _close_pass(self._pass)
                    break
                if self._is_mgmt(entry.name):
                    continue
                looked += 1
                self._remove_if_expired(entry.path)
            return looked
        except OSError as exc:
            log.warning("session folder sweep skipped: %s", type(exc).__name__)
            _close_pass(self._pass)
            return 0
        finally:
            self._sweep_lock.release()

    def _remove_if_expired(self, filename: str) -> None:
        try:
            with open(filename, "rb") as f:
                expires = _HEADER.unpack(f.read(_HEADER.size))[0]
                if expires == 0 or expires >= time.time():
                    return
                # Writes replace files (os.replace): delete only the file whose header was
                # read, not a fresh one written under the same name meanwhile.
                if os.stat(filename).st_ino != os.fstat(f.fileno()).st_ino:
                    return
            os.remove(filename)
        except (OSError, struct.error):
            pass  # gone already, or unreadable: a later pass tries again


def _close_pass(holder: list[Any]) -> None:
    if holder[0] is not None:
        holder[0].close()
        holder[0] = None
