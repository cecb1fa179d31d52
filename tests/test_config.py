"""The configuration file format and the shipped defaults."""
import os

import pytest

from pikamp.config import DEFAULTS, Config, parse, render_default_file

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def test_conf_file_documents_every_default():
    with open(os.path.join(ROOT, "conf", "pika.conf")) as f:
        assert f.read().strip() == render_default_file().strip()


def test_readme_lists_every_config_key_with_its_default():
    with open(os.path.join(ROOT, "README.md")) as f:
        readme = f.read()
    for key, (value, _) in DEFAULTS.items():
        shown = f"`{value}`" if value else "(empty)"
        assert f"| `{key}` | {shown} |" in readme, key


def test_parse_pika_format_with_comments_and_spaces():
    assert parse("# comment\n\nport : 9999\ndb-path:/x/y \n") == {"port": "9999", "db-path": "/x/y"}


def test_parse_rejects_a_line_without_colon():
    with pytest.raises(ValueError):
        parse("port 9999")


def test_sizes_accept_units():
    c = Config({"write-buffer-size": "64mb", "block-cache": "1g"})
    assert c.int("write-buffer-size") == 64 << 20
    assert c.int("block-cache") == 1 << 30


def test_workers_zero_means_one_per_core():
    assert Config({"workers": "0"}).workers == (os.cpu_count() or 1)
