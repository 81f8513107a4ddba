"""What this machine's CPU is and which instructions it has, read from ``/proc/cpuinfo``.

The precision networks run in follows the CPU (bfloat16 only where it is native), and
every benchmark prints :func:`description`, since figures from hosts with and without
AVX-512 or BF16 differ severalfold.
"""
import functools
import os
import platform

#: Flags that change what the networks can run at, in the order benchmarks print them.
NOTABLE_FLAGS = ("avx2", "avx512f", "avx512_bf16", "amx_bf16", "amx_tile")

#: Any of these means the CPU computes in bfloat16 natively (AVX-512 BF16, or AMX).
BF16_FLAGS = frozenset({"avx512_bf16", "amx_bf16"})


@functools.cache
def _cpuinfo():
    try:
        with open("/proc/cpuinfo") as cpuinfo:
            return cpuinfo.read()
    except OSError:
        return ""


def _field(name):
    """The first value of field ``name`` in ``/proc/cpuinfo`` (the same for every core here), or ``""``."""
    for line in _cpuinfo().splitlines():
        key, _, value = line.partition(":")
        if key.strip() == name:
            return value.strip()
    return ""


def cpu_flags():
    """The CPU's feature flags (``flags`` on x86, ``Features`` on Arm) as a frozenset; empty where unknown."""
    return frozenset((_field("flags") or _field("Features")).split())


def cpu_model():
    """The CPU's model name, e.g. ``Intel(R) Xeon(R) Processor``."""
    return _field("model name") or platform.processor() or platform.machine()


def has_native_bf16(flags=None):
    """Whether the CPU with ``flags`` (this one's by default) has bfloat16 arithmetic in hardware."""
    return bool((cpu_flags() if flags is None else frozenset(flags)) & BF16_FLAGS)


def description():
    """One line for benchmark output: model, cores and the notable flags present and absent."""
    flags = cpu_flags()
    marks = " ".join(f"{flag}{'+' if flag in flags else '-'}" for flag in NOTABLE_FLAGS)
    return f"CPU: {cpu_model()}, {os.cpu_count()} cores; {marks}"
