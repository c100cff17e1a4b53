"""A tree record read back (output_tree.TreeRecord, pickled as columns) answers as the mapping
it was made from: every lookup, view and membership test an incremental build uses.

Input: a record of a few files, pickled and read back. Output: assertions only.
"""

from __future__ import annotations

import pickle

from backpain_site.output_tree import FileRecord, TreeRecord, digest_and_size, file_digest


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


def test_a_file_s_digest_and_size_are_read_from_the_columns_without_making_records() -> None:
    files = {
        f"studies/s{n}/index.html": FileRecord(file_digest(str(n).encode()), n, 10 * n, 100 + n)
        for n in range(5)
    }
    back = pickle.loads(pickle.dumps(TreeRecord(1, 2, files, {".": 3}), protocol=5)).files
    for path, record in files.items():
        assert digest_and_size(back, path) == (record.digest, record.size)
        assert digest_and_size(files, path) == (record.digest, record.size)
    assert digest_and_size(back, "missing") is None and digest_and_size(files, "missing") is None
    assert back._files is None  # no record was made: a render worker asks for a few of 50,000
    back.items()  # made now (the writer walks them all): answered from the records then
    assert [digest_and_size(back, path) for path in files] == [
        (r.digest, r.size) for r in files.values()
    ]
