"""The server answers real clients over real sockets."""


def test_set_get_with_redis_py_resp3(r):
    assert r.set("k", "v") is True
    assert r.get("k") == b"v"


def test_set_get_with_redis_py_resp2(r2):
    r2.set("k", "v")
    assert r2.get("k") == b"v"


def test_keys_in_every_db_reach_their_owner(r, pikamp_server):
    import redis

    for db in range(4):
        c = redis.Redis(host="127.0.0.1", port=pikamp_server.port, db=db)
        c.set("key", f"db{db}")
    for db in range(4):
        c = redis.Redis(host="127.0.0.1", port=pikamp_server.port, db=db)
        assert c.get("key") == f"db{db}".encode()
        assert c.dbsize() == 1


def test_set_and_get_match_redis(diff):
    diff("SET", "k", "v")
    diff("GET", "k")
    diff("GET", "missing")
    diff("SET", "k", "v2", "GET")
    diff("SET", "k", "v3", "NX")
    diff("SET", "k", "v3", "XX", "GET")
    diff("SET", "k", "v", "EX", "0")
    diff("SET", "k", "v", "EX", "abc")
    diff("SET", "k", "v", "NX", "XX")
    diff("NOSUCHCMD", "a", "b")
    diff("GET")
