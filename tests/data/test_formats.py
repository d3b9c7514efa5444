"""Annotation parsers, on small files written here in each official format."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from omnibench.data import formats
from omnibench.data.formats import AnnotationError


def _write(path: Path, lines: list[str], newline: str = "\n") -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(newline.join(lines).encode() + newline.encode())
    return path


def test_list_file_with_crlf_blank_lines_and_spaces(tmp_path: Path) -> None:
    path = _write(tmp_path / "val.txt", ["a/v 1.mp4 0", "", "b.mp4 2", "  "], newline="\r\n")
    assert formats.parse_list_file(path, num_classes=3) == [
        ("a/v 1.mp4", 0, f"{path}:1"),
        ("b.mp4", 2, f"{path}:3"),
    ]


@pytest.mark.parametrize(
    ("line", "message"),
    [
        ("lonely.mp4", "expected 'relpath label'"),
        ("a.mp4 x", "label must be an integer, got 'x'"),
        ("a.mp4 7", "unknown label id 7"),
        ("a.mp4 -1", "unknown label id -1"),
    ],
)
def test_list_file_errors_name_file_and_line(tmp_path: Path, line: str, message: str) -> None:
    path = _write(tmp_path / "train.txt", ["ok.mp4 0", line])
    with pytest.raises(AnnotationError, match=message) as info:
        formats.parse_list_file(path, num_classes=3)
    assert str(info.value).startswith(f"{path}:2:")


def test_labels_csv(tmp_path: Path) -> None:
    path = _write(
        tmp_path / "labels.csv",
        ["id,name", "0,brush hair", '1,"Putting something, something on it"'],
        "\r\n",
    )
    assert formats.parse_labels_csv(path) == ("brush hair", "Putting something, something on it")


@pytest.mark.parametrize(
    ("lines", "where", "message"),
    [
        (["0,a"], 1, "header 'id,name'"),
        (["id,name", "0,a", "2,b"], 3, "expected id 1"),
        (["id,name", "0,a", "1"], 3, "expected 'id,name'"),
        (["id,name", "zero,a"], 2, "id must be an integer"),
    ],
)
def test_labels_csv_errors(tmp_path: Path, lines: list[str], where: int, message: str) -> None:
    path = _write(tmp_path / "labels.csv", lines)
    with pytest.raises(AnnotationError, match=message) as info:
        formats.parse_labels_csv(path)
    assert str(info.value).startswith(f"{path}:{where}:")


def test_ucf_lists(tmp_path: Path) -> None:
    class_index = _write(tmp_path / "classInd.txt", ["1 ApplyEyeMakeup", "2 YoYo"], "\r\n")
    classes = formats.parse_ucf_class_index(class_index)
    assert classes == ("ApplyEyeMakeup", "YoYo")
    train = _write(
        tmp_path / "trainlist01.txt",
        ["YoYo/v_YoYo_g08_c01.avi 2", "ApplyEyeMakeup/v_ApplyEyeMakeup_g08_c02.avi 1"],
        "\r\n",
    )
    test = _write(
        tmp_path / "testlist01.txt",
        ["YoYo/v_YoYo_g01_c01.avi", "ApplyEyeMakeup/v_ApplyEyeMakeup_g01_c02.avi 1"],
    )
    assert [(p, label) for p, label, _ in formats.parse_ucf_list(train, classes)] == [
        ("YoYo/v_YoYo_g08_c01.avi", 1),
        ("ApplyEyeMakeup/v_ApplyEyeMakeup_g08_c02.avi", 0),
    ]
    assert [label for _, label, _ in formats.parse_ucf_list(test, classes)] == [1, 0]


@pytest.mark.parametrize(
    ("line", "message"),
    [
        ("YoYo/v_YoYo_g08_c01.avi 1", "label 1 does not match class 'YoYo'"),
        ("Archery/v_Archery_g01_c01.avi 3", "unknown class 'Archery'"),
        ("v_YoYo_g08_c01.avi 2", "expected 'Class/video.avi"),
        ("YoYo/a.avi 2 3", "expected 'Class/video.avi"),
    ],
)
def test_ucf_list_errors(tmp_path: Path, line: str, message: str) -> None:
    path = _write(tmp_path / "trainlist01.txt", ["YoYo/v_YoYo_g08_c02.avi 2", line])
    with pytest.raises(AnnotationError, match=message) as info:
        formats.parse_ucf_list(path, ("ApplyEyeMakeup", "YoYo"))
    assert str(info.value).startswith(f"{path}:2:")


def test_ucf_class_index_errors(tmp_path: Path) -> None:
    path = _write(tmp_path / "classInd.txt", ["1 A", "3 B"])
    with pytest.raises(AnnotationError, match=f"{path}:2: expected class id 2"):
        formats.parse_ucf_class_index(path)


def test_camel_case_class_names() -> None:
    assert formats.camel_to_words("ApplyEyeMakeup") == "apply eye makeup"
    assert formats.camel_to_words("YoYo") == "yo-yo"
    assert formats.camel_to_words("HandStandPushups") == "handstand pushups"
    assert formats.camel_to_words("PlayingDaf") == "playing daf"
    assert formats.camel_to_words("TVShow") == "tv show"


def test_hmdb_split_file(tmp_path: Path) -> None:
    path = _write(
        tmp_path / "kick_ball_test_split1.txt", ["a.avi 1 ", "b.avi 2 ", "c.avi 0 "], "\r\n"
    )
    assert formats.parse_hmdb_split_file(path, 4, wanted=1) == [("a.avi", 4, f"{path}:1")]
    assert formats.parse_hmdb_split_file(path, 4, wanted=2) == [("b.avi", 4, f"{path}:2")]
    bad = _write(tmp_path / "x_test_split1.txt", ["a.avi 1", "b.avi 3"])
    with pytest.raises(AnnotationError, match=f"{bad}:2: expected 'video.avi 0|1|2'"):
        formats.parse_hmdb_split_file(bad, 0, wanted=1)


def test_kinetics_csv(tmp_path: Path) -> None:
    path = _write(
        tmp_path / "val.csv",
        [
            "label,youtube_id,time_start,time_end,split,is_cc",
            '"air drumming",--abc,14,24,val,0',
            "abseiling,x_y-z,0.0,10.0,val,1",
        ],
        "\r\n",
    )
    assert formats.parse_kinetics_csv(path) == [
        ("air drumming", "--abc_000014_000024.mp4", f"{path}:2"),
        ("abseiling", "x_y-z_000000_000010.mp4", f"{path}:3"),
    ]


@pytest.mark.parametrize(
    ("lines", "message"),
    [
        (["youtube_id,time_start,time_end,split", "a,1,2,val"], ":1: missing column(s) label"),
        (
            ["label,youtube_id,time_start,time_end,split", "a,b,1,2,val", "a,b,1"],
            ":3: expected 5 comma-separated",
        ),
        (
            ["label,youtube_id,time_start,time_end,split", "a,b,one,2,val"],
            ":2: time_start/time_end must be numbers",
        ),
    ],
)
def test_kinetics_csv_errors(tmp_path: Path, lines: list[str], message: str) -> None:
    path = _write(tmp_path / "train.csv", lines)
    with pytest.raises(AnnotationError) as info:
        formats.parse_kinetics_csv(path)
    assert str(info.value).startswith(str(path)) and message in str(info.value)


def test_ssv2_json(tmp_path: Path) -> None:
    labels = tmp_path / "labels.json"
    labels.write_text(
        json.dumps(
            {"Putting something on a surface": "1", "Approaching something with your camera": "0"}
        )
    )
    classes = formats.parse_ssv2_labels(labels)
    assert classes == ("Approaching something with your camera", "Putting something on a surface")
    split = tmp_path / "validation.json"
    split.write_text(
        json.dumps(
            [
                {
                    "id": "74225",
                    "label": "putting a cup on a table",
                    "template": "Putting [something] on a surface",
                    "placeholders": ["a cup"],
                }
            ]
        )
    )
    assert formats.parse_ssv2_split(split, classes) == [("74225.webm", 1, f"{split}:entry1")]
    split.write_text(
        json.dumps(
            [
                {"id": "1", "template": "Putting [something] on a surface"},
                {"id": "2", "template": "Juggling [something]"},
            ]
        )
    )
    with pytest.raises(
        AnnotationError, match=r"validation.json:entry2: unknown label 'Juggling something'"
    ):
        formats.parse_ssv2_split(split, classes)


def test_invalid_json_names_the_line(tmp_path: Path) -> None:
    path = tmp_path / "train.json"
    path.write_text('[\n {"id": "1", "template": "x"},\n {"id": 2 "template": "y"}\n]\n')
    with pytest.raises(AnnotationError, match=f"{path}:3: invalid JSON"):
        formats.load_json(path)


def test_non_utf8_file(tmp_path: Path) -> None:
    path = tmp_path / "val.txt"
    path.write_bytes(b"caf\xe9.mp4 0\n")
    with pytest.raises(AnnotationError, match="not UTF-8"):
        formats.parse_list_file(path, 1)
