"""A tree record read back (output_tree.TreeRecord, pickled as columns) answers as the mapping
it was made from: every lookup, view and membership test an incremental build uses.

Input: a record of a few files, pickled and read back. Output: assertions only.
"""

from __future__ import annotations

import pickle
from collections.abc import Sequence

import pytest

from backpain_site.output_tree import (
    FileRecord,
    TreeRecord,
    digests_at,
    file_digest,
    ready_for_lookups,
    sharing_names,
)


def test_a_record_read_back_is_the_same_mapping() -> None:
    files = {
        f"studies/s{n}/index.html": FileRecord(file_digest(str(n).encode()), n, 10 * n, 100 + n)
        for n in range(5)
    }
    record = TreeRecord(1, 2, files, {".": 3, "studies": 4})

    back = pickle.loads(pickle.dumps(record, protocol=5))

    assert type(back.files) is not dict  # read back as columns, decoded when asked
    assert dict(back.files.items()) == files
    assert list(back.files.items()) == list(files.items())
    assert list(back.files.values()) == list(files.values())
    assert list(back.files) == list(files)
    assert back.files.get("studies/s3/index.html") == files["studies/s3/index.html"]
    assert back.files.get("missing") is None
    assert back.files.get("missing", "default") == "default"
    assert "studies/s1/index.html" in back.files
    assert "missing" not in back.files and 3 not in back.files
    assert back.files == files and len(back.files) == 5
    assert back.folders == {".": 3, "studies": 4}


def test_digests_are_picked_from_the_columns_without_making_records() -> None:
    files = {
        f"studies/s{n}/index.html": FileRecord(file_digest(str(n).encode()), n, 10 * n, 100 + n)
        for n in range(5)
    }
    back = pickle.loads(pickle.dumps(TreeRecord(1, 2, files, {".": 3}), protocol=5)).files

    def odd(paths: Sequence[str]) -> list[int]:
        return [at for at in range(len(paths)) if at % 2]

    wanted = {path: files[path].digest for path in list(files)[1::2]}
    assert digests_at(back, odd) == wanted
    assert back._files is None  # answered from the columns
    assert digests_at(files, odd) == wanted  # a plain mapping: the same answer


def test_a_path_is_looked_up_without_making_the_records() -> None:
    """A render worker asks whether each of its pages is intact (`in` the intact files' keys)
    and for a few records: answered from the columns, through an index the build makes
    before it forks them (`ready_for_lookups`), so no worker makes 60,000 records."""
    files = {
        f"studies/s{n}/index.html": FileRecord(file_digest(str(n).encode()), n, 10 * n, 100 + n)
        for n in range(5)
    }
    back = pickle.loads(pickle.dumps(TreeRecord(1, 2, files, {".": 3}), protocol=5)).files
    ready_for_lookups(back)
    assert back._places is not None  # made before any worker would fork
    keys = back.keys()  # as the page memo is given them
    for path, record in files.items():
        assert path in back and path in keys
        assert back[path] == record and back.get(path) == record
    assert "missing" not in back and "missing" not in keys and 3 not in back
    assert back.get("missing") is None and back.get("missing", "default") == "default"
    with pytest.raises(KeyError):
        back["missing"]
    assert back._files is None  # no record was made for all that
    back.items()  # made now (the writer walks them all): answered from the records then
    assert [back.get(path) for path in files] == list(files.values())
    assert all(path in keys for path in files) and "missing" not in back
    ready_for_lookups(files)  # a plain mapping (a record made by this build): nothing to make


def test_records_written_together_name_each_path_once() -> None:
    """The live and spare folders' records (and the page list) name the same files: written
    with one string per name (`sharing_names`), each is read back once, not once a record."""
    files = {f"studies/s{n}/index.html": FileRecord(file_digest(b"x"), n, n, n) for n in range(3)}
    live = TreeRecord(1, 2, files, {".": 3, "studies": 4})
    # The spare folder's record as a build reads it back (its own strings, in columns), with
    # a folder named by a string made apart from the live record's.
    files_back = pickle.loads(pickle.dumps(TreeRecord(5, 6, dict(files), {}), protocol=5)).files
    spare = TreeRecord(5, 6, files_back, {".": 7, "".join(["stud", "ies"]): 8})
    names: dict[str, str] = {}
    shared = (sharing_names(live, names), sharing_names(spare, names))
    assert [dict(r.files.items()) for r in shared] == [files, files]
    assert [dict(r.folders) for r in shared] == [{".": 3, "studies": 4}, {".": 7, "studies": 8}]
    back_live, back_spare = pickle.loads(pickle.dumps(shared, protocol=5))
    for one, other in zip(back_live.files, back_spare.files, strict=True):
        assert one is other
    assert list(back_live.folders)[1] is list(back_spare.folders)[1]
    # Without it, each record reads back its own strings.
    apart_live, apart_spare = pickle.loads(pickle.dumps((live, spare), protocol=5))
    assert not any(a is b for a, b in zip(apart_live.files, apart_spare.files, strict=True))
