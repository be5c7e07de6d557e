"""Whether int8 is fast here: the CPU's flags, or the user's word for it."""

from __future__ import annotations

import pytest

from denoiser import cpu


def test_flags_come_from_the_first_flags_line():
    info = "processor\t: 0\nflags\t\t: fpu avx2 fma\nprocessor\t: 1\nflags\t\t: fpu\n"
    assert cpu.cpuinfo_flags(info) == {"fpu", "avx2", "fma"}
    assert cpu.cpuinfo_flags("model name\t: Some CPU\n") == set()


@pytest.mark.parametrize("flags, fast", [
    ({"avx2", "fma"}, False), ({"avx2", "avx512f"}, False), ({"avx2", "avx_vnni"}, True),
    ({"avx512f", "avx512_vnni"}, True), ({"amx_int8", "avx512f"}, True),
    (set(), True),  # flags unknown: keep the int8 graphs
])
def test_int8_is_fast_with_vnni_or_amx(monkeypatch, flags, fast):
    monkeypatch.delenv(cpu.INT8_ENV, raising=False)
    monkeypatch.setattr(cpu.platform, "machine", lambda: "x86_64")
    assert cpu.int8_is_fast(flags) is fast


def test_other_cpus_and_the_users_word(monkeypatch):
    monkeypatch.delenv(cpu.INT8_ENV, raising=False)
    monkeypatch.setattr(cpu.platform, "machine", lambda: "arm64")
    assert cpu.int8_is_fast({"neon"})
    monkeypatch.setattr(cpu.platform, "machine", lambda: "x86_64")
    monkeypatch.setenv(cpu.INT8_ENV, "fast")
    assert cpu.int8_is_fast({"avx2"})
    monkeypatch.setenv(cpu.INT8_ENV, "SLOW")
    assert not cpu.int8_is_fast({"avx512_vnni"})
