"""The code worker's seccomp filter: system calls the code never needs and that widen what a process can reach.

Standard library only, no flowbox import: `codeworker` (run as a script) loads it as a file beside it.
"""

from __future__ import annotations

import os
import struct
from typing import Any

# (audit arch, first x32 number or None, {name: number}) per machine
_SYSCALLS = {
    "x86_64": (0xC000003E, 0x40000000, {
        "ptrace": 101, "process_vm_readv": 310, "process_vm_writev": 311, "mount": 165, "umount2": 166,
        "pivot_root": 155, "chroot": 161, "unshare": 272, "setns": 308, "keyctl": 250, "add_key": 248,
        "request_key": 249, "bpf": 321, "perf_event_open": 298, "userfaultfd": 323, "kexec_load": 246,
        "kexec_file_load": 320, "init_module": 175, "finit_module": 313, "delete_module": 176,
        "open_by_handle_at": 304, "name_to_handle_at": 303, "io_uring_setup": 425, "io_uring_enter": 426,
        "io_uring_register": 427, "acct": 163, "swapon": 167, "swapoff": 168, "reboot": 169, "syslog": 103,
        "quotactl": 179, "iopl": 172, "ioperm": 173, "open_tree": 428, "move_mount": 429, "fsopen": 430,
        "fsconfig": 431, "fsmount": 432, "fspick": 433, "mount_setattr": 442, "vhangup": 153,
        "lookup_dcookie": 212, "uselib": 134, "clone": 56, "clone3": 435, "ioctl": 16}),
    "aarch64": (0xC00000B7, None, {
        "ptrace": 117, "process_vm_readv": 270, "process_vm_writev": 271, "mount": 40, "umount2": 39,
        "pivot_root": 41, "chroot": 51, "unshare": 97, "setns": 268, "keyctl": 219, "add_key": 217,
        "request_key": 218, "bpf": 280, "perf_event_open": 241, "userfaultfd": 282, "kexec_load": 104,
        "kexec_file_load": 294, "init_module": 105, "finit_module": 273, "delete_module": 106,
        "open_by_handle_at": 265, "name_to_handle_at": 264, "io_uring_setup": 425, "io_uring_enter": 426,
        "io_uring_register": 427, "acct": 89, "swapon": 224, "swapoff": 225, "reboot": 142, "syslog": 116,
        "quotactl": 60, "open_tree": 428, "move_mount": 429, "fsopen": 430, "fsconfig": 431, "fsmount": 432,
        "fspick": 433, "mount_setattr": 442, "vhangup": 58, "lookup_dcookie": 18, "clone": 220, "clone3": 435,
        "ioctl": 29}),
}
_NAMESPACE_FLAGS = 0x7E020000  # CLONE_NEWNS | NEWCGROUP | NEWUTS | NEWIPC | NEWUSER | NEWPID | NEWNET
_TIOCSTI = 0x5412  # push characters into a terminal's input
_RET_ALLOW, _RET_ERRNO, _RET_KILL = 0x7FFF0000, 0x00050000, 0x80000000


def seccomp_program(machine: str) -> bytes | None:
    """The BPF filter for this machine: EPERM for the denied calls, ENOSYS for clone3 (so that libc falls back
    to clone, whose flags a filter can read), clone only without new namespaces; None on other machines."""
    if machine not in _SYSCALLS:
        return None
    arch, x32, numbers = _SYSCALLS[machine]
    special = {"clone", "clone3", "ioctl"}
    code: list[tuple[int, Any, Any, int]] = [(0x20, 0, 0, 4), (0x15, 0, "kill", arch), (0x20, 0, 0, 0)]
    if x32 is not None:
        code.append((0x35, "eperm", 0, x32))
    code += [(0x15, "eperm", 0, nr) for name, nr in numbers.items() if name not in special]
    code += [(0x15, "clone", 0, numbers["clone"]), (0x15, "enosys", 0, numbers["clone3"]),
             (0x15, "ioctl", 0, numbers["ioctl"]), (0x06, 0, 0, _RET_ALLOW)]
    labels = {"clone": len(code)}
    code += [(0x20, 0, 0, 16), (0x45, "eperm", 0, _NAMESPACE_FLAGS), (0x06, 0, 0, _RET_ALLOW)]
    labels["ioctl"] = len(code)
    code += [(0x20, 0, 0, 24), (0x15, "eperm", 0, _TIOCSTI), (0x06, 0, 0, _RET_ALLOW)]
    for name, ret in (("enosys", _RET_ERRNO | 38), ("eperm", _RET_ERRNO | 1), ("kill", _RET_KILL)):
        labels[name] = len(code)
        code.append((0x06, 0, 0, ret))
    out = bytearray()
    for i, (op, jt, jf, k) in enumerate(code):
        jt, jf = (labels[j] - i - 1 if isinstance(j, str) else j for j in (jt, jf))
        out += struct.pack("<HBBI", op, jt, jf, k)
    return bytes(out)


def seccomp_installer() -> Any:
    """A function that installs the seccomp filter on the calling process (and what it starts), made once
    in the worker so that each request's fork only makes two prctl calls; None on machines without one."""
    import ctypes

    program = seccomp_program(os.uname().machine)
    if program is None:
        return None

    class Prog(ctypes.Structure):
        _fields_ = [("len", ctypes.c_ushort), ("filter", ctypes.c_char_p)]

    libc = ctypes.CDLL(None, use_errno=True)
    prog = Prog(len(program) // 8, program)
    pointer = ctypes.byref(prog)

    def install() -> None:
        if libc.prctl(38, 1, 0, 0, 0) != 0 or libc.prctl(22, 2, pointer, 0, 0) != 0:  # NO_NEW_PRIVS, SECCOMP
            raise OSError(ctypes.get_errno(), "cannot install the seccomp filter")

    install.keep = (prog, program)  # type: ignore[attr-defined]
    return install
