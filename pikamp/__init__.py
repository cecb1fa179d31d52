"""pikamp: a Redis-compatible, persistent key-value server on RocksDB."""

__version__ = "0.1.0"
# Reported as redis_version so clients that gate features on it treat us as Redis 7.0.
REDIS_VERSION = "7.0.15"
