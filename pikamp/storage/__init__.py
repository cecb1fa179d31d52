"""Storage: the RocksDB engine, the on-disk codec, and one module per data type."""
