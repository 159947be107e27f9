import os

import pytest

from selector.atomic import atomic_dir, atomic_path, write_atomic


def test_a_clean_write_replaces_the_target_and_leaves_no_temporary(tmp_path):
    target = tmp_path / "out.json"
    target.write_text("old")
    write_atomic(target, "new ü")
    assert target.read_text(encoding="utf-8") == "new ü"
    write_atomic(target, b"\x00bytes", durable=True)
    assert target.read_bytes() == b"\x00bytes"
    assert [p.name for p in tmp_path.iterdir()] == ["out.json"]


def test_the_temporary_sits_beside_the_target_so_the_rename_stays_on_one_filesystem(tmp_path):
    target = tmp_path / "deep" / "er" / "video.mp4"
    with atomic_path(target) as tmp:
        assert tmp.parent == target.parent and tmp.parent.is_dir()  # the folder is made for it
        assert tmp.name.startswith(".video.mp4.") and tmp.suffix == ".tmp" and not tmp.exists()
        tmp.write_bytes(b"v")
        assert not target.exists()  # nothing visible until the block ends
    assert target.read_bytes() == b"v" and not tmp.exists()


def test_concurrent_writers_of_one_target_get_their_own_temporaries(tmp_path):
    with atomic_path(tmp_path / "a") as one, atomic_path(tmp_path / "a") as two:
        assert one != two
        one.write_text("1")
        two.write_text("2")
    assert (tmp_path / "a").read_text() == "1"  # the last to finish wins, whole


def test_an_exception_keeps_the_old_file_and_removes_the_temporary(tmp_path):
    target = tmp_path / "labels.parquet"
    target.write_bytes(b"old")
    with pytest.raises(RuntimeError, match="killed"):
        with atomic_path(target) as tmp:
            tmp.write_bytes(b"half")
            raise RuntimeError("killed mid-write")
    assert target.read_bytes() == b"old"
    assert [p.name for p in tmp_path.iterdir()] == ["labels.parquet"]


def test_an_exception_before_anything_was_written_is_passed_on(tmp_path):
    with pytest.raises(KeyboardInterrupt):
        with atomic_path(tmp_path / "x"):
            raise KeyboardInterrupt
    assert list(tmp_path.iterdir()) == []


def test_a_directory_is_published_whole_and_a_stale_attempt_is_cleared(tmp_path):
    stale = tmp_path / ".step-3.tmp"
    stale.mkdir()
    (stale / "leftover").write_text("from a killed run")
    with atomic_dir(tmp_path / "step-3") as tmp:
        assert tmp == stale and not tmp.exists()  # the owner cleared the stale attempt
        tmp.mkdir()
        (tmp / "model.safetensors").write_text("w")
        assert not (tmp_path / "step-3").exists()
    assert [p.name for p in (tmp_path / "step-3").iterdir()] == ["model.safetensors"]
    assert sorted(os.listdir(tmp_path)) == ["step-3"]


def test_only_the_owner_of_a_directory_clears_publishes_and_cleans_up(tmp_path):
    with atomic_dir(tmp_path / "step-1", owner=False) as tmp:  # another rank writes its part first
        tmp.mkdir()
        (tmp / "random_states_1.pkl").write_text("1")
    assert not (tmp_path / "step-1").exists() and tmp.is_dir()
    with atomic_dir(tmp_path / "step-1", owner=False) as same:
        assert same == tmp and (tmp / "random_states_1.pkl").exists()
    with pytest.raises(OSError):
        with atomic_dir(tmp_path / "step-2") as failed:
            failed.mkdir()
            raise OSError("disk full")
    assert not failed.exists() and not (tmp_path / "step-2").exists()
