"""The leakage guard: training lists vs evaluation lists (exact files and HMDB/UCF source
groups)."""

from __future__ import annotations

from pathlib import Path

import pytest

from omnibench.data import Split, VideoRecord, get_dataset
from omnibench.data.formats import parse_labels_csv, parse_list_file
from omnibench.protocols.leakage import LeakageError, check_leakage, find_leakage

HMDB_TAIL = "_brush_hair_u_nm_np1_ba_goo_{}.avi"


def _list_dataset(root: Path, lists: dict[str, list[str]]) -> Path:
    root.mkdir()
    (root / "labels.csv").write_text("id,name\n0,brush hair\n1,cartwheel\n")
    for name, lines in lists.items():
        (root / f"{name}.txt").write_text("".join(f"{line}\n" for line in lines))
    return root


def test_clean_split_passes_and_reports_zero(tmp_path: Path) -> None:
    root = _list_dataset(
        tmp_path / "d",
        {
            "train": [f"A_clip{HMDB_TAIL.format(0)} 0", f"B_clip{HMDB_TAIL.format(0)} 0"],
            "test1": [f"C_clip{HMDB_TAIL.format(0)} 0"],
        },
    )
    adapter = get_dataset("list", root=root)
    findings = check_leakage(
        adapter.load_split("train"), [adapter.load_split("test1")], allow=False
    )
    assert findings == [
        {
            "train": "list/train",
            "eval": "list/test1",
            "train_videos": 2,
            "eval_videos": 1,
            "shared_files": 0,
            "group_scheme": "hmdb51",
            "group_overlap": 0,
            "shared_groups": 0,
        }
    ]


def test_shared_files_and_source_groups_are_refused_with_counts(tmp_path: Path) -> None:
    train = [
        f"A_clip{HMDB_TAIL.format(0)} 0",
        f"B_clip{HMDB_TAIL.format(0)} 0",
        "v_Cartwheel_g01_c01.avi 1",
    ]
    test = [
        f"A_clip{HMDB_TAIL.format(0)} 0",
        f"B_clip{HMDB_TAIL.format(3)} 0",
        f"B_clip{HMDB_TAIL.format(4)} 0",
        f"Z_clip{HMDB_TAIL.format(0)} 0",
    ]
    adapter = get_dataset(
        "list", root=_list_dataset(tmp_path / "d", {"train": train, "test2": test})
    )
    with pytest.raises(LeakageError) as error:
        check_leakage(adapter.load_split("train"), [adapter.load_split("test2")], allow=False)
    message = str(error.value)
    assert "\n" not in message
    assert (
        "list/train (3 videos) overlaps list/test2 (4 videos): "
        "1 shared files, 3 videos from 2 shared source groups"
    ) in message
    assert "allow_leakage: true" in message
    findings = check_leakage(adapter.load_split("train"), [adapter.load_split("test2")], allow=True)
    assert findings[0]["shared_files"] == 1 and findings[0]["group_overlap"] == 3


def test_ucf_groups_count_across_clips(tmp_path: Path) -> None:
    train = Split(
        "ucf101",
        "train1",
        (VideoRecord(Path("v_Cartwheel_g01_c01.avi"), 0, "t:1"),),
        ("cartwheel",),
        (),
    )
    test = Split(
        "ucf101",
        "test1",
        (
            VideoRecord(Path("v_Cartwheel_g01_c02.avi"), 0, "e:1"),
            VideoRecord(Path("v_Cartwheel_g02_c01.avi"), 0, "e:2"),
        ),
        ("cartwheel",),
        (),
    )
    (finding,) = find_leakage(train, [test, test])  # the same list twice is checked once
    assert (finding["shared_files"], finding["group_overlap"], finding["shared_groups"]) == (
        0,
        1,
        1,
    )


def _vifi_split(path: Path, classes: tuple[str, ...]) -> Split:
    rows = parse_list_file(path, len(classes))
    return Split(
        "hmdb51",
        path.stem,
        tuple(VideoRecord(Path(p), label, src) for p, label, src in rows),
        classes,
        (path,),
    )


def test_real_vifi_hmdb_16_shot_list_is_refused_against_val2(reference: Path) -> None:
    vifi = reference / "muzairkhattak_ViFi-CLIP"
    classes = parse_labels_csv(vifi / "labels" / "hmdb_51_labels.csv")
    shots = _vifi_split(
        vifi / "datasets_splits" / "hmdb_splits" / "train1_few_shot_16.txt", classes
    )
    val1 = _vifi_split(vifi / "datasets_splits" / "hmdb_splits" / "val1.txt", classes)
    val2 = _vifi_split(vifi / "datasets_splits" / "hmdb_splits" / "val2.txt", classes)
    assert (
        check_leakage(shots, [val1], allow=False)[0]["shared_files"] == 0
    )  # split-1 test is clean
    with pytest.raises(
        LeakageError,
        match=r"hmdb51/train1_few_shot_16 \(816 videos\) overlaps hmdb51/val2 "
        r"\(1530 videos\): 233 shared files, 758 videos from 206 shared source groups",
    ):
        check_leakage(shots, [val1, val2], allow=False)


def _ucf(name: str, *clips: str) -> Split:
    records = tuple(
        VideoRecord(Path(f"v_Punch_{c}.avi"), 0, f"{name}:{i}") for i, c in enumerate(clips)
    )
    return Split("ucf101", name, records, ("punch",), ())


def test_the_refusal_names_every_leaking_list_and_a_source_group_alone_refuses() -> None:
    """test1 (listed twice, checked once) shares one source group and no file (refused on the group
    alone), test2 one file, test3 nothing (left out of the message); the message word for word."""
    train = _ucf("train1", "g01_c01", "g02_c01")
    test1 = _ucf("test1", "g01_c02", "g03_c01")
    evaluations = [
        test1,
        test1,
        _ucf("test2", "g02_c01", "g04_c01", "g05_c01"),
        _ucf("test3", "g06_c01"),
    ]
    with pytest.raises(LeakageError) as error:
        check_leakage(train, evaluations, allow=False)
    assert str(error.value) == (
        "training list ucf101/train1 (2 videos) overlaps "
        "ucf101/test1 (2 videos): 0 shared files, 1 videos from 1 shared source groups; "
        "ucf101/test2 (3 videos): 1 shared files, 1 videos from 1 shared source groups; "
        "evaluate on the matching split, or set allow_leakage: true in the spec to run anyway "
        "(the override is recorded)"
    )
    findings = check_leakage(train, evaluations, allow=True)
    assert [(f["eval"], f["shared_files"], f["group_overlap"]) for f in findings] == [
        ("ucf101/test1", 0, 1),
        ("ucf101/test2", 1, 1),
        ("ucf101/test3", 0, 0),
    ]
    assert check_leakage(train, evaluations[3:], allow=False)[0]["group_scheme"] == "ucf101"
