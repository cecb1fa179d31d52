"""Pika's range scans (SCANX, PKSCANRANGE, PKRSCANRANGE) and PKPATTERNMATCHDEL."""
import pytest
import redis


@pytest.fixture
def keys(r):
    for k in ("a", "b1", "b2", "b3", "c", "d"):
        r.set(k, "v" + k)
    return r


def test_pkscanrange_inclusive_range_with_next_key(keys):
    assert keys.execute_command("PKSCANRANGE", "string", "b1", "c", "LIMIT", "2") == [b"b3", [b"b1", b"b2"]]
    assert keys.execute_command("PKSCANRANGE", "string", "b3", "c") == [b"", [b"b3", b"c"]]


def test_pkscanrange_empty_bounds_mean_unbounded(keys):
    assert keys.execute_command("PKSCANRANGE", "string", "", "") == [b"", [b"a", b"b1", b"b2", b"b3", b"c", b"d"]]


def test_pkscanrange_match_filters_before_limit(keys):
    assert keys.execute_command("PKSCANRANGE", "string", "", "", "MATCH", "b*", "LIMIT", "2") == [b"b3", [b"b1", b"b2"]]


def test_pkscanrange_string_with_value(keys):
    assert keys.execute_command("PKSCANRANGE", "string_with_value", "c", "") == [b"", [b"c", b"vc", b"d", b"vd"]]


def test_pkrscanrange_walks_down(keys):
    assert keys.execute_command("PKRSCANRANGE", "string", "c", "b1", "LIMIT", "2") == [b"b2", [b"c", b"b3"]]
    assert keys.execute_command("PKRSCANRANGE", "string", "", "") == [b"", [b"d", b"c", b"b3", b"b2", b"b1", b"a"]]


def test_range_errors(keys):
    with pytest.raises(redis.ResponseError, match="error in given range"):
        keys.execute_command("PKSCANRANGE", "string", "z", "a")
    with pytest.raises(redis.ResponseError, match="error in given range"):
        keys.execute_command("PKRSCANRANGE", "string", "a", "z")
    with pytest.raises(redis.ResponseError, match="invalid DB"):
        keys.execute_command("PKSCANRANGE", "nosuchtype", "", "")
    with pytest.raises(redis.ResponseError, match="syntax error"):
        keys.execute_command("PKSCANRANGE", "string", "", "", "LIMIT")
    with pytest.raises(redis.ResponseError, match="not an integer"):
        keys.execute_command("PKSCANRANGE", "string", "", "", "LIMIT", "0")


def test_scans_filter_by_type(keys):
    try:
        keys.execute_command("HSET", "b15", "f", "v")
    except redis.ResponseError:
        pytest.skip("hashes not available")
    assert keys.execute_command("PKSCANRANGE", "hash", "", "") == [b"", [b"b15"]]
    assert keys.execute_command("PKSCANRANGE", "string", "b1", "b2") == [b"", [b"b1", b"b2"]]
    assert keys.execute_command("SCANX", "hash", "") == [b"", [b"b15"]]


def test_scanx_counts_and_resumes(keys):
    first = keys.execute_command("SCANX", "string", "", "COUNT", "4")
    assert first == [b"c", [b"a", b"b1", b"b2", b"b3"]]
    assert keys.execute_command("SCANX", "string", first[0], "COUNT", "4") == [b"", [b"c", b"d"]]
    assert keys.execute_command("SCANX", "string", "", "MATCH", "*3") == [b"", [b"b3"]]


def test_scans_skip_expired_keys(keys):
    keys.pexpire("b2", 1)
    import time

    time.sleep(0.05)
    assert keys.execute_command("PKSCANRANGE", "string", "b1", "b3") == [b"", [b"b1", b"b3"]]


def test_pkpatternmatchdel_deletes_matching_keys(keys):
    assert keys.execute_command("PKPATTERNMATCHDEL", "b*") == 3
    assert keys.keys("*") and sorted(keys.keys("*")) == [b"a", b"c", b"d"]
    assert keys.dbsize() == 3


def test_pkpatternmatchdel_max_count(keys):
    assert keys.execute_command("PKPATTERNMATCHDEL", "*", "2") == 2
    assert keys.dbsize() == 4
    with pytest.raises(redis.ResponseError, match="not an integer"):
        keys.execute_command("PKPATTERNMATCHDEL", "*", "x")
