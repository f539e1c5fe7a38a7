"""SunSpec model-chain discovery against pymodbus (chains Tram's profile fits and chains it does not)."""
from __future__ import annotations

import pytest

from test_faults import _sunspec_words


@pytest.mark.parametrize("length,fits", [(66, True), (65, False)])
def test_discovers_the_chain(tramctl, plc_tcp, length, fits):
    plc = plc_tcp({1: {"holding": _sunspec_words(length)}})
    proc = tramctl("sunspec", "--link", plc.url, "--unit", 1, "--timeout", "500ms")
    assert proc.returncode == 0, proc.stderr
    lines = proc.stdout.splitlines()
    assert lines[0] == "SunSpec base 40000, 2 models"
    rows = [line.split()[:3] for line in lines[2:4]]
    assert rows == [["40002", "1", str(length)], [str(40004 + length), "103", "50"]]
    assert ("does NOT fit" not in proc.stdout) == fits


def test_device_without_marker(tramctl, plc_tcp):
    plc = plc_tcp({1: {"holding": {0: [1, 2, 3], 40000: [0, 0]}}})
    proc = tramctl("sunspec", "--link", plc.url, "--unit", 1, "--timeout", "500ms")
    assert proc.returncode == 1
    assert "no SunSpec marker" in proc.stdout
