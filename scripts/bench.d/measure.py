"""What the sections of scripts/bench share to measure: a process's own peak RSS (ptrace), and how figures and
files are written. Stdlib only."""

import ctypes
import statistics
import os
import subprocess


# ptrace(2), to read a process's own peak RSS (VmHWM) at its exit, before the kernel frees its memory: wait4's
# ru_maxrss is the largest of the process and its children, and vtysh is larger than anycastd at small sizes.
PTRACE_TRACEME, PTRACE_CONT, PTRACE_SETOPTIONS = 0, 7, 0x4200
PTRACE_O_TRACEEXIT, PTRACE_EVENT_EXIT = 0x40, 6
libc = ctypes.CDLL(None, use_errno=True)
libc.ptrace.argtypes = [ctypes.c_long, ctypes.c_long, ctypes.c_void_p, ctypes.c_void_p]
libc.ptrace.restype = ctypes.c_long


def ptrace(request, pid, data=0):
    if libc.ptrace(request, pid, None, ctypes.c_void_p(data)) == -1:
        error = ctypes.get_errno()
        raise OSError(error, f"ptrace({request}): {os.strerror(error)}")


def traced(argv, stderr):
    """Runs `argv` to its end; returns its wait status, its rusage (with its children) and its own peak RSS (KiB)."""
    child = subprocess.Popen(
        argv, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=stderr,
        preexec_fn=lambda: ptrace(PTRACE_TRACEME, 0),
    )
    own, started = None, False
    while True:
        _, status, usage = os.wait4(child.pid, 0)
        if not os.WIFSTOPPED(status):
            child.returncode = status
            return status, usage, own
        signal = os.WSTOPSIG(status)
        if not started:  # the stop after execve
            ptrace(PTRACE_SETOPTIONS, child.pid, PTRACE_O_TRACEEXIT)
            started, signal = True, 0
        elif status >> 16 == PTRACE_EVENT_EXIT:
            with open(f"/proc/{child.pid}/status") as f:
                own = next(int(line.split()[1]) for line in f if line.startswith("VmHWM:"))
            signal = 0
        ptrace(PTRACE_CONT, child.pid, signal)


def write(path, text):
    with open(path, "w", encoding="utf-8") as f:
        f.write(text)


def ms(seconds):
    return f"{seconds * 1000:.1f} ms" if seconds < 0.1 else f"{seconds * 1000:.0f} ms"


def summarize(samples, medians, counts):
    """The median of each of `medians` over the rounds' `samples`; each of `counts` (calls, requests) must not vary
    between rounds: a single value, or its range written `a–b`."""
    summary = {key: statistics.median(s[key] for s in samples) for key in medians}
    for key in counts:
        values = sorted({s[key] for s in samples})
        summary[key] = values[0] if len(values) == 1 else "–".join(map(str, (values[0], values[-1])))
    return summary
