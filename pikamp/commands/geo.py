"""Geo commands (Redis 7.0's geo.c): argument parsing and reply shaping.

A geo set is a sorted set whose scores are 52-bit geohashes (pikamp.geo), so
TYPE says zset and every sorted set command works on it; the storage is
pikamp.storage.zsets. GEOADD is ZADD with scores made from coordinates. The
searches (GEOSEARCH, GEOSEARCHSTORE and the deprecated GEORADIUS family)
share georadiusGeneric's one parser, so their options, errors and the order
the errors come in are Redis'.
"""
from __future__ import annotations

from pikamp import geo
from pikamp.commands.table import command
from pikamp.commands.zsets import parse_score
from pikamp.errors import NOT_FLOAT, SYNTAX, RespError
from pikamp.numbers import c_word, parse_int
from pikamp.resp import NULL_ARRAY, DoubleText
from pikamp.storage import zsets
from pikamp.storage.zsets import ScoreRange

BAD_UNIT = "ERR unsupported unit provided. please use M, KM, FT, MI"
NO_MEMBER = "ERR could not decode requested zset member"

_SEARCH_COMPLEXITY = ("O(N+log(M)) where N is the number of elements inside the bounding box of the circular "
                      "area delimited by center and radius and M is the number of items inside the index.")
_SHAPE_COMPLEXITY = ("O(N+log(M)) where N is the number of elements in the grid-aligned bounding box area around "
                     "the shape provided as the filter and M is the number of items inside the shape")


def _geo(name: str, arity: int, flags: str, summary: str, since: str = "3.2.0", complexity: str = "O(log(N))",
         keys: tuple[int, int, int] = (1, 1, 1), key_finder=None):
    return command(name, arity, flags, keys, group="geo", summary=summary, since=since, complexity=complexity,
                   key_finder=key_finder)


# == arguments ==================================================================
def _lonlat(args: list[bytes], i: int) -> tuple[float, float]:
    """extractLongLatOrReply: args[i], args[i + 1] as a valid point."""
    lon, lat = parse_score(args[i], NOT_FLOAT), parse_score(args[i + 1], NOT_FLOAT)
    if not geo.valid_lonlat(lon, lat):
        raise RespError(f"ERR invalid longitude,latitude pair {lon:f},{lat:f}")
    return lon, lat


def _unit(arg: bytes) -> float:
    """Meters per unit (m, km, ft, mi, any case)."""
    meters = geo.UNITS.get(c_word(arg))
    if meters is None:
        raise RespError(BAD_UNIT)
    return meters


def _radius(args: list[bytes], i: int) -> tuple[float, float]:
    """extractDistanceOrReply: radius unit -> (radius, meters per unit)."""
    radius = parse_score(args[i], "ERR need numeric radius")
    if radius < 0:
        raise RespError("ERR radius cannot be negative")
    return radius, _unit(args[i + 1])


def _box(args: list[bytes], i: int) -> tuple[float, float, float]:
    """extractBoxOrReply: width height unit -> (width, height, meters per unit)."""
    width = parse_score(args[i], "ERR need numeric width")
    height = parse_score(args[i + 1], "ERR need numeric height")
    if height < 0 or width < 0:
        raise RespError("ERR height or width cannot be negative")
    return width, height, _unit(args[i + 2])


def _member_lonlat(db, meta, member: bytes) -> tuple[float, float]:
    s = zsets.score(db, meta, member)
    if s is None:
        raise RespError(NO_MEMBER)
    return geo.lonlat_of(s)


def _coordinates(lon: float, lat: float) -> list[DoubleText]:
    return [DoubleText(geo.format_coordinate(lon)), DoubleText(geo.format_coordinate(lat))]


# == GEOADD / GEOPOS / GEOHASH / GEODIST ========================================
@_geo("geoadd", -5, "write denyoom",
      "Add one or more geospatial items in the geospatial index represented using a sorted set",
      complexity="O(log(N)) for each item added, where N is the number of elements in the sorted set.")
def geoadd(ctx, args):
    """GEOADD key [NX|XX] [CH] longitude latitude member [...]: ZADD of the points' geohashes."""
    nx = xx = ch = False
    i = 2
    while i < len(args):
        opt = c_word(args[i])
        if opt == b"nx":
            nx = True
        elif opt == b"xx":
            xx = True
        elif opt == b"ch":
            ch = True
        else:
            break
        i += 1
    if (len(args) - i) % 3 or (xx and nx):
        raise RespError(SYNTAX)
    pairs = []
    for j in range(i, len(args), 3):
        lon, lat = _lonlat(args, j)
        pairs.append((float(geo.score_of(lon, lat)), args[j + 2]))
    if not pairs:  # ZADD's own check: no elements
        raise RespError(SYNTAX)
    res = zsets.add(ctx.db, args[1], pairs, nx=nx, xx=xx)
    return res.added + res.updated if ch else res.added


@_geo("geopos", -2, "readonly", "Returns longitude and latitude of members of a geospatial index",
      complexity="O(N) where N is the number of members requested.")
def geopos(ctx, args):
    out: list = []
    for s in zsets.scores(ctx.db, args[1], args[2:]):
        out.append(NULL_ARRAY if s is None else _coordinates(*geo.lonlat_of(s)))
    return out


@_geo("geohash", -2, "readonly", "Returns members of a geospatial index as standard geohash strings",
      complexity="O(log(N)) for each member requested, where N is the number of elements in the sorted set.")
def geohash(ctx, args):
    return [None if s is None else geo.geohash_string(s) for s in zsets.scores(ctx.db, args[1], args[2:])]


@_geo("geodist", -4, "readonly", "Returns the distance between two members of a geospatial index")
def geodist(ctx, args):
    """GEODIST key member1 member2 [unit]: the unit is checked before the key."""
    if len(args) > 5:
        raise RespError(SYNTAX)
    to_meters = _unit(args[4]) if len(args) == 5 else 1.0
    first, second = zsets.scores(ctx.db, args[1], args[2:4])
    if first is None or second is None:
        return None
    d = geo.distance(*geo.lonlat_of(first), *geo.lonlat_of(second))
    return geo.format_distance(d / to_meters)


# == the searches ===============================================================
# georadiusGeneric's flags: how the centre is given, whether STORE is allowed.
_COORDS, _MEMBER, _NOSTORE, _SEARCH, _SEARCHSTORE = 1, 2, 4, 8, 16


def _search(ctx, args: list[bytes], src: int, flags: int):
    """georadiusGeneric: the source set, the centre and shape, the options,
    then the search, sorted and cut to COUNT; the reply or the stored set."""
    db = ctx.db
    reading, db.reading = db.reading, True  # the source is read as by a read command (keyspace hits)
    try:
        meta = zsets.load(db, args[src])
    finally:
        db.reading = reading
    shape = geo.Shape(0.0, 0.0, 1.0)
    store: bytes | None = None
    store_dist = False
    if flags & _COORDS:
        base = 6
        shape.lon, shape.lat = _lonlat(args, 2)
        shape.radius, shape.conversion = _radius(args, 4)
    elif flags & _MEMBER:
        base = 5
        if meta is not None:  # (without a set, Redis parses the options, then answers empty)
            shape.lon, shape.lat = _member_lonlat(db, meta, args[2])
            shape.radius, shape.conversion = _radius(args, 3)
    else:
        base = 2
        if flags & _SEARCHSTORE:
            base = 3
            store = args[1]
    withdist = withhash = withcoord = any_ = False
    frommember = fromlonlat = byradius = bybox = False
    descending: bool | None = None
    count = 0
    n = len(args)
    i = base
    while i < n:
        opt, left = c_word(args[i]), n - i - 1
        if opt == b"withdist":
            withdist = True
        elif opt == b"withhash":
            withhash = True
        elif opt == b"withcoord":
            withcoord = True
        elif opt == b"any":
            any_ = True
        elif opt == b"asc":
            descending = False
        elif opt == b"desc":
            descending = True
        elif opt == b"count" and left >= 1:
            count = parse_int(args[i + 1])
            if count <= 0:
                raise RespError("ERR COUNT must be > 0")
            i += 1
        elif opt in (b"store", b"storedist") and left >= 1 and not flags & (_NOSTORE | _SEARCH):
            store, store_dist = args[i + 1], opt == b"storedist"
            i += 1
        elif opt == b"storedist" and flags & _SEARCHSTORE:
            store_dist = True
        elif opt == b"frommember" and left >= 1 and flags & _SEARCH and not fromlonlat:
            if meta is not None:
                shape.lon, shape.lat = _member_lonlat(db, meta, args[i + 1])
            frommember = True
            i += 1
        elif opt == b"fromlonlat" and left >= 2 and flags & _SEARCH and not frommember:
            shape.lon, shape.lat = _lonlat(args, i + 1)
            fromlonlat = True
            i += 2
        elif opt == b"byradius" and left >= 2 and flags & _SEARCH and not bybox:
            shape.radius, shape.conversion = _radius(args, i + 1)
            shape.box, byradius = False, True
            i += 2
        elif opt == b"bybox" and left >= 3 and flags & _SEARCH and not byradius:
            shape.width, shape.height, shape.conversion = _box(args, i + 1)
            shape.box = bybox = True
            i += 3
        else:
            raise RespError(SYNTAX)
        i += 1
    if store is not None and (withdist or withhash or withcoord):
        what = "GEOSEARCHSTORE" if flags & _SEARCHSTORE else "STORE option in GEORADIUS"
        raise RespError(f"ERR {what} is not compatible with WITHDIST, WITHHASH and WITHCOORD options")
    name = args[0].decode("latin-1")
    if flags & _SEARCH and not (frommember or fromlonlat):
        raise RespError(f"ERR exactly one of FROMMEMBER or FROMLONLAT can be specified for {name}")
    if flags & _SEARCH and not (byradius or bybox):
        raise RespError(f"ERR exactly one of BYRADIUS and BYBOX can be specified for {name}")
    if any_ and not count:
        raise RespError("ERR the ANY argument requires COUNT argument")

    if meta is None:
        return [] if store is None else zsets.store(db, store, [])  # the destination is deleted
    if count and descending is None and not any_:
        descending = False  # COUNT takes the nearest ones

    def read_range(lo: float, hi: float):
        start, end = zsets.score_bounds(meta, ScoreRange(lo, hi, False, True))
        return zsets.entries(db, meta, start, end) if start < end else ()

    points = geo.search(shape, read_range, count if any_ else 0)
    if descending is None:
        points = points[:count] if count else points
    else:
        points = geo.sort_points(points, count, descending)
    for p in points:
        p.dist /= shape.conversion
    if store is not None:
        return zsets.store(db, store, [(p.member, p.dist if store_dist else p.score) for p in points])
    if not (withdist or withhash or withcoord):
        return [p.member for p in points]
    out = []
    for p in points:
        item: list = [p.member]
        if withdist:
            item.append(geo.format_distance(p.dist))
        if withhash:
            item.append(int(p.score))
        if withcoord:
            item.append(_coordinates(p.lon, p.lat))
        out.append(item)
    return out


def _store_keys(startfrom: int):
    """The keys of GEORADIUS[BYMEMBER] as Redis' key specs find them: the source,
    then the argument after the first STORE, then after the first STOREDIST,
    each keyword looked for from ``startfrom`` up to the last-but-one argument."""
    def find(args: list[bytes]) -> list[int]:
        positions = [1]
        for keyword in (b"store", b"storedist"):
            for i in range(startfrom, len(args) - 1):
                if c_word(args[i]) == keyword:
                    positions.append(i + 1)
                    break
        return positions
    return find


@_geo("georadius", -6, "write denyoom movablekeys",
      "Query a sorted set representing a geospatial index to fetch members matching a given maximum distance "
      "from a point", complexity=_SEARCH_COMPLEXITY, key_finder=_store_keys(6))
def georadius(ctx, args):
    return _search(ctx, args, 1, _COORDS)


@_geo("georadiusbymember", -5, "write denyoom movablekeys",
      "Query a sorted set representing a geospatial index to fetch members matching a given maximum distance "
      "from a member", complexity=_SEARCH_COMPLEXITY, key_finder=_store_keys(5))
def georadiusbymember(ctx, args):
    return _search(ctx, args, 1, _MEMBER)


@_geo("georadius_ro", -6, "readonly", "A read-only variant for GEORADIUS", since="3.2.10",
      complexity=_SEARCH_COMPLEXITY)
def georadius_ro(ctx, args):
    return _search(ctx, args, 1, _COORDS | _NOSTORE)


@_geo("georadiusbymember_ro", -5, "readonly", "A read-only variant for GEORADIUSBYMEMBER", since="3.2.10",
      complexity=_SEARCH_COMPLEXITY)
def georadiusbymember_ro(ctx, args):
    return _search(ctx, args, 1, _MEMBER | _NOSTORE)


@_geo("geosearch", -7, "readonly",
      "Query a sorted set representing a geospatial index to fetch members inside an area of a box or a circle.",
      since="6.2.0", complexity=_SHAPE_COMPLEXITY)
def geosearch(ctx, args):
    return _search(ctx, args, 1, _SEARCH)


@_geo("geosearchstore", -8, "write denyoom",
      "Query a sorted set representing a geospatial index to fetch members inside an area of a box or a circle, "
      "and store the result in another key.", since="6.2.0", complexity=_SHAPE_COMPLEXITY, keys=(1, 2, 1))
def geosearchstore(ctx, args):
    return _search(ctx, args, 2, _SEARCH | _SEARCHSTORE)
