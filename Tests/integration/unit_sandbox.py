"""A systemd unit's system-call sandbox, read from the unit file, for test_deploy.py.

As a library: the unit's SystemCallFilter= as a set of syscall names (its @groups expanded with
`systemd-analyze syscall-filter`, the lines applied in order as systemd applies them) and its RestrictAddressFamilies=.

As a program, it runs a command inside that sandbox the way systemd builds it, with seccomp (libseccomp, through
ctypes): every system call outside the allow list fails with EPERM (the units set SystemCallErrorNumber=EPERM), and
socket() of a family outside RestrictAddressFamilies= fails with EAFNOSUPPORT, in a second stacked filter as
systemd does it. Privileges are dropped first (systemd sets User= before it loads the filters):

    python3 unit_sandbox.py UNIT_FILE [--user NAME] -- PROGRAM [ARG...]
"""
from __future__ import annotations

import ctypes
import ctypes.util
import errno
import os
import pwd
import shutil
import subprocess
import sys
from pathlib import Path

# Address family numbers (linux/socket.h), for the families a unit may name.
FAMILIES = {"AF_UNIX": 1, "AF_INET": 2, "AF_INET6": 10, "AF_NETLINK": 16, "AF_PACKET": 17}


def unit_values(unit: Path, key: str) -> list[str]:
    """Every `key=` assignment of a unit file, in order (systemd applies them in order; an empty one resets)."""
    values = []
    for line in Path(unit).read_text().splitlines():
        line = line.strip()
        if line.startswith(key + "="):
            values.append(line[len(key) + 1:].strip())
    return values


def syscall_groups(analyze: str) -> dict[str, set[str]]:
    """systemd's @groups as `systemd-analyze syscall-filter` prints them (members may be @groups themselves)."""
    out = subprocess.run([analyze, "syscall-filter", "--no-pager"], capture_output=True, text=True, timeout=60,
                         check=True).stdout
    groups: dict[str, set[str]] = {}
    current = None
    for line in out.splitlines():
        if line.startswith("@"):
            current = line.strip()
            groups[current] = set()
        elif line.startswith("#"):
            current = None  # the "unlisted system calls" part, and notes
        elif line.startswith("    ") and current and not line.strip().startswith("#"):
            groups[current].add(line.strip())
    assert "@system-service" in groups and "read" in groups.get("@basic-io", ()), out[:2000]
    return groups


def expand(names: list[str], groups: dict[str, set[str]]) -> set[str]:
    out: set[str] = set()
    for name in names:
        if name.startswith("@"):
            assert name in groups, f"unknown syscall group {name}"
            out |= expand(sorted(groups[name]), groups)
        else:
            out.add(name)
    return out


def allowed_syscalls(unit: Path, analyze: str) -> set[str]:
    """The allow list a unit's SystemCallFilter= lines make."""
    groups = syscall_groups(analyze)
    allowed: set[str] | None = None
    for value in unit_values(unit, "SystemCallFilter"):
        if not value:
            allowed = None
            continue
        invert = value.startswith("~")
        names = value.lstrip("~").split()
        assert all(":" not in n for n in names), "per-syscall errno values are not handled here"
        if allowed is None:
            assert not invert, f"{Path(unit).name}: the first SystemCallFilter= must be an allow list"
            allowed = set()
        if invert:
            allowed -= expand(names, groups)
        else:
            allowed |= expand(names, groups)
    assert allowed, f"{Path(unit).name} has no SystemCallFilter= allow list"
    return allowed


def address_families(unit: Path) -> set[str]:
    families: set[str] = set()
    for value in unit_values(unit, "RestrictAddressFamilies"):
        assert not value.startswith("~"), "only allow lists are handled here"
        families = set(value.split()) if value else set()
    return families


# ----------------------------------------------------------------------------------------------- seccomp

SCMP_ACT_ALLOW = 0x7FFF0000


def scmp_act_errno(number: int) -> int:
    return 0x00050000 | (number & 0xFFFF)


class ArgCmp(ctypes.Structure):
    _fields_ = [("arg", ctypes.c_uint), ("op", ctypes.c_int), ("datum_a", ctypes.c_uint64), ("datum_b", ctypes.c_uint64)]


SCMP_CMP_LT, SCMP_CMP_EQ, SCMP_CMP_GT = 2, 4, 6


def _libseccomp():
    lib = ctypes.CDLL(ctypes.util.find_library("seccomp") or "libseccomp.so.2", use_errno=True)
    lib.seccomp_init.restype = ctypes.c_void_p
    lib.seccomp_init.argtypes = [ctypes.c_uint32]
    lib.seccomp_syscall_resolve_name.argtypes = [ctypes.c_char_p]
    lib.seccomp_rule_add_array.argtypes = [ctypes.c_void_p, ctypes.c_uint32, ctypes.c_int, ctypes.c_uint,
                                           ctypes.POINTER(ArgCmp)]
    lib.seccomp_load.argtypes = [ctypes.c_void_p]
    lib.seccomp_release.argtypes = [ctypes.c_void_p]
    return lib


def load_filters(allowed: set[str], families: set[str]) -> None:
    """Loads the two filters into this process (inherited across exec)."""
    lib = _libseccomp()
    # 1. socket(): families outside the list fail with EAFNOSUPPORT. First, as systemd does: once the allow list
    #    is in, seccomp() itself is refused.
    numbers = sorted(FAMILIES[f] for f in families)
    ctx = lib.seccomp_init(SCMP_ACT_ALLOW)
    assert ctx, "seccomp_init failed"
    socket_nr = lib.seccomp_syscall_resolve_name(b"socket")
    refuse = scmp_act_errno(errno.EAFNOSUPPORT)

    def rule(op: int, value: int) -> None:
        cmp = ArgCmp(0, op, value, 0)
        assert lib.seccomp_rule_add_array(ctx, refuse, socket_nr, 1, ctypes.byref(cmp)) == 0

    rule(SCMP_CMP_LT, numbers[0])
    rule(SCMP_CMP_GT, numbers[-1])
    for value in range(numbers[0] + 1, numbers[-1]):
        if value not in numbers:
            rule(SCMP_CMP_EQ, value)
    assert lib.seccomp_load(ctx) == 0, "seccomp_load (address families)"
    lib.seccomp_release(ctx)
    # 2. The allow list; everything else fails with EPERM.
    ctx = lib.seccomp_init(scmp_act_errno(errno.EPERM))
    assert ctx, "seccomp_init failed"
    for name in sorted(allowed):
        number = lib.seccomp_syscall_resolve_name(name.encode())
        if number < 0:
            continue  # not a system call on this architecture (systemd skips those too)
        rc = lib.seccomp_rule_add_array(ctx, SCMP_ACT_ALLOW, number, 0, None)
        assert rc == 0, f"seccomp_rule_add {name}: {rc}"
    assert lib.seccomp_load(ctx) == 0, "seccomp_load (system calls)"
    lib.seccomp_release(ctx)


def main(argv: list[str]) -> None:
    separator = argv.index("--")
    options, command = argv[:separator], argv[separator + 1:]
    unit = Path(options[0])
    user = options[options.index("--user") + 1] if "--user" in options else None
    analyze = shutil.which("systemd-analyze") or "/usr/bin/systemd-analyze"
    allowed, families = allowed_syscalls(unit, analyze), address_families(unit)
    if user:
        entry = pwd.getpwnam(user)
        os.initgroups(user, entry.pw_gid)
        os.setgid(entry.pw_gid)
        os.setuid(entry.pw_uid)
    load_filters(allowed, families)
    os.execv(command[0], command)


if __name__ == "__main__":
    main(sys.argv[1:])
