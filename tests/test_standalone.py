"""Cluster and module commands on a standalone server without modules, as
Redis 7.0 answers them (both protocols)."""
from __future__ import annotations


def test_cluster_commands_say_cluster_support_is_disabled(diff):
    for args in (("CLUSTER", "INFO"), ("CLUSTER", "NODES"), ("CLUSTER", "SLOTS"), ("CLUSTER", "KEYSLOT", "k"),
                 ("CLUSTER", "HELP"), ("CLUSTER", "nosuch"), ("CLUSTER",), ("READONLY",), ("READWRITE",),
                 ("ASKING",), ("READONLY", "x")):
        diff(*args)


def test_module_commands(diff):
    for args in (("MODULE", "LIST"), ("MODULE", "LOAD", "/nonexistent.so"), ("MODULE", "UNLOAD", "x"),
                 ("MODULE", "LOADEX", "/nonexistent.so"), ("MODULE", "HELP"), ("MODULE", "nosuch"),
                 ("MODULE",), ("MODULE", "LIST", "x")):
        diff(*args)


def test_lolwut(diff):
    for args in (("LOLWUT",), ("LOLWUT", "VERSION", "7"), ("LOLWUT", "foo"), ("LOLWUT", "VERSION"),
                 ("LOLWUT", "VERSION", "x")):
        diff(*args)
