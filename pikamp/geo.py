"""Redis 7.0's geohash math and radius/box search (src/geohash.c,
geohash_helper.c and the search of geo.c of Redis 7.0.15), as pure
functions: no storage here, the commands hand in how to read a score range.

A point is stored as a sorted-set member whose score is its 52-bit geohash:
longitude and latitude each cut into 2^26 steps (latitude only over
+-85.05112878, Web Mercator's range), the latitude bits in the even
positions, the longitude bits in the odd ones. A score decodes to the centre
of its cell. Every computation below is done in the same order and with the
same C library functions as Redis, so distances, coordinates and the set of
points a search finds are Redis' to the last bit:

- the distance is the haversine on a sphere of radius 6372797.560856 m
  (7.0 has no shortcut for equal longitudes: that came in 7.2);
- a search estimates a geohash step from the radius (or the box's half
  diagonal), takes the centre's cell and its 8 neighbours at that step (one
  step coarser when the area pokes out of them, neighbours wholly outside the
  area's bounding box dropped), reads each cell's score range and keeps the
  points inside the shape;
- results are sorted as Redis sorts them: glibc's qsort (a stable merge sort)
  when all are returned, Redis' pqsort (a partial quicksort, so ties come out
  in its order) when COUNT keeps fewer.

C's arithmetic is followed where Python's differs: a score converts to a
64-bit integer as x86-64's (uint64_t) cast does (so any zset can be read as
a geo set), uint32 arithmetic wraps, and math functions give NaN where
Python's raise.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Callable, Iterable

STEP_MAX = 26  # GEO_STEP_MAX: 26 bits per coordinate, 52 in a score
LON_MIN, LON_MAX = -180.0, 180.0
LAT_MIN, LAT_MAX = -85.05112878, 85.05112878
EARTH_RADIUS_IN_METERS = 6372797.560856
MERCATOR_MAX = 20037726.37

# Meters per unit (extractUnitOrReply).
UNITS = {b"m": 1.0, b"km": 1000.0, b"ft": 0.3048, b"mi": 1609.34}

_D_R = math.pi / 180.0
_U64 = (1 << 64) - 1
_U32 = (1 << 32) - 1
_TWO63 = 2.0**63
_WGS84 = ((LON_MIN, LON_MAX), (LAT_MIN, LAT_MAX))
_STANDARD = ((-180.0, 180.0), (-90.0, 90.0))  # what GEOHASH strings use
_BASE32 = b"0123456789bcdefghjkmnpqrstuvwxyz"

Cell = tuple[int, int]  # (bits, step)
NO_CELL: Cell = (0, 0)  # a neighbour left out of a search (Redis' GZERO)


# == C's arithmetic ===========================================================
def _sin(x: float) -> float:
    return math.sin(x) if math.isfinite(x) else math.nan


def _cos(x: float) -> float:
    return math.cos(x) if math.isfinite(x) else math.nan


def _asin(x: float) -> float:
    """glibc's asin: outside [-1, 1] (a haversine of antipodes can round past
    1) it computes 0/0, the x86 default NaN, which has the sign bit set."""
    return math.asin(x) if -1.0 <= x <= 1.0 else -math.nan if x == x else x


def _uint64(score: float) -> int:
    """``(uint64_t)score`` as GCC compiles it for x86-64: cvttsd2si below 2^63,
    else cvttsd2si(score - 2^63) with bit 63 flipped; an out-of-range
    cvttsd2si gives 0x8000000000000000."""
    if score < _TWO63:
        if math.isfinite(score) and -_TWO63 <= math.trunc(score) < _TWO63:
            return math.trunc(score) & _U64
        return 1 << 63
    rest = score - _TWO63
    converted = math.trunc(rest) if math.isfinite(rest) and rest < _TWO63 else 1 << 63
    return (converted ^ (1 << 63)) & _U64


# == cells ====================================================================
def _interleave(lat: int, lon: int) -> int:
    """The bits of ``lat`` in the even positions, ``lon``'s in the odd ones."""
    x, y = lat & _U32, lon & _U32
    for shift, mask in ((16, 0x0000FFFF0000FFFF), (8, 0x00FF00FF00FF00FF), (4, 0x0F0F0F0F0F0F0F0F),
                        (2, 0x3333333333333333), (1, 0x5555555555555555)):
        x = (x | (x << shift)) & mask
        y = (y | (y << shift)) & mask
    return x | (y << 1)


def _deinterleave(bits: int) -> tuple[int, int]:
    """-> (latitude part, longitude part), 32 bits each."""
    x, y = bits, bits >> 1
    for shift, mask in ((0, 0x5555555555555555), (1, 0x3333333333333333), (2, 0x0F0F0F0F0F0F0F0F),
                        (4, 0x00FF00FF00FF00FF), (8, 0x0000FFFF0000FFFF), (16, 0x00000000FFFFFFFF)):
        x = (x | (x >> shift)) & mask
        y = (y | (y >> shift)) & mask
    return x & _U32, y & _U32


def valid_lonlat(lon: float, lat: float) -> bool:
    return LON_MIN <= lon <= LON_MAX and LAT_MIN <= lat <= LAT_MAX


def _encode(lon: float, lat: float, step: int, ranges=_WGS84) -> int:
    """geohashEncode of a valid point: its cell's bits at ``step``."""
    (lon_min, lon_max), (lat_min, lat_max) = ranges
    lat_offset = (lat - lat_min) / (lat_max - lat_min) * float(1 << step)
    lon_offset = (lon - lon_min) / (lon_max - lon_min) * float(1 << step)
    return _interleave(int(lat_offset), int(lon_offset))


@dataclass(slots=True, frozen=True)
class Area:
    """A cell's bounds (GeoHashArea)."""

    lon_min: float
    lon_max: float
    lat_min: float
    lat_max: float


def _area(cell: Cell, ranges=_WGS84) -> Area:
    """geohashDecode: the bounds of a cell (uint32 sums wrap, as in C)."""
    bits, step = cell
    (lon_min, lon_max), (lat_min, lat_max) = ranges
    lat_part, lon_part = _deinterleave(bits)
    cells = float(1 << step)
    lat_scale, lon_scale = lat_max - lat_min, lon_max - lon_min
    return Area(lon_min + (lon_part * 1.0 / cells) * lon_scale,
                lon_min + (((lon_part + 1) & _U32) * 1.0 / cells) * lon_scale,
                lat_min + (lat_part * 1.0 / cells) * lat_scale,
                lat_min + (((lat_part + 1) & _U32) * 1.0 / cells) * lat_scale)


def score_of(lon: float, lat: float) -> int:
    """GEOADD's score for a valid point."""
    return _encode(lon, lat, STEP_MAX)


def lonlat_of(score: float) -> tuple[float, float]:
    """The point a score stands for: its cell's centre, kept in range."""
    a = _area((_uint64(score), STEP_MAX))
    lon = min(max((a.lon_min + a.lon_max) / 2, LON_MIN), LON_MAX)
    lat = min(max((a.lat_min + a.lat_max) / 2, LAT_MIN), LAT_MAX)
    return lon, lat


def geohash_string(score: float) -> bytes:
    """GEOHASH: the point re-encoded over the standard latitude range (+-90),
    as 11 base-32 characters (the 11th always '0': a score has 52 bits)."""
    lon, lat = lonlat_of(score)
    bits = _encode(lon, lat, STEP_MAX, _STANDARD)
    chars = [_BASE32[(bits >> (52 - (i + 1) * 5)) & 0x1F] for i in range(10)]
    return bytes(chars) + b"0"


def _move(cell: Cell, direction: int, odd: bool) -> Cell:
    """geohash_move_x (odd bits: longitude) / geohash_move_y (even bits:
    latitude): one cell east/north (+1) or west/south (-1), wrapping around."""
    bits, step = cell
    shift = 64 - step * 2
    moving_mask, other_mask = (0xAAAAAAAAAAAAAAAA, 0x5555555555555555) if odd else \
        (0x5555555555555555, 0xAAAAAAAAAAAAAAAA)
    moving, other = bits & moving_mask, bits & other_mask
    zz = other_mask >> shift
    if direction > 0:
        moving = moving + (zz + 1)
    else:
        moving = (moving | zz) - (zz + 1)
    moving &= moving_mask >> shift
    return (moving | other) & _U64, step


def _neighbours(cell: Cell) -> list[Cell]:
    """The 8 neighbours in Redis' search order: N, S, E, W, NE, NW, SE, SW."""
    def at(dx: int, dy: int) -> Cell:
        c = _move(cell, dx, True) if dx else cell
        return _move(c, dy, False) if dy else c
    return [at(0, 1), at(0, -1), at(1, 0), at(-1, 0), at(1, 1), at(-1, 1), at(1, -1), at(-1, -1)]


def cell_scores(cell: Cell) -> tuple[int, int]:
    """[min, max) of the scores of the points in a cell (scoresOfGeoHashBox)."""
    bits, step = cell
    shift = 52 - step * 2
    return (bits << shift) & _U64, ((bits + 1) << shift) & _U64


# == distances ================================================================
def _deg_rad(ang: float) -> float:
    return ang * _D_R


def _rad_deg(ang: float) -> float:
    return ang / _D_R


def distance(lon1: float, lat1: float, lon2: float, lat2: float) -> float:
    """geohashGetDistance: the haversine, in meters."""
    lat1r, lon1r, lat2r, lon2r = _deg_rad(lat1), _deg_rad(lon1), _deg_rad(lat2), _deg_rad(lon2)
    u = _sin((lat2r - lat1r) / 2)
    v = _sin((lon2r - lon1r) / 2)
    a = u * u + _cos(lat1r) * _cos(lat2r) * v * v
    return 2.0 * EARTH_RADIUS_IN_METERS * _asin(math.sqrt(a) if a >= 0 else math.nan)


def estimate_steps(range_meters: float, lat: float) -> int:
    """geohashEstimateStepsByRadius: the cell size (step) that covers a radius
    with the centre cell and its neighbours, coarser towards the poles."""
    if range_meters == 0:
        return STEP_MAX
    step = 1
    while range_meters < MERCATOR_MAX:  # at most ~1100 doublings, even from the smallest double
        range_meters *= 2
        step += 1
    step -= 2
    if lat > 66 or lat < -66:
        step -= 1
        if lat > 80 or lat < -80:
            step -= 1
    return min(max(step, 1), STEP_MAX)


# == shapes ===================================================================
@dataclass(slots=True)
class Point:
    """A point a search found (geoPoint). ``dist`` is in meters until the
    command divides it by its unit."""

    member: bytes
    score: float
    lon: float
    lat: float
    dist: float


@dataclass(slots=True)
class Shape:
    """A search area (GeoShape): a circle of ``radius`` or a ``width`` x
    ``height`` box around (lon, lat), sizes in units of ``conversion`` meters."""

    lon: float
    lat: float
    conversion: float
    radius: float = 0.0
    width: float = 0.0
    height: float = 0.0
    box: bool = False

    def bounding_box(self) -> tuple[float, float, float, float]:
        """geohashBoundingBox: (min lon, min lat, max lon, max lat). The
        longitude span is taken at the edge farther from the equator."""
        height = self.conversion * (self.height / 2 if self.box else self.radius)
        width = self.conversion * (self.width / 2 if self.box else self.radius)
        lat_delta = _rad_deg(height / EARTH_RADIUS_IN_METERS)
        lon_delta_top = _rad_deg(width / EARTH_RADIUS_IN_METERS / _cos(_deg_rad(self.lat + lat_delta)))
        lon_delta_bottom = _rad_deg(width / EARTH_RADIUS_IN_METERS / _cos(_deg_rad(self.lat - lat_delta)))
        lon_delta = lon_delta_bottom if self.lat < 0 else lon_delta_top
        return self.lon - lon_delta, self.lat - lat_delta, self.lon + lon_delta, self.lat + lat_delta

    def radius_meters(self) -> float:
        """The radius, or the box's half diagonal, in meters."""
        r = math.sqrt((self.width / 2) * (self.width / 2) + (self.height / 2) * (self.height / 2)) \
            if self.box else self.radius
        return r * self.conversion

    def point(self, member: bytes, score: float) -> Point | None:
        """The member as a found point if it lies inside (geoAppendIfWithinShape)."""
        lon, lat = lonlat_of(score)
        if self.box:
            lon_distance = distance(lon, lat, self.lon, lat)
            lat_distance = distance(lon, lat, lon, self.lat)
            if lon_distance > self.width * self.conversion / 2 or lat_distance > self.height * self.conversion / 2:
                return None
            d = distance(self.lon, self.lat, lon, lat)
        else:
            d = distance(self.lon, self.lat, lon, lat)
            if d > self.radius * self.conversion:
                return None
        return Point(member, score, lon, lat, d)


def search_cells(shape: Shape) -> list[Cell]:
    """geohashCalculateAreasByShapeWGS84: the centre's cell and its 8
    neighbours (N, S, E, W, NE, NW, SE, SW), those that cannot hold a point of
    the area replaced by NO_CELL."""
    min_lon, min_lat, max_lon, max_lat = shape.bounding_box()
    steps = estimate_steps(shape.radius_meters(), shape.lat)
    cell = (_encode(shape.lon, shape.lat, steps), steps)
    around = _neighbours(cell)
    north, south, east, west = (_area(c) for c in around[:4])
    # The estimate can be too fine near a cell's edge: then one step coarser.
    if steps > 1 and (north.lat_max < max_lat or south.lat_min > min_lat
                      or east.lon_max < max_lon or west.lon_min > min_lon):
        steps -= 1
        cell = (_encode(shape.lon, shape.lat, steps), steps)
        around = _neighbours(cell)
    if steps >= 2:
        area = _area(cell)
        n, s, e, w, ne, nw, se, sw = range(8)
        dropped: set[int] = set()
        if area.lat_min < min_lat:
            dropped |= {s, sw, se}
        if area.lat_max > max_lat:
            dropped |= {n, ne, nw}
        if area.lon_min < min_lon:
            dropped |= {w, sw, nw}
        if area.lon_max > max_lon:
            dropped |= {e, se, ne}
        around = [NO_CELL if i in dropped else c for i, c in enumerate(around)]
    return [cell] + around


# A sorted set's entries with min <= score < max, in (score, member) order.
RangeReader = Callable[[float, float], Iterable[tuple[bytes, float]]]


def search(shape: Shape, read_range: RangeReader, limit: int = 0) -> list[Point]:
    """The points of the area, cell after cell (membersOfAllNeighbors); with a
    ``limit`` (COUNT ... ANY) it stops once that many are found."""
    cells = search_cells(shape)
    found: list[Point] = []
    last = 0  # the last cell searched (0, the centre, is never compared: as Redis)
    for i, cell in enumerate(cells):
        if cell == NO_CELL or (last and cell == cells[last]):  # a huge radius makes neighbours repeat
            continue
        if found and limit and len(found) >= limit:
            break
        lo, hi = cell_scores(cell)
        for member, score in read_range(float(lo), float(hi)):
            p = shape.point(member, score)
            if p is not None:
                found.append(p)
            if found and limit and len(found) >= limit:
                break
        last = i
    return found


# == sorting ==================================================================
def _cmp_asc(a: Point, b: Point) -> int:
    """sort_gp_asc (a NaN distance compares as smaller both ways, as in C)."""
    return 1 if a.dist > b.dist else 0 if a.dist == b.dist else -1


def _cmp_desc(a: Point, b: Point) -> int:
    return -_cmp_asc(a, b)


def sort_points(points: list[Point], count: int, descending: bool) -> list[Point]:
    """The first ``count`` (0: all) of ``points`` by distance, as Redis orders
    them: qsort when all are kept, pqsort of the first ``count`` otherwise."""
    cmp = _cmp_desc if descending else _cmp_asc
    if count == 0 or count >= len(points):
        if any(p.dist != p.dist for p in points):
            _msort(points, 0, len(points), cmp)
        else:  # a consistent order: any stable sort gives glibc's result
            points.sort(key=lambda p: p.dist, reverse=descending)
        return points
    _pqsort(points, 0, len(points), cmp, 0, count - 1)
    return points[:count]


def _msort(a: list, lo: int, n: int, cmp) -> None:
    """glibc 2.36's qsort: msort_with_tmp, a top-down merge sort."""
    if n <= 1:
        return
    n1 = n // 2
    _msort(a, lo, n1, cmp)
    _msort(a, lo + n1, n - n1, cmp)
    left, right = a[lo:lo + n1], a[lo + n1:lo + n]
    i = j = 0
    out = []
    while i < len(left) and j < len(right):
        if cmp(left[i], right[j]) <= 0:
            out.append(left[i])
            i += 1
        else:
            out.append(right[j])
            j += 1
    out += left[i:]
    out += right[j:]
    a[lo:lo + n] = out


def _med3(a: list, i: int, j: int, k: int, cmp) -> int:
    if cmp(a[i], a[j]) < 0:
        return j if cmp(a[j], a[k]) < 0 else (k if cmp(a[i], a[k]) < 0 else i)
    return j if cmp(a[j], a[k]) > 0 else (i if cmp(a[i], a[k]) < 0 else k)


def _insertion_sort(a: list, lo: int, n: int, cmp) -> None:
    for m in range(lo + 1, lo + n):
        i = m
        while i > lo and cmp(a[i - 1], a[i]) > 0:
            a[i], a[i - 1] = a[i - 1], a[i]
            i -= 1


def _swap_block(a: list, i: int, j: int, n: int) -> None:
    for k in range(n):
        a[i + k], a[j + k] = a[j + k], a[i + k]


def _pqsort(a: list, lo: int, n: int, cmp, first: int, last: int) -> None:
    """Redis 7.0's pqsort (NetBSD's Bentley-McIlroy qsort that skips
    partitions wholly outside positions first..last, and never switches to
    an insertion sort after a partition without swaps), on a[lo:lo + n]."""
    while True:
        if n < 7:
            _insertion_sort(a, lo, n, cmp)
            return
        pm = lo + n // 2
        if n > 7:
            pl, pn = lo, lo + n - 1
            if n > 40:
                d = n // 8
                pl = _med3(a, pl, pl + d, pl + 2 * d, cmp)
                pm = _med3(a, pm - d, pm, pm + d, cmp)
                pn = _med3(a, pn - 2 * d, pn - d, pn, cmp)
            pm = _med3(a, pl, pm, pn, cmp)
        a[lo], a[pm] = a[pm], a[lo]
        pa = pb = lo + 1
        pc = pd = lo + n - 1
        while True:
            while pb <= pc:
                r = cmp(a[pb], a[lo])
                if r > 0:
                    break
                if r == 0:
                    a[pa], a[pb] = a[pb], a[pa]
                    pa += 1
                pb += 1
            while pb <= pc:
                r = cmp(a[pc], a[lo])
                if r < 0:
                    break
                if r == 0:
                    a[pc], a[pd] = a[pd], a[pc]
                    pd -= 1
                pc -= 1
            if pb > pc:
                break
            a[pb], a[pc] = a[pc], a[pb]
            pb += 1
            pc -= 1
        end = lo + n
        r = min(pa - lo, pb - pa)
        _swap_block(a, lo, pb - r, r)
        r = min(pd - pc, end - pd - 1)
        _swap_block(a, pb, end - r, r)
        r = pb - pa
        if r > 1 and _overlaps(lo, r, first, last):
            _pqsort(a, lo, r, cmp, first, last)
        r = pd - pc
        if r > 1 and _overlaps(end - r, r, first, last):
            lo, n = end - r, r  # the second partition: iterate, not recurse
            continue
        return


def _overlaps(start: int, n: int, first: int, last: int) -> bool:
    """Whether a partition of ``n`` elements from ``start`` meets first..last."""
    return not ((first < start and last < start) or (first >= start + n and last >= start + n))


# == replies ==================================================================
def format_distance(d: float) -> bytes:
    """addReplyDoubleDistance: "%.4f" (glibc spells a NaN with its sign)."""
    if d != d:
        return b"-nan" if math.copysign(1.0, d) < 0 else b"nan"
    return b"%.4f" % d


def format_coordinate(d: float) -> bytes:
    """addReplyHumanLongDouble: "%.17Lf" of the double, trailing zeros (and
    a trailing dot) cut, "-0" as "0"."""
    text = b"%.17f" % d
    if b"." in text:
        text = text.rstrip(b"0").rstrip(b".")
    return b"0" if text == b"-0" else text
