"""What the CPU computes fast: its int8 dot-product instructions, read from its flags.

Why: an int8 graph runs two to three times faster than float32 where the CPU has VNNI or
AMX, and no faster where it has AVX2 alone (ae-color 0.15.0: 1.47 against 0.52 MP/s on two
"AMD EPYC"s). So a shipped int8 model may come with a smaller float32 stand-in for CPUs
without them (``denoiser.models``), and benchmark figures name the instructions.
"""

from __future__ import annotations

import functools
import os
import platform

INT8_ENV = "DENOISER_INT8"  # "fast" or "slow": overrides what the CPU's flags say
FAST_INT8_FLAGS = ("amx_int8", "avx512_vnni", "avx_vnni")


def int8_instructions(flags: set[str]) -> str:
    """The best int8 dot-product instructions among the CPU's flags, as people name them."""
    for flag, name in (("amx_int8", "AMX"), ("avx512_vnni", "AVX-512 VNNI"),
                       ("avx_vnni", "AVX-VNNI"), ("avx512f", "AVX-512, no VNNI"),
                       ("avx2", "AVX2, no VNNI")):
        if flag in flags:
            return name
    return "no AVX2"


def cpuinfo_flags(cpuinfo: str) -> set[str]:
    """The first ``flags`` line of /proc/cpuinfo's text, as a set (empty if there is none)."""
    line = next((ln for ln in cpuinfo.splitlines() if ln.startswith("flags")), "")
    return set(line.split(":", 1)[1].split()) if ":" in line else set()


@functools.cache
def cpu_flags() -> frozenset[str]:
    """This CPU's flags where the system tells them (Linux); elsewhere none."""
    try:
        with open("/proc/cpuinfo", encoding="utf-8", errors="replace") as f:
            return frozenset(cpuinfo_flags(f.read()))
    except OSError:
        return frozenset()


def int8_is_fast(flags: set[str] | frozenset[str] | None = None) -> bool:
    """Whether int8 convolutions beat float32 here: VNNI or AMX on x86. ``$DENOISER_INT8``
    (``fast`` or ``slow``) decides first; an x86 CPU whose flags cannot be read (not Linux)
    and any other CPU count as fast, so that they keep the int8 graphs they were given."""
    wanted = os.environ.get(INT8_ENV, "").strip().lower()
    if wanted in ("fast", "slow"):
        return wanted == "fast"
    flags = cpu_flags() if flags is None else flags
    if not flags or platform.machine().lower() not in ("x86_64", "amd64", "i686", "x86"):
        return True
    return any(f in flags for f in FAST_INT8_FLAGS)
