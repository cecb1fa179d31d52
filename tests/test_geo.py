"""GEO commands against redis-server 7.0, in both protocols (``diff``): GEOADD
and its options, GEOPOS / GEOHASH / GEODIST in every unit, the searches
(GEOSEARCH, GEOSEARCHSTORE, GEORADIUS[BYMEMBER][_RO]) with every option, in
randomized areas all over the globe (poles, the antimeridian, radii from
zero to the whole Earth), sorted and cut as Redis sorts and cuts (ties
included), STORE / STOREDIST, any sorted set read as a geo set, every error in
Redis' order, the keys COMMAND GETKEYS finds; and the geohash math of
pikamp.geo on its own. (Keyspace events: test_notify.)"""
from __future__ import annotations

import random

import pytest

from pikamp import geo
from resp_client import parse

SICILY = ["13.361389", "38.115556", "Palermo", "15.087269", "37.502669", "Catania", "12.758489", "38.788135",
          "edge1", "17.241510", "38.788135", "edge2"]
UNITS = ["m", "km", "mi", "ft", "KM", "Mi"]
LAT_MAX = "85.05112878"


def _sicily(diff, key: str = "Sicily") -> None:
    diff("GEOADD", key, *SICILY)


# -- GEOADD ----------------------------------------------------------------------------
def test_geoadd_makes_a_sorted_set_of_geohashes(diff):
    diff("GEOADD", "Sicily", *SICILY)
    diff("TYPE", "Sicily")
    diff("ZRANGE", "Sicily", "0", "-1", "WITHSCORES")
    diff("ZCARD", "Sicily")
    diff("OBJECT", "ENCODING", "Sicily")
    diff("GEOADD", "Sicily", *SICILY)  # nothing new
    diff("GEOADD", "Sicily", "13.5", "38.1", "Palermo", "1", "1", "new")  # one moved, one added: 1


def test_geoadd_options_nx_xx_ch(diff):
    _sicily(diff)
    diff("GEOADD", "Sicily", "NX", "1", "1", "Palermo", "2", "2", "x")
    diff("GEOADD", "Sicily", "XX", "3", "3", "Palermo", "4", "4", "y")
    diff("GEOADD", "Sicily", "CH", "5", "5", "Palermo", "6", "6", "z", "6", "6", "z")
    diff("GEOADD", "Sicily", "ch", "xx", "ch", "7", "7", "Catania", "8", "8", "w")
    diff("GEOADD", "Sicily", "NX", "CH", "7", "7", "Catania", "9", "9", "v")
    diff("GEOADD", "nokey", "XX", "1", "1", "a")
    diff("EXISTS", "nokey")
    diff("ZRANGE", "Sicily", "0", "-1", "WITHSCORES")


def test_geoadd_at_the_limits_of_the_coordinates(diff):
    diff("GEOADD", "g", "180", LAT_MAX, "ne", "-180", "-" + LAT_MAX, "sw", "180", "-" + LAT_MAX, "se",
         "-180", LAT_MAX, "nw", "0", "0", "o", "-0", "-0", "mo", "1e-300", "-1e-300", "tiny", "179.99999999", "0", "e")
    diff("ZRANGE", "g", "0", "-1", "WITHSCORES")
    diff("GEOPOS", "g", "ne", "sw", "se", "nw", "o", "mo", "tiny", "e")
    diff("GEOHASH", "g", "ne", "sw", "se", "nw", "o", "mo", "tiny", "e")


def test_geoadd_errors(diff):
    _sicily(diff)
    for args in (("1", "2"), ("1", "2", "a", "3"), ("NX", "XX", "1", "2", "a"), ("XX", "NX", "1", "2", "a"),
                 ("NX", "XX", "CH"), ("CH", "CH", "CH"), ("181", "0", "a"), ("0", "85.06", "a"),
                 ("-180.0001", "0", "a"), ("0", "-86", "a"), ("inf", "0", "a"), ("1e400", "0", "a"),
                 ("nan", "0", "a"), ("x", "0", "a"), ("1", " 2", "a"), ("1", "", "a"),
                 ("1", "2", "ok", "200", "100", "bad"),
                 ("INCR", "1", "2", "a"), ("GT", "1", "2", "a")):
        diff("GEOADD", "Sicily", *args)
    diff("ZCARD", "Sicily")  # nothing of a refused GEOADD was added
    diff("GEOADD", "Sicily")
    diff("GEOADD", "Sicily", "1", "2")
    diff("SET", "s", "x")
    diff("GEOADD", "s", "1", "2", "a")
    diff("GEOADD", "s", "1", "200", "a")  # the coordinates are checked first


# -- GEOPOS / GEOHASH / GEODIST ------------------------------------------------------------
def test_geopos_and_geohash(diff):
    _sicily(diff)
    diff("GEOPOS", "Sicily", "Palermo", "nosuch", "Catania", "edge1", "edge2")
    diff("GEOHASH", "Sicily", "Palermo", "nosuch", "Catania", "edge1", "edge2")
    diff("GEOPOS", "Sicily")
    diff("GEOHASH", "Sicily")
    diff("GEOPOS", "nokey", "a", "b")
    diff("GEOHASH", "nokey", "a")
    diff("SET", "s", "x")
    diff("GEOPOS", "s", "a")
    diff("GEOHASH", "s", "a")


def test_geodist_in_every_unit(diff):
    _sicily(diff)
    diff("GEODIST", "Sicily", "Palermo", "Catania")
    for unit in UNITS:
        diff("GEODIST", "Sicily", "Palermo", "Catania", unit)
        diff("GEODIST", "Sicily", "edge1", "edge2", unit)
    diff("GEODIST", "Sicily", "Palermo", "Palermo")
    diff("GEODIST", "Sicily", "Palermo", "nosuch")
    diff("GEODIST", "Sicily", "nosuch", "Palermo", "km")
    diff("GEODIST", "nokey", "a", "b")
    diff("GEODIST", "Sicily", "Palermo", "Catania", "parsec")
    diff("GEODIST", "nokey", "a", "b", "parsec")  # the unit is checked before the key
    diff("GEODIST", "Sicily", "Palermo", "Catania", "km", "extra")
    diff("GEODIST", "Sicily", "Palermo")
    diff("SET", "s", "x")
    diff("GEODIST", "s", "a", "b")
    diff("GEODIST", "s", "a", "b", "bad")


def test_geodist_around_the_globe(diff):
    diff("GEOADD", "g", "0", "10", "a", "180", "-10", "b", "0", "0", "c", "180", "0", "d", "-180", "0", "e",
         "90", "45", "f", "-90", "-45", "g", "-179.9", "85", "h", "179.9", "-85", "i")
    for x in "abcdefghi":
        for y in "abcdefghi":
            diff("GEODIST", "g", x, y, "km")


def test_any_sorted_set_reads_as_a_geo_set(diff):
    """Scores GEOADD never makes decode as Redis' (uint64_t) cast reads them on x86-64."""
    diff("ZADD", "z", "-1", "a", "1e19", "b", "1e20", "c", "-1e20", "d", "inf", "e", "-inf", "f", "1.5", "g",
         "4503599627370496", "h", "9007199254740992", "i", "0", "j", "-0.5", "k", "123456789.75", "l")
    members = list("abcdefghijkl")
    diff("GEOPOS", "z", *members)
    diff("GEOHASH", "z", *members)
    diff("GEODIST", "z", "a", "b")
    diff("GEODIST", "z", "g", "l", "mi")
    diff("GEORADIUS", "z", "0", "0", "30000", "km", "WITHDIST", "WITHHASH", "WITHCOORD")
    diff("GEOSEARCH", "z", "FROMMEMBER", "g", "BYRADIUS", "10", "km", "WITHDIST", "WITHHASH", "WITHCOORD")
    diff("GEOSEARCH", "z", "FROMMEMBER", "a", "BYBOX", "100", "100", "km", "WITHHASH")


# -- searches ----------------------------------------------------------------------------
def test_searches_with_every_reply_option(diff):
    _sicily(diff)
    with_opts = [[], ["WITHDIST"], ["WITHCOORD"], ["WITHHASH"], ["WITHCOORD", "WITHDIST", "WITHHASH"],
                 ["withhash", "withdist"]]
    for opts in with_opts:
        diff("GEORADIUS", "Sicily", "15", "37", "200", "km", *opts)
        diff("GEORADIUS_RO", "Sicily", "15", "37", "200", "km", *opts)
        diff("GEORADIUSBYMEMBER", "Sicily", "Palermo", "200", "km", *opts)
        diff("GEORADIUSBYMEMBER_RO", "Sicily", "Palermo", "200", "km", *opts)
        diff("GEOSEARCH", "Sicily", "FROMLONLAT", "15", "37", "BYRADIUS", "200", "km", *opts)
        diff("GEOSEARCH", "Sicily", "FROMMEMBER", "Palermo", "BYBOX", "400", "400", "km", *opts)


def test_search_order_and_count(diff):
    _sicily(diff)
    for order in ([], ["ASC"], ["DESC"], ["DESC", "ASC"], ["asc", "desc"]):
        for count in ([], ["COUNT", "1"], ["COUNT", "2"], ["COUNT", "4"], ["COUNT", "10"], ["COUNT", "2", "ANY"],
                      ["ANY", "COUNT", "1"], ["COUNT", "1", "COUNT", "3"]):
            diff("GEOSEARCH", "Sicily", "FROMLONLAT", "15", "37", "BYRADIUS", "300", "km", "WITHDIST", *order, *count)
            diff("GEORADIUS", "Sicily", "15", "37", "300", "km", *order, *count)


def test_search_units_and_shapes(diff):
    _sicily(diff)
    for unit in UNITS:
        factor = {"m": 1000, "km": 1, "mi": 0.621371, "ft": 3280.84}[unit.lower()]
        for size in (10, 60, 150, 250, 1000):
            r = "%g" % (size * factor)
            diff("GEOSEARCH", "Sicily", "FROMLONLAT", "15", "37", "BYRADIUS", r, unit, "WITHDIST", "ASC")
            diff("GEOSEARCH", "Sicily", "FROMLONLAT", "15", "37", "BYBOX", r, "%g" % (size * factor / 3), unit,
                 "WITHDIST", "ASC")
            diff("GEOSEARCH", "Sicily", "FROMMEMBER", "Catania", "BYBOX", "%g" % (size * factor / 2), r, unit, "DESC")
    diff("GEOSEARCH", "Sicily", "FROMMEMBER", "Palermo", "BYRADIUS", "0", "km", "WITHDIST")
    diff("GEOSEARCH", "Sicily", "FROMMEMBER", "Palermo", "BYBOX", "0", "0", "km", "WITHDIST")
    diff("GEOSEARCH", "Sicily", "FROMMEMBER", "Palermo", "BYRADIUS", "inf", "km", "WITHDIST")
    diff("GEOSEARCH", "Sicily", "FROMMEMBER", "Palermo", "BYBOX", "inf", "1", "km", "WITHDIST")
    diff("GEOSEARCH", "Sicily", "FROMMEMBER", "Palermo", "BYRADIUS", "1e300", "km", "WITHDIST")
    diff("GEOSEARCH", "Sicily", "FROMMEMBER", "Palermo", "BYRADIUS", "5e-324", "km", "WITHDIST")


def test_later_options_override_earlier_ones(diff):
    _sicily(diff)
    diff("GEOSEARCH", "Sicily", "FROMMEMBER", "nosuch", "FROMMEMBER", "Palermo", "BYRADIUS", "1", "km",
         "BYRADIUS", "200", "km", "WITHDIST")
    diff("GEOSEARCH", "Sicily", "FROMLONLAT", "0", "0", "FROMLONLAT", "15", "37", "BYBOX", "1", "1", "m",
         "BYBOX", "500", "500", "km")
    diff("GEOSEARCH", "Sicily", "fromlonlat", "15", "37", "byradius", "200", "KM", "count", "1", "any", "desc")


def _random_points(rng: random.Random, n: int, around: tuple[float, float] | None) -> list[str]:
    args = []
    for i in range(n):
        if around is None:
            lon, lat = rng.uniform(-180, 180), rng.uniform(-85.05112878, 85.05112878)
        else:
            lon = max(-180.0, min(180.0, around[0] + rng.gauss(0, 2)))
            lat = max(-85.05, min(85.05, around[1] + rng.gauss(0, 2)))
        args += ["%.6f" % lon, "%.6f" % lat, "m%d" % i]
        if rng.random() < 0.1:  # the same place twice: ties
            args += [args[-3], args[-2], "twin%d" % i]
    return args


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_random_searches_like_redis(diff, seed):
    """Sets spread over the globe or clustered (near the poles and the
    antimeridian too), then searches of every kind and size."""
    rng = random.Random(seed)
    centres = [(rng.uniform(-170, 170), rng.uniform(-80, 80)), (179.5, 10.0), (-179.8, -30.0), (20.0, 84.0),
               (-60.0, -84.9)]
    for around in [None] + centres[:2 + seed]:
        diff("DEL", "g")
        diff("GEOADD", "g", *_random_points(rng, rng.choice([20, 150, 300]), around))
        for _ in range(40):
            unit = rng.choice(UNITS)
            meters = rng.choice([0, 100, 10_000, 200_000, 1_000_000, 8_000_000, 21_000_000]) * rng.random()
            size = "%g" % (meters / geo.UNITS[unit.lower().encode()])
            opts = [o for o in ("WITHDIST", "WITHCOORD", "WITHHASH") if rng.random() < 0.4]
            opts += rng.choice([[], ["ASC"], ["DESC"]])
            if rng.random() < 0.5:
                opts += ["COUNT", str(rng.choice([1, 2, 3, 7, 40, 1000]))] + (["ANY"] if rng.random() < 0.3 else [])
            if around is not None and rng.random() < 0.7:
                lon = max(-180.0, min(180.0, around[0] + rng.gauss(0, 2)))
                centre = ["%.6f" % lon, "%.6f" % max(-85.0, min(85.0, around[1] + rng.gauss(0, 2)))]
            else:
                centre = ["%.6f" % rng.uniform(-180, 180), "%.6f" % rng.uniform(-85, 85)]
            member = "m%d" % rng.randrange(10)
            kind = rng.randrange(5)
            if kind == 0:
                diff("GEORADIUS", "g", *centre, size, unit, *opts)
            elif kind == 1:
                diff("GEORADIUSBYMEMBER_RO", "g", member, size, unit, *opts)
            elif kind == 2:
                diff("GEOSEARCH", "g", "FROMLONLAT", *centre, "BYRADIUS", size, unit, *opts)
            elif kind == 3:
                other = "%g" % (float(size) * rng.uniform(0.1, 3))
                diff("GEOSEARCH", "g", "FROMMEMBER", member, "BYBOX", size, other, unit, *opts)
            else:
                plain = [o for o in opts if not o.startswith("WITH")] + (["STOREDIST"] if rng.random() < 0.5 else [])
                diff("GEOSEARCHSTORE", "dst", "g", "FROMLONLAT", *centre, "BYBOX", size, size, unit, *plain)
                diff("ZRANGE", "dst", "0", "-1", "WITHSCORES")


def test_ties_are_cut_as_redis_cuts_them(diff):
    """Many members at a few places: COUNT keeps the ones Redis' partial sort keeps."""
    args = []
    for i in range(120):
        args += ["%.1f" % (10 + (i % 4) * 0.1), "45", "p%03d" % i]
    diff("GEOADD", "g", *args)
    for count in ("1", "5", "7", "8", "30", "41", "60", "119", "120", "121"):
        for order in ("ASC", "DESC"):
            diff("GEOSEARCH", "g", "FROMLONLAT", "10", "45", "BYRADIUS", "100", "km", order, "COUNT", count,
                 "WITHDIST")
    diff("GEOSEARCH", "g", "FROMLONLAT", "10", "45", "BYRADIUS", "100", "km", "COUNT", "10", "ANY")
    diff("GEOSEARCH", "g", "FROMLONLAT", "10", "45", "BYRADIUS", "100", "km", "ASC")


def test_missing_source(diff):
    diff("GEOSEARCH", "nokey", "FROMLONLAT", "1", "2", "BYRADIUS", "1", "km")
    diff("GEOSEARCH", "nokey", "FROMMEMBER", "m", "BYRADIUS", "1", "km")
    diff("GEORADIUS", "nokey", "1", "2", "1", "km", "WITHDIST")
    diff("GEORADIUSBYMEMBER", "nokey", "m", "x", "y")  # no set: the radius is not even read
    diff("GEORADIUSBYMEMBER_RO", "nokey", "m", "1", "km", "COUNT", "1")
    diff("GEORADIUSBYMEMBER", "nokey", "m", "1", "km", "COUNT", "0")  # the options still are


# -- STORE / STOREDIST / GEOSEARCHSTORE ------------------------------------------------------
def test_store_and_storedist(diff):
    _sicily(diff)
    diff("GEORADIUS", "Sicily", "15", "37", "200", "km", "STORE", "d1")
    diff("ZRANGE", "d1", "0", "-1", "WITHSCORES")
    diff("GEORADIUS", "Sicily", "15", "37", "200", "km", "STOREDIST", "d2", "DESC", "COUNT", "1")
    diff("ZRANGE", "d2", "0", "-1", "WITHSCORES")
    diff("GEORADIUSBYMEMBER", "Sicily", "Palermo", "300", "mi", "STOREDIST", "d3", "STORE", "d4")
    diff("EXISTS", "d3")
    diff("ZRANGE", "d4", "0", "-1", "WITHSCORES")
    diff("GEOSEARCHSTORE", "d5", "Sicily", "FROMMEMBER", "Catania", "BYBOX", "500", "500", "km")
    diff("ZRANGE", "d5", "0", "-1", "WITHSCORES")
    diff("GEOSEARCHSTORE", "d6", "Sicily", "FROMMEMBER", "Catania", "BYRADIUS", "500", "km", "STOREDIST",
         "COUNT", "2", "DESC")
    diff("ZRANGE", "d6", "0", "-1", "WITHSCORES")
    diff("GEOSEARCHSTORE", "Sicily", "Sicily", "FROMMEMBER", "Catania", "BYRADIUS", "100", "km")  # onto itself
    diff("ZRANGE", "Sicily", "0", "-1", "WITHSCORES")


def test_store_replaces_the_destination_and_its_ttl(diff):
    _sicily(diff)
    for dst_setup in (("SET", "d", "v", "EX", "100"), ("RPUSH", "d", "a"), ("ZADD", "d", "1", "x")):
        diff(*dst_setup)
        diff("GEOSEARCHSTORE", "d", "Sicily", "FROMLONLAT", "15", "37", "BYRADIUS", "200", "km")
        diff("TYPE", "d")
        diff("TTL", "d")
        diff("ZRANGE", "d", "0", "-1", "WITHSCORES")
    diff("GEORADIUS", "Sicily", "0", "0", "1", "km", "STORE", "d")  # nothing found: deleted
    diff("EXISTS", "d")
    diff("SET", "d", "v")
    diff("GEOSEARCHSTORE", "d", "nokey", "FROMLONLAT", "15", "37", "BYRADIUS", "200", "km")  # no source: deleted
    diff("EXISTS", "d")
    diff("GEOSEARCHSTORE", "d", "nokey", "FROMLONLAT", "15", "37", "BYRADIUS", "200", "km")
    diff("GEORADIUS", "nokey", "15", "37", "200", "km", "STORE", "d")


def test_read_only_variants_refuse_store(diff):
    _sicily(diff)
    diff("GEORADIUS_RO", "Sicily", "15", "37", "200", "km", "STORE", "d")
    diff("GEORADIUSBYMEMBER_RO", "Sicily", "Palermo", "200", "km", "STOREDIST", "d")
    diff("GEOSEARCH", "Sicily", "FROMMEMBER", "Palermo", "BYRADIUS", "200", "km", "STORE", "d")
    diff("GEOSEARCH", "Sicily", "FROMMEMBER", "Palermo", "BYRADIUS", "200", "km", "STOREDIST")
    diff("EXISTS", "d")


# -- errors ----------------------------------------------------------------------------
SEARCH_ERRORS = [
    ("GEOSEARCH", "Sicily", "BYRADIUS", "1", "km"),
    ("GEOSEARCH", "Sicily", "FROMMEMBER", "Palermo"),
    ("geosearch", "Sicily", "FROMMEMBER", "Palermo", "COUNT", "1"),
    ("GeoSearchStore", "d", "Sicily", "FROMLONLAT", "1", "2", "WITHDIST"),
    ("GEOSEARCH", "Sicily", "FROMMEMBER", "Palermo", "FROMLONLAT", "1", "2", "BYRADIUS", "1", "km"),
    ("GEOSEARCH", "Sicily", "FROMLONLAT", "1", "2", "FROMMEMBER", "Palermo", "BYRADIUS", "1", "km"),
    ("GEOSEARCH", "Sicily", "FROMLONLAT", "1", "2", "BYRADIUS", "1", "km", "BYBOX", "1", "1", "km"),
    ("GEOSEARCH", "Sicily", "FROMLONLAT", "1", "2", "BYBOX", "1", "1", "km", "BYRADIUS", "1", "km"),
    ("GEOSEARCH", "Sicily", "FROMMEMBER", "nosuch", "BYRADIUS", "1", "km"),
    ("GEOSEARCH", "Sicily", "FROMLONLAT", "200", "2", "BYRADIUS", "1", "km"),
    ("GEOSEARCH", "Sicily", "FROMLONLAT", "x", "2", "BYRADIUS", "1", "km"),
    ("GEOSEARCH", "Sicily", "FROMLONLAT", "1", "2", "BYRADIUS", "x", "km"),
    ("GEOSEARCH", "Sicily", "FROMLONLAT", "1", "2", "BYRADIUS", "-1", "km"),
    ("GEOSEARCH", "Sicily", "FROMLONLAT", "1", "2", "BYRADIUS", "1", "furlong"),
    ("GEOSEARCH", "Sicily", "FROMLONLAT", "1", "2", "BYBOX", "x", "1", "km"),
    ("GEOSEARCH", "Sicily", "FROMLONLAT", "1", "2", "BYBOX", "1", "x", "km"),
    ("GEOSEARCH", "Sicily", "FROMLONLAT", "1", "2", "BYBOX", "-1", "1", "km"),
    ("GEOSEARCH", "Sicily", "FROMLONLAT", "1", "2", "BYBOX", "1", "-1", "km"),
    ("GEOSEARCH", "Sicily", "FROMLONLAT", "1", "2", "BYBOX", "1", "1", "au"),
    ("GEOSEARCH", "Sicily", "FROMLONLAT", "1", "2", "BYBOX", "1", "1"),
    ("GEOSEARCH", "Sicily", "FROMLONLAT", "1", "2", "BYRADIUS", "1"),
    ("GEOSEARCH", "Sicily", "FROMLONLAT", "1", "BYRADIUS", "1", "km"),
    ("GEOSEARCH", "Sicily", "FROMMEMBER"),
    ("GEOSEARCH", "Sicily", "FROMLONLAT", "1", "2", "BYRADIUS", "1", "km", "COUNT"),
    ("GEOSEARCH", "Sicily", "FROMLONLAT", "1", "2", "BYRADIUS", "1", "km", "COUNT", "0"),
    ("GEOSEARCH", "Sicily", "FROMLONLAT", "1", "2", "BYRADIUS", "1", "km", "COUNT", "-3"),
    ("GEOSEARCH", "Sicily", "FROMLONLAT", "1", "2", "BYRADIUS", "1", "km", "COUNT", "x"),
    ("GEOSEARCH", "Sicily", "FROMLONLAT", "1", "2", "BYRADIUS", "1", "km", "COUNT", "99999999999999999999"),
    ("GEOSEARCH", "Sicily", "FROMLONLAT", "1", "2", "BYRADIUS", "1", "km", "ANY"),
    ("GEOSEARCH", "Sicily", "FROMLONLAT", "1", "2", "BYRADIUS", "1", "km", "FOO"),
    ("GEOSEARCH", "Sicily", "BYRADIUS", "1", "km", "ANY"),
    ("GEOSEARCHSTORE", "d", "Sicily", "FROMLONLAT", "1", "2", "BYRADIUS", "1", "km", "WITHHASH"),
    ("GEOSEARCHSTORE", "d", "Sicily", "FROMLONLAT", "1", "2", "BYRADIUS", "1", "km", "STORE", "x"),
    ("GEOSEARCHSTORE", "d", "Sicily", "BYRADIUS", "1", "km"),
    ("GEORADIUS", "Sicily", "1", "2", "1", "km", "STORE", "d", "WITHCOORD"),
    ("GEORADIUS", "Sicily", "1", "2", "1", "km", "STORE"),
    ("GEORADIUS", "Sicily", "1", "2", "1", "km", "FROMLONLAT", "1", "2"),
    ("GEORADIUS", "Sicily", "1", "2", "1", "km", "BYRADIUS", "1", "km"),
    ("GEORADIUS", "Sicily", "200", "2", "1", "km"),
    ("GEORADIUS", "Sicily", "1", "2", "-1", "km"),
    ("GEORADIUS", "Sicily", "1", "2", "1", "lightyear"),
    ("GEORADIUS", "Sicily", "1", "2", "1", "km", "ANY"),
    ("GEORADIUSBYMEMBER", "Sicily", "nosuch", "1", "km"),
    ("GEORADIUSBYMEMBER", "Sicily", "Palermo", "x", "km"),
    ("GEORADIUSBYMEMBER", "Sicily", "Palermo", "1", "km", "STOREDIST", "d", "WITHDIST"),
    ("GEORADIUSBYMEMBER_RO", "Sicily", "Palermo", "1", "km", "STORE", "d"),
    ("GEORADIUS", "Sicily", "1", "2", "1"),
    ("GEOSEARCH", "Sicily", "FROMLONLAT", "1", "2"),
    ("GEOSEARCHSTORE", "d", "Sicily", "FROMLONLAT", "1", "2"),
    ("GEORADIUSBYMEMBER", "Sicily", "Palermo", "1"),
]


def test_search_errors_in_redis_order(diff):
    _sicily(diff)
    for args in SEARCH_ERRORS:
        diff(*args)
    diff("SET", "s", "x")
    for args in (("GEOSEARCH", "s", "FROMLONLAT", "x"), ("GEORADIUS", "s", "200", "0", "1", "km"),
                 ("GEORADIUSBYMEMBER", "s", "m", "1", "km"), ("GEOSEARCHSTORE", "d", "s", "BYRADIUS", "1", "km")):
        diff(*args)  # WRONGTYPE first
    diff("EXISTS", "d")


# -- keys, stats, transactions -----------------------------------------------------------------
GETKEYS = [
    ("GEORADIUS", "k", "1", "2", "10", "km", "STORE", "a", "STOREDIST", "b"),
    ("GEORADIUS", "k", "1", "2", "10", "km", "store", "a", "store", "b"),
    ("GEORADIUS", "k", "1", "2", "10", "km", "STORE"),
    ("GEORADIUS", "k", "1", "2", "10", "km", "COUNT", "3", "STOREDIST"),
    ("GEORADIUS", "k", "1", "2", "10", "km"),
    ("GEORADIUS", "k", "1", "2", "10", "STORE", "x"),
    ("GEORADIUS", "k", "1", "2", "10", "km", "STOREDIST", "b", "STORE"),
    ("GEORADIUSBYMEMBER", "k", "store", "10", "km", "storedist", "x"),
    ("GEORADIUSBYMEMBER", "k", "m", "10", "STORE", "x"),
    ("GEORADIUS_RO", "k", "1", "2", "10", "km", "STORE", "a"),
    ("GEOSEARCHSTORE", "d", "s", "FROMMEMBER", "m", "BYRADIUS", "1", "km"),
    ("GEOSEARCH", "s", "FROMMEMBER", "m", "BYRADIUS", "1", "km"),
    ("GEOADD", "k", "1", "2", "m"), ("GEODIST", "k", "a", "b"), ("GEOPOS", "k", "a"), ("GEOHASH", "k"),
]


def test_command_getkeys(diff):
    for args in GETKEYS:
        diff("COMMAND", "GETKEYS", *args)


def test_acl_key_access_follows_redis_key_specs():
    """The source is read, a STORE / STOREDIST destination written (GEORADIUS'
    keys are found by keyword, so the generic key-spec check skips them)."""
    from pikamp import acl
    from pikamp.commands import load_all
    from pikamp.commands.table import COMMANDS

    load_all()
    line = [b"georadius", b"k", b"1", b"2", b"3", b"km", b"STORE", b"a", b"STOREDIST", b"b"]
    assert acl.key_positions(COMMANDS[b"georadius"], line) == [(1, acl.READ), (7, acl.WRITE), (9, acl.WRITE)]
    line = [b"georadiusbymember", b"k", b"m", b"3", b"km", b"WITHDIST"]
    assert acl.key_positions(COMMANDS[b"georadiusbymember"], line) == [(1, acl.READ)]
    line = [b"geosearchstore", b"d", b"k", b"FROMMEMBER", b"m", b"BYRADIUS", b"1", b"km"]
    assert acl.key_positions(COMMANDS[b"geosearchstore"], line) == [(1, acl.WRITE), (2, acl.READ)]
    assert acl.key_positions(COMMANDS[b"geoadd"], [b"geoadd", b"k", b"1", b"2", b"m"]) == [(1, acl.WRITE)]


def test_searches_count_keyspace_hits_like_redis(diff):
    def stats(conn) -> tuple[int, int]:
        text = parse(conn.call("INFO", "stats"))
        text = (text[1] if isinstance(text, tuple) else text).decode()
        info = dict(line.split(":", 1) for line in text.split("\r\n") if ":" in line)
        return int(info["keyspace_hits"]), int(info["keyspace_misses"])

    _sicily(diff)
    diff("SET", "d", "v")
    before = stats(diff.p), stats(diff.r)
    for cmd in (("GEORADIUS", "Sicily", "15", "37", "200", "km", "STORE", "d"),
                ("GEORADIUS", "nokey", "1", "2", "3", "m"),
                ("GEOSEARCHSTORE", "d", "Sicily", "FROMMEMBER", "Palermo", "BYRADIUS", "1", "km"),
                ("GEOSEARCH", "Sicily", "FROMMEMBER", "Palermo", "BYRADIUS", "1", "km"), ("GEOPOS", "Sicily", "a"),
                ("GEOADD", "Sicily", "1", "1", "x"), ("GEODIST", "nokey", "a", "b")):
        diff(*cmd)
    after = stats(diff.p), stats(diff.r)
    assert [a - b for a, b in zip(after[0], before[0])] == [a - b for a, b in zip(after[1], before[1])]


@pytest.mark.parametrize("workers_db", [0, 1])
def test_in_a_db_of_either_worker_and_in_multi(diff, workers_db):
    diff("SELECT", str(workers_db))
    _sicily(diff)
    diff("MULTI")
    diff("GEOADD", "Sicily", "14", "37", "new")
    diff("GEOSEARCH", "Sicily", "FROMMEMBER", "new", "BYRADIUS", "150", "km", "WITHDIST", "ASC")
    diff("GEOSEARCHSTORE", "d", "Sicily", "FROMMEMBER", "new", "BYRADIUS", "150", "km", "STOREDIST")
    diff("GEOSEARCH", "Sicily", "FROMMEMBER", "nosuch", "BYRADIUS", "150", "km")
    diff("GEODIST", "d", "new", "Catania")
    diff("EXEC")
    diff("ZRANGE", "d", "0", "-1", "WITHSCORES")
    diff("SELECT", "0")


def test_a_big_set(diff):
    """Past Redis' listpack size (128): the same answers from its skiplist."""
    rng = random.Random(11)
    diff("GEOADD", "g", *_random_points(rng, 1000, (2.35, 48.85)))
    diff("OBJECT", "ENCODING", "g")
    for r in ("1", "10", "50", "200", "1000"):
        diff("GEOSEARCH", "g", "FROMLONLAT", "2.35", "48.85", "BYRADIUS", r, "km", "ASC", "COUNT", "25", "WITHDIST")
        diff("GEOSEARCH", "g", "FROMLONLAT", "2.35", "48.85", "BYBOX", r, r, "km", "COUNT", "25", "ANY")
        diff("GEORADIUS", "g", "2.35", "48.85", r, "km", "DESC")


# -- pikamp.geo on its own ---------------------------------------------------------------------
def test_scores_round_trip_to_the_cell_centre():
    rng = random.Random(5)
    for _ in range(2000):
        lon, lat = rng.uniform(-180, 180), rng.uniform(geo.LAT_MIN, geo.LAT_MAX)
        back = geo.lonlat_of(geo.score_of(lon, lat))
        assert abs(back[0] - lon) < 360 / 2**26 and abs(back[1] - lat) < 171 / 2**26
        assert geo.score_of(*back) == geo.score_of(lon, lat)


def test_uint64_cast_of_scores_is_x86_64s():
    assert geo._uint64(-1.0) == 2**64 - 1
    assert geo._uint64(1.9) == 1
    assert geo._uint64(1e19) == 10**19
    assert geo._uint64(1e20) == 0
    assert geo._uint64(-1e20) == 2**63
    assert geo._uint64(float("inf")) == 0
    assert geo._uint64(float("-inf")) == 2**63


def test_estimate_steps():
    assert geo.estimate_steps(0, 0) == 26
    assert geo.estimate_steps(1, 0) == 24
    assert geo.estimate_steps(1000, 0) == 14
    assert geo.estimate_steps(1000, 70) == 13
    assert geo.estimate_steps(1000, -81) == 12
    assert geo.estimate_steps(1e7, 0) == 1
    assert geo.estimate_steps(float("inf"), 0) == 1
    assert geo.estimate_steps(5e-324, 0) == 26


def _point(dist: float, tag: int) -> geo.Point:
    return geo.Point(b"%d" % tag, 0.0, 0.0, 0.0, dist)


def test_partial_sort_keeps_the_nearest_first():
    rng = random.Random(8)
    for _ in range(300):
        dists = [float(rng.randrange(20)) for _ in range(rng.randrange(1, 120))]
        count = rng.randrange(1, len(dists) + 1)
        for descending in (False, True):
            pts = [_point(d, i) for i, d in enumerate(dists)]
            got = [p.dist for p in geo.sort_points(pts, count, descending)]
            assert got == sorted(dists, reverse=descending)[:count]


def test_full_sort_is_stable_like_glibc_qsort():
    rng = random.Random(9)
    dists = [float(rng.randrange(5)) for _ in range(200)]
    pts = [_point(d, i) for i, d in enumerate(dists)]
    want = sorted(pts, key=lambda p: p.dist)
    assert geo.sort_points(list(pts), 0, False) == want
    merged = list(pts)
    geo._msort(merged, 0, len(merged), geo._cmp_asc)
    assert merged == want


def test_coordinate_and_distance_formatting():
    assert geo.format_coordinate(13.361389338970184) == b"13.36138933897018433"
    assert geo.format_coordinate(180.0) == b"180"
    assert geo.format_coordinate(-1e-20) == b"0"
    assert geo.format_coordinate(0.5) == b"0.5"
    assert geo.format_distance(166274.15156960039) == b"166274.1516"
    assert geo.format_distance(-float("nan")) == b"-nan"
