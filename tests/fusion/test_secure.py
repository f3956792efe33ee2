"""Secure aggregation of the fusion stage: the clear reference, the MPyC run with three local
parties (2 MNOs and the office) against it, and a party that drops out."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from rmf_spark.errors import FusionError, InputDataError
from rmf_spark.fusion.secure import (
    LOOPBACK,
    MNO,
    OFFICE,
    MnoInputs,
    OfficeInputs,
    PublicParameters,
    combine_in_clear,
    read_inputs,
    run_local_parties,
    write_inputs,
    write_public,
)
from rmf_spark.fusion.secure import _free_ports as free_ports

K = 10
PARTIES = [("mno_a", MNO), ("mno_b", MNO), ("office", OFFICE)]


def test_clear_reference_by_hand():
    # Region "a": z0, z1, z2; region "b": z3, z4; region "c": z5, z6 (more duplicates than
    # counts in z6, so that its region total falls under k).
    counts = [[4, 20, 3, 30, 50, 12, 0], [6, 10, 1, 0, 10, 0, 0]]
    duplicates = [[0, 2, 0, 0, 0, 0, 3], [0, 0, 0, 0, 0, 0, 4]]
    register = [12, 30, 5, 40, 80, 10, 0]
    regions = ["a", "a", "a", "b", "b", "c", "c"]
    res = combine_in_clear(counts, duplicates, register, regions, K)

    assert res.combined.tolist() == [10, 28, 4, 30, 60, 12, -7]
    # z0 at exactly k is released, z2 under k is not; z5 is over k but its region's total
    # (12 - 7 = 5) is not, so the guard suppresses it.
    assert res.released.tolist() == [True, True, False, True, True, False, False]
    # ratio estimator: a: 47 registered / 42 counted; b: 120 / 90
    assert res.calibrated[:3] == pytest.approx(np.array([10, 28, 4]) * 47 / 42)
    assert res.calibrated[3:5] == pytest.approx(np.array([30, 60]) * 120 / 90)
    # the released zones of a region add up to its register when none is suppressed
    assert res.calibrated[3:5].sum() == pytest.approx(120)


def test_clear_reference_one_mno_vector_and_mismatch():
    res = combine_in_clear([5.0, 20.0], [0.0, 1.0], [10, 30], ["r", "r"], K)
    assert res.released.tolist() == [False, True]
    with pytest.raises(InputDataError):
        combine_in_clear([[1.0, 2.0]], [[0.0, 0.0]], [1, 2, 3], ["r", "r"], K)


def test_parameters_and_inputs_are_checked(tmp_path):
    zones, regions = ["z1", "z2"], ["r", "r"]
    with pytest.raises(InputDataError, match="at least two"):
        PublicParameters(zones, regions, K, [("mno_a", MNO), ("office", OFFICE)])
    with pytest.raises(InputDataError, match="one region per zone"):
        PublicParameters(zones, ["r"], K, PARTIES)
    params = PublicParameters(zones, regions, K, PARTIES)
    with pytest.raises(InputDataError, match="non-negative"):
        write_inputs(tmp_path / "a.json", params, 0, MnoInputs(np.array([1.0, -1]), np.zeros(2)))
    with pytest.raises(InputDataError, match="integers"):
        write_inputs(tmp_path / "o.json", params, 2, OfficeInputs(np.array([1.5, 2])))
    # an inputs file may list the zones in any order; it is read in the public order
    (tmp_path / "b.json").write_text(
        json.dumps(
            {"party": "mno_b", "zones": ["z2", "z1"], "counts": [2.5, 1.0], "duplicates": [0, 0]}
        )
    )
    got = read_inputs(tmp_path / "b.json", params, 1)
    assert got.counts.tolist() == [1.0, 2.5]
    with pytest.raises(InputDataError, match="not 'mno_a'"):
        read_inputs(tmp_path / "b.json", params, 0)


def _random_case(seed: int, n_zones: int, n_regions: int):
    """Three parties' inputs: gamma-distributed counts (many zones under k), a few per cent of
    duplicates, a register 10-50 % above the counts; plus zones exactly at k and just under
    it (dyadic values, exact in floating and in fixed point) and a region whose total is
    under k although one of its zones is over k."""
    rng = np.random.default_rng(seed)
    zones = [f"z{i:04d}" for i in range(n_zones)]
    regions = [f"r{i % n_regions}" for i in range(n_zones)]
    counts = rng.gamma(0.8, 12.0, size=(2, n_zones))
    duplicates = counts * rng.uniform(0, 0.05, size=(2, n_zones))
    counts[:, 0], duplicates[:, 0] = [4.25, 5.75], [0, 0]  # exactly k: released
    counts[:, 1], duplicates[:, 1] = [4.25, 5.75 - 2**-20], [0, 0]  # just under k
    zones += ["g0", "g1"]  # region "guard": 15 - (0 + 12) = 3 < k
    regions += ["guard", "guard"]
    counts = np.hstack([counts, [[15, 0], [0, 0]]])
    duplicates = np.hstack([duplicates, [[0, 6], [0, 6]]])
    register = np.round(counts.sum(axis=0) * rng.uniform(1.1, 1.5, len(zones)))
    params = PublicParameters(zones, regions, K, PARTIES)
    inputs = {
        "mno_a": MnoInputs(counts[0], duplicates[0]),
        "mno_b": MnoInputs(counts[1], duplicates[1]),
        "office": OfficeInputs(register),
    }
    return params, inputs, combine_in_clear(counts, duplicates, register, regions, K)


def test_secure_equals_clear_and_reveals_only_released_cells(tmp_path):
    params, inputs, clear = _random_case(seed=7, n_zones=300, n_regions=6)
    zones = np.array(params.zones)
    assert 0 < clear.released.sum() < len(zones) - 50  # many zones under k

    res = run_local_parties(params, inputs, workdir=tmp_path, timeout=60)

    assert res.released == tuple(zones[clear.released])
    assert res.suppressed == tuple(zones[~clear.released])
    assert {"z0000", "z0001", "g0"} <= set(zones)
    assert "z0000" in res.released and "z0001" in res.suppressed and "g0" in res.suppressed
    # fixed-point precision: inputs rounded to 2^-32, the factor to about C_r * 2^-64
    np.testing.assert_allclose(res.combined, clear.combined[clear.released], rtol=0, atol=1e-8)
    np.testing.assert_allclose(res.calibrated, clear.calibrated[clear.released], rtol=1e-9)

    # What the office holds: released cells and the suppressed ids, no suppressed value.
    written = json.loads((tmp_path / "result.json").read_text())
    numbers = [v for row in written["released"] for v in (row["combined"], row["calibrated"])]
    for z in np.flatnonzero(~clear.released):
        for value in (clear.combined[z], clear.calibrated[z]):
            assert not np.any(np.isclose(numbers, value, rtol=0, atol=1e-9)), zones[z]
    assert set(written["suppressed"]) == set(zones[~clear.released])
    # The MNOs get nothing: no result file but the office's, and nothing printed.
    assert sorted(p.name for p in tmp_path.glob("result*.json")) == ["result.json"]
    assert (tmp_path / "mno_a.log").read_text() == (tmp_path / "mno_b.log").read_text() == ""

    # Every socket of every party, listening or connected, is on 127.0.0.1.
    for name, _ in PARTIES:
        report = json.loads((tmp_path / f"{name}.report.json").read_text())
        hosts = {h for s in report["sockets"] for h in (s["local"][0], s["remote"][0])}
        hosts |= {h for h, _ in report["listening"]}
        assert hosts == {LOOPBACK}, (name, report)
        assert len(report["sockets"]) == len(PARTIES) - 1


def _assert_nothing_released(workdir: Path) -> None:
    assert not (workdir / "result.json").exists()
    assert not list(workdir.glob(".result.json*"))


def test_party_killed_fails_cleanly(tmp_path):
    params, inputs, _ = _random_case(seed=1, n_zones=40, n_regions=2)
    with pytest.raises(FusionError) as err:
        run_local_parties(params, inputs, workdir=tmp_path, timeout=60, faults={"mno_b": "die"})
    assert err.value.code == "FUSION_PARTY_LOST"
    assert "party 1 (mno_b) was killed" in str(err.value)
    assert "nothing released" in str(err.value)
    _assert_nothing_released(tmp_path)


def test_party_that_hangs_times_out(tmp_path):
    params, inputs, _ = _random_case(seed=2, n_zones=40, n_regions=2)
    with pytest.raises(FusionError) as err:
        run_local_parties(params, inputs, workdir=tmp_path, timeout=4, faults={"mno_a": "stall"})
    assert err.value.code == "FUSION_TIMEOUT"
    assert "did not finish within 4 s" in str(err.value)
    _assert_nothing_released(tmp_path)


def test_parties_that_disagree_on_the_parameters_stop_before_any_input(tmp_path):
    # The command line, one process per party; the office was given another k.
    params, inputs, _ = _random_case(seed=3, n_zones=20, n_regions=2)
    other = PublicParameters(params.zones, params.zone_region, K + 1, PARTIES)
    ports = ",".join(map(str, free_ports(len(PARTIES))))
    procs = []
    for i, (name, _) in enumerate(PARTIES):
        public, own = tmp_path / f"public_{name}.json", tmp_path / f"{name}.json"
        write_public(public, other if name == "office" else params)
        write_inputs(own, params, i, inputs[name])
        cmd = [sys.executable, "-m", "rmf_spark.fusion.secure", "--party", str(i)]
        cmd += ["--ports", ports, "--public", str(public), "--inputs", str(own)]
        cmd += ["--out", str(tmp_path / "result.json"), "--timeout", "30"]
        procs.append(subprocess.Popen(cmd, stderr=subprocess.PIPE, text=True))
    for proc in procs:
        _, err = proc.communicate(timeout=60)
        assert proc.returncode == 3, err
        assert "[FUSION_PARAMETERS_MISMATCH]" in err, err
    _assert_nothing_released(tmp_path)
