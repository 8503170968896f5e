"""OS-level isolation of one worker child (standard library only: GPU workers import this).

`confine(paths)` is called in a freshly forked child before it loads any untrusted code. In
order, each step only where the kernel allows it:

1. stdin becomes /dev/null: a child must not read the fork server's job stream.
2. An unshared network namespace (`unshare(CLONE_NEWNET)`, or with a user namespace when not
   root): no interface but a loopback that is down, so nothing is reachable, TCP or UDP.
3. Bind mounts (`binds`, in a mount namespace of its own, private so nothing reaches the host):
   a directory of the child's own shown at another path. A candidate's copy of its problem's
   compile caches goes where the problem's are, because the caches name their own files by
   absolute path (caches.py). Bound is reported in `BOUND`; where the kernel refuses, nothing
   is bound and the caller uses the copy where it is.
4. Landlock (Linux 5.13+; ABI 4 adds TCP rules, ABI 6 signal and abstract-socket scopes): the
   child may write only its own directory, its Triton and Inductor caches and the GPU lock;
   read and execute only the interpreter, site-packages, the kcorpus package, system libraries
   and tools, a few files of /etc and the device nodes a GPU needs, and read and write its own
   /proc entry (the CUDA driver writes there; measured on an H200 node); bind
   or connect no TCP port; signal no process outside its domain.
5. An audit hook (PEP 578) that records every attempt to open a path outside those roots, to
   connect, bind or send on a socket, or to start a program, so the verdict can say what was
   tried even when the candidate catches the error the kernel gave it. It cannot be removed.

What was applied is returned as a label for the verdict's `sandbox` column: "landlock+netns",
"landlock", "netns" or "none" -- never silently weaker.
"""

from __future__ import annotations

import ctypes
import glob
import os
import sys
from dataclasses import dataclass, field
from pathlib import Path

_SYS_CREATE_RULESET, _SYS_ADD_RULE, _SYS_RESTRICT_SELF = 444, 445, 446  # the same on every arch
_CLONE_NEWNET, _CLONE_NEWUSER = 0x40000000, 0x10000000
_PR_SET_NO_NEW_PRIVS = 38
# access rights, by the ABI that introduced them
_FS_EXECUTE, _FS_WRITE_FILE, _FS_READ_FILE, _FS_READ_DIR = 1, 2, 4, 8
_FS_ABI1 = (1 << 13) - 1
_FS_REFER, _FS_TRUNCATE, _FS_IOCTL_DEV = 1 << 13, 1 << 14, 1 << 15
_NET_BIND_TCP, _NET_CONNECT_TCP = 1, 2
_SCOPE_ABSTRACT_UNIX, _SCOPE_SIGNAL = 1, 2
_FILE_RIGHTS = _FS_EXECUTE | _FS_WRITE_FILE | _FS_READ_FILE | _FS_TRUNCATE | _FS_IOCTL_DEV

SYSTEM_READ = ["/usr", "/lib", "/lib32", "/lib64", "/bin", "/sbin", "/sys", "/proc/cpuinfo",
               "/proc/meminfo", "/proc/stat", "/proc/sys", "/proc/driver", "/proc/devices",
               "/etc/ld.so.cache", "/etc/localtime", "/etc/passwd", "/etc/group",
               "/etc/nsswitch.conf", "/etc/alternatives", "/etc/os-release"]
DEVICES_RW = ["/dev/null", "/dev/zero", "/dev/full", "/dev/random", "/dev/urandom",
              "/dev/nvidia*", "/dev/nvidia-caps"]


@dataclass
class Paths:
    """What one child may touch besides the system: `write` directories (and files), `read`
    directories (and files) on top of the interpreter's own."""
    write: list[str] = field(default_factory=list)
    read: list[str] = field(default_factory=list)
    binds: list[tuple[str, str]] = field(default_factory=list)  # (own directory, shown at)


VIOLATIONS: list[str] = []  # what the audit hook saw, in order
LABEL = "none"  # what confine() applied
BOUND = False  # whether confine() made every bind in Paths.binds
_ROOTS: dict[str, tuple[str, ...]] = {}


def confine(paths: Paths) -> str:
    """Apply every step above that this kernel allows; returns the label for the verdict."""
    _stdin_to_devnull()
    own_proc = f"/proc/{os.getpid()}"  # read and written: CUDA's driver fails without it (H200)
    netns = _unshare_network()
    global BOUND
    BOUND = bool(paths.binds) and _bind(paths.binds)
    shown = [dst for _, dst in paths.binds] if BOUND else []  # the child's own, wherever shown
    write = _existing(paths.write + shown + [own_proc])
    read = _existing(_interpreter_roots() + paths.read + SYSTEM_READ)
    landlock = _landlock(read, write)
    _start_audit(read, write)  # last: the steps above write outside the roots themselves
    global LABEL
    LABEL = "+".join(name for name, ok in (("landlock", landlock), ("netns", netns)) if ok) or "none"
    return LABEL


def _stdin_to_devnull() -> None:
    null = os.open(os.devnull, os.O_RDONLY)
    os.dup2(null, 0)
    os.close(null)


def _interpreter_roots() -> list[str]:
    """The interpreter, its standard library and every import path except the one holding the
    kcorpus checkout (its catalog and releases live there): only the package itself."""
    package = Path(__file__).resolve().parents[1]
    checkout = str(package.parent)
    prefixes = {sys.prefix, sys.base_prefix, sys.exec_prefix}
    roots = prefixes | {str(package)}
    for p in sys.path:  # site directories only: a script's own directory may be anything
        real = os.path.realpath(p) if p else ""
        if real and real != checkout and (real.endswith(("site-packages", "dist-packages")) or any(
                real.startswith(x.rstrip("/") + "/") for x in prefixes)):
            roots.add(real)
        # package metadata on any import path (an editable install's egg-info in the checkout
        # too): torch.compile reads every distribution's entry points
        roots.update(glob.glob(os.path.join(real, "*.egg-info")) if real else [])
        roots.update(glob.glob(os.path.join(real, "*.dist-info")) if real else [])
    return sorted(roots)


def _existing(paths: list[str]) -> list[str]:
    out = []
    for p in paths:
        for match in (glob.glob(p) if "*" in p else [p]):
            if os.path.exists(match):
                out.append(os.path.realpath(match))
    return sorted(set(out))


# -- audit --------------------------------------------------------------------------------------

def _start_audit(read: list[str], write: list[str]) -> None:
    devices = _existing(DEVICES_RW)
    _ROOTS["read"] = tuple(read + write + devices)
    _ROOTS["write"] = tuple(write + devices)
    sys.addaudithook(_audit)


def _inside(path: str, roots: tuple[str, ...]) -> bool:
    return any(path == r or path.startswith(r.rstrip("/") + "/") for r in roots)


def _audit(event: str, args: tuple) -> None:
    if event == "open":
        _audit_open(args)
    elif event in ("socket.connect", "socket.bind", "socket.sendto", "socket.sendmsg"):
        VIOLATIONS.append(f"{event.split('.')[1]} to {args[1]!r}: no network in the sandbox")
    elif event in ("subprocess.Popen", "os.system", "os.exec", "os.posix_spawn", "os.spawn"):
        program = str(args[0] if args else "")
        if not _inside(os.path.realpath(program.split()[0]) if program else "", _ROOTS["read"]):
            VIOLATIONS.append(f"starts {program[:200]}")


def _audit_open(args: tuple) -> None:
    path, mode = args[0], args[1] if len(args) > 1 else "r"
    if not isinstance(path, (str, bytes)):
        return  # an open file descriptor
    path = os.path.realpath(os.fsdecode(path))
    writes = _writes(mode, args[2] if len(args) > 2 else 0)
    roots = _ROOTS["write"] if writes else _ROOTS["read"]
    # a read of a path that does not exist leaks nothing (libraries probe for config files and
    # stale caches); a write anywhere outside is an attempt to leave a trace
    if not _inside(path, roots) and (writes or os.path.exists(path)):
        VIOLATIONS.append(f"{'writes' if writes else 'reads'} {path}: outside the sandbox")


def _writes(mode, flags) -> bool:
    if isinstance(mode, str):
        return any(c in mode for c in "wax+")
    flags = flags if isinstance(flags, int) else 0
    return bool(flags & (os.O_WRONLY | os.O_RDWR | os.O_CREAT | os.O_TRUNC | os.O_APPEND))


# -- network namespace --------------------------------------------------------------------------

def _libc():
    return ctypes.CDLL(None, use_errno=True)


def _unshare_network() -> bool:
    libc = _libc()
    if libc.unshare(_CLONE_NEWNET) == 0:
        return True
    uid, gid = os.getuid(), os.getgid()
    if libc.unshare(_CLONE_NEWUSER | _CLONE_NEWNET) != 0:
        return False
    try:  # keep our own uid and gid inside the new user namespace, so files stay ours
        Path("/proc/self/setgroups").write_text("deny")
        Path("/proc/self/uid_map").write_text(f"{uid} {uid} 1")
        Path("/proc/self/gid_map").write_text(f"{gid} {gid} 1")
    except OSError:
        pass
    return True


# -- bind mounts -------------------------------------------------------------------------------

_CLONE_NEWNS = 0x00020000
_MS_BIND, _MS_REC, _MS_PRIVATE = 4096, 16384, 1 << 18


def _bind(binds: list[tuple[str, str]]) -> bool:
    """Each (src, dst): src shown at dst, for this process only. After the network namespace:
    without root, the user namespace made there is what allows a mount namespace."""
    libc = _libc()
    if libc.unshare(_CLONE_NEWNS) != 0:
        return False
    if libc.mount(None, b"/", None, _MS_REC | _MS_PRIVATE, None) != 0:
        return False  # a shared mount would carry the binds to the host
    for src, dst in binds:
        if libc.mount(os.fsencode(src), os.fsencode(dst), None, _MS_BIND | _MS_REC, None) != 0:
            return False
    return True


# -- Landlock -----------------------------------------------------------------------------------

def landlock_abi() -> int:
    """The kernel's Landlock ABI version, 0 where there is none."""
    libc = _libc()
    libc.syscall.restype = ctypes.c_long
    abi = libc.syscall(_SYS_CREATE_RULESET, None, ctypes.c_size_t(0), ctypes.c_uint32(1))
    return max(int(abi), 0)


class _RulesetAttr(ctypes.Structure):
    _fields_ = [("fs", ctypes.c_uint64), ("net", ctypes.c_uint64), ("scoped", ctypes.c_uint64)]


class _PathBeneath(ctypes.Structure):
    _pack_ = 1
    _fields_ = [("allowed", ctypes.c_uint64), ("fd", ctypes.c_int32)]


def _landlock(read: list[str], write: list[str]) -> bool:
    abi = landlock_abi()
    if abi < 1:
        return False
    fs = _FS_ABI1 | (_FS_REFER if abi >= 2 else 0) | (_FS_TRUNCATE if abi >= 3 else 0) | (
        _FS_IOCTL_DEV if abi >= 5 else 0)
    attr = _RulesetAttr(fs, _NET_BIND_TCP | _NET_CONNECT_TCP if abi >= 4 else 0,
                        _SCOPE_ABSTRACT_UNIX | _SCOPE_SIGNAL if abi >= 6 else 0)
    size = 8 if abi < 4 else 16 if abi < 6 else 24
    libc = _libc()
    ruleset = libc.syscall(_SYS_CREATE_RULESET, ctypes.byref(attr), ctypes.c_size_t(size),
                           ctypes.c_uint32(0))
    if ruleset < 0:
        return False
    try:
        reading = _FS_EXECUTE | _FS_READ_FILE | _FS_READ_DIR
        devices = _existing(DEVICES_RW)
        for path in read:
            _allow(libc, ruleset, path, reading & fs)
        for path in write + devices:
            _allow(libc, ruleset, path, fs)
        if libc.prctl(_PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0:
            return False
        return libc.syscall(_SYS_RESTRICT_SELF, ruleset, ctypes.c_uint32(0)) == 0
    finally:
        os.close(ruleset)


def _allow(libc, ruleset: int, path: str, access: int) -> None:
    try:
        fd = os.open(path, os.O_PATH | os.O_CLOEXEC)
    except OSError:
        return
    try:
        if not os.path.isdir(path):
            access &= _FILE_RIGHTS
        rule = _PathBeneath(access, fd)
        libc.syscall(_SYS_ADD_RULE, ruleset, ctypes.c_int(1), ctypes.byref(rule), ctypes.c_uint32(0))
    finally:
        os.close(fd)
