"""Split overlap: exact file matches and UCF101 / HMDB51 source groups."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from omnibench.cli import main
from omnibench.data.overlap import compare, compare_lists, source_group, video_name

HMDB_A = "Aussie_Brunette_Brushing_Long_Hair_brush_hair_u_nm_np1_ba_med_3.avi"
HMDB_B = "Aussie_Brunette_Brushing_Long_Hair_brush_hair_u_nm_np1_fr_goo_1.avi"


def test_video_names_and_groups() -> None:
    assert (
        video_name("ApplyEyeMakeup/v_ApplyEyeMakeup_g08_c01.avi 1")
        == "v_ApplyEyeMakeup_g08_c01.avi"
    )
    assert video_name("val/a b.mp4 3") == "a b.mp4"
    assert video_name("YoYo/v_YoYo_g01_c01.avi") == "v_YoYo_g01_c01.avi"
    assert source_group("v_YoYo_g01_c04.avi") == ("ucf101", "YoYo_g01")
    assert (
        source_group(HMDB_A)
        == source_group(HMDB_B)
        == ("hmdb51", "Aussie_Brunette_Brushing_Long_Hair_brush_hair")
    )
    assert source_group("abc_000001_000011.mp4") is None


def test_exact_and_group_overlap() -> None:
    train = ["v_YoYo_g01_c01.avi", "v_YoYo_g02_c01.avi", "x/v_Punch_g03_c01.avi"]
    evaluation = [
        "v_YoYo_g01_c01.avi",
        "v_YoYo_g01_c02.avi",
        "v_YoYo_g05_c01.avi",
        "v_Punch_g03_c02.avi",
    ]
    report = compare(train, evaluation)
    assert (report.overlap, report.group_overlap, report.shared_groups) == (1, 3, 2)
    assert report.group_scheme == "ucf101" and report.shared_files == ("v_YoYo_g01_c01.avi",)
    assert (
        compare([HMDB_A], [HMDB_B]).group_overlap == 1 and compare([HMDB_A], [HMDB_B]).overlap == 0
    )


def test_cli_json(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "a.txt").write_bytes(b"v_YoYo_g01_c01.avi 0\r\nv_YoYo_g02_c01.avi 0\r\n")
    (tmp_path / "b.txt").write_text(
        "YoYo/v_YoYo_g01_c01.avi\nYoYo/v_YoYo_g02_c03.avi\nYoYo/v_YoYo_g09_c03.avi\n"
    )
    assert (
        main(["data", "overlap", str(tmp_path / "a.txt"), str(tmp_path / "b.txt"), "--json"]) == 0
    )
    result = json.loads(capsys.readouterr().out)
    assert result["overlap"] == 1 and result["group_overlap"] == 2 and result["videos_b"] == 3
    assert main(["data", "overlap", str(tmp_path / "a.txt"), str(tmp_path / "missing.txt")]) == 2
    assert "annotation file not found" in capsys.readouterr().err


def test_vifi_clip_split_overlap(reference: Path) -> None:
    splits = reference / "muzairkhattak_ViFi-CLIP" / "datasets_splits"
    hmdb, ucf = splits / "hmdb_splits", splits / "ucf_splits"
    assert compare_lists(hmdb / "train1_few_shot_16.txt", hmdb / "val2.txt").overlap == 233
    assert compare_lists(hmdb / "train1_few_shot_16.txt", hmdb / "val1.txt").overlap == 0
    assert compare_lists(hmdb / "train1_few_shot_16.txt", hmdb / "val1.txt").group_overlap == 0
    assert compare_lists(ucf / "train1_few_shot_16.txt", ucf / "val2.txt").overlap == 627
    assert compare_lists(ucf / "train1_few_shot_16.txt", ucf / "val1.txt").group_overlap == 0


def test_official_ucf_splits_keep_groups_apart(reference: Path) -> None:
    lists = reference / "abosun_pytorch-action-master" / "ucfTrainTestlist"
    for k in (1, 2, 3):
        report = compare_lists(lists / f"trainlist0{k}.txt", lists / f"testlist0{k}.txt")
        assert report.overlap == 0 and report.group_overlap == 0


def test_list_entry_forms_and_the_json_form() -> None:
    """A trailing label (negative too) is dropped, a name with a space and no label is kept whole,
    Windows separators count as folders; ``to_dict`` lists the shared files (JSON has no tuple)."""
    assert video_name("Brush Hair\\a_clip.avi -1") == "a_clip.avi"
    assert video_name("val/a b.mp4") == "a b.mp4"
    assert video_name("val/a b-c.mp4") == "a b-c.mp4"
    assert video_name("val/a X1") == "a X1"
    # the scheme of names that follow one, on either side; none when they mix
    assert compare(["a.mp4"], ["v_YoYo_g01_c01.avi"]).group_scheme == "ucf101"
    assert compare([HMDB_A], ["b.mp4"]).group_scheme == "hmdb51"
    assert compare([HMDB_A], ["v_YoYo_g01_c01.avi"]).group_scheme is None
    report = compare(["v_YoYo_g01_c01.avi"], ["YoYo/v_YoYo_g01_c01.avi", "v_YoYo_g01_c02.avi"])
    assert report.to_dict() == {
        "videos_a": 1,
        "videos_b": 2,
        "overlap": 1,
        "shared_files": ["v_YoYo_g01_c01.avi"],
        "group_scheme": "ucf101",
        "group_overlap": 2,
        "shared_groups": 1,
    }
