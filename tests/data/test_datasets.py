"""Dataset adapters on small official-format layouts written here, and where data roots come
from."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from omnibench.data import DATASETS, get_dataset, locate, resolve_root
from omnibench.errors import OmniBenchError, UnknownNameError


@pytest.fixture(autouse=True)
def _isolated_settings(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("OMNIBENCH_DATA", raising=False)
    monkeypatch.setenv("OMNIBENCH_DATASETS_CONFIG", str(tmp_path / "no-datasets.yaml"))
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))


def _write(path: Path, text: str, newline: str = "\n") -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(text.replace("\n", newline).encode())
    return path


def _hmdb(root: Path) -> Path:
    for cls, videos in {"sword": "s", "kick_ball": "kb", "kick": "k"}.items():
        for k in (1, 2, 3):
            lines = "".join(f"{videos}{i}_{k}.avi {flag} \n" for i, flag in enumerate([1, 1, 2, 0]))
            _write(root / "testTrainMulti_7030_splits" / f"{cls}_test_split{k}.txt", lines, "\r\n")
    return root


def test_hmdb51(tmp_path: Path) -> None:
    adapter = get_dataset("hmdb51", _hmdb(tmp_path / "hmdb51"))
    assert (
        adapter.num_splits == 3
        and adapter.train_split(2) == "train2"
        and adapter.test_split(3) == "test3"
    )
    train, test = adapter.load_split("train1"), adapter.load_split("test1")
    assert train.classnames == (
        "kick",
        "kick ball",
        "sword",
    )  # not the 51 classes: sorted folder names
    assert len(train) == 6 and len(test) == 3
    assert train.records[2].path == tmp_path / "hmdb51" / "kick_ball" / "kb0_1.avi"
    assert train.records[2].source.endswith("kick_ball_test_split1.txt:1")
    assert [r.label for r in test.records] == [0, 1, 2]


def test_hmdb51_missing_annotation_folder(tmp_path: Path) -> None:
    (tmp_path / "hmdb51").mkdir()
    with pytest.raises(
        OmniBenchError, match="HMDB51 split folder not found: .*testTrainMulti_7030_splits"
    ):
        get_dataset("hmdb51", tmp_path / "hmdb51").load_split("train1")


def _ucf(root: Path) -> Path:
    lists = root / "ucfTrainTestlist"
    _write(lists / "classInd.txt", "1 ApplyEyeMakeup\n2 YoYo\n", "\r\n")
    _write(
        lists / "trainlist01.txt",
        "YoYo/v_YoYo_g08_c01.avi 2\nApplyEyeMakeup/v_ApplyEyeMakeup_g09_c01.avi 1\n",
        "\r\n",
    )
    _write(lists / "testlist01.txt", "YoYo/v_YoYo_g01_c01.avi\n")
    (root / "UCF-101").mkdir()
    return root


def test_ucf101(tmp_path: Path) -> None:
    adapter = get_dataset("ucf101", _ucf(tmp_path / "ucf"))
    train = adapter.load_split("train1")
    assert train.classnames == ("apply eye makeup", "yo-yo")
    assert [
        (r.path.relative_to(tmp_path / "ucf" / "UCF-101").as_posix(), r.label)
        for r in train.records
    ] == [("YoYo/v_YoYo_g08_c01.avi", 1), ("ApplyEyeMakeup/v_ApplyEyeMakeup_g09_c01.avi", 0)]
    assert len(adapter.load_split("test1")) == 1
    with pytest.raises(OmniBenchError, match=r"annotation file not found: .*testlist02.txt"):
        adapter.load_split("test2")
    with pytest.raises(UnknownNameError, match="did you mean 'test1'"):
        adapter.load_split("tset1")


def test_kinetics_with_and_without_class_folders(tmp_path: Path) -> None:
    root = tmp_path / "k400"
    header = "label,youtube_id,time_start,time_end,split,is_cc\n"
    _write(
        root / "annotations" / "train.csv",
        header + "abseiling,aaa,1,11,train,0\nair drumming,bbb,2,12,train,0\n",
    )
    _write(root / "annotations" / "validate.csv", header + "air drumming,ccc,3,13,validate,0\n")
    (root / "val" / "air_drumming").mkdir(parents=True)
    (root / "train").mkdir()
    adapter = get_dataset("k400", root)
    assert (adapter.train_split(), adapter.test_split()) == (
        "train",
        "val",
    ) and adapter.num_splits == 1
    train, val = adapter.load_split("train"), adapter.load_split("val")
    assert train.classnames == ("abseiling", "air drumming")
    assert train.records[1].path == root / "train" / "bbb_000002_000012.mp4"
    assert val.records[0].path == root / "val" / "air_drumming" / "ccc_000003_000013.mp4"
    assert val.records[0].label == 1


def test_kinetics_unknown_validation_label(tmp_path: Path) -> None:
    root = tmp_path / "k600"
    header = "label,youtube_id,time_start,time_end,split\n"
    _write(root / "train.csv", header + "abseiling,aaa,1,11,train\n")
    _write(root / "val.csv", header + "abseiling,a,1,11,val\nsurfing,b,1,11,val\n")
    with pytest.raises(OmniBenchError, match=r"val.csv:3: unknown label 'surfing'"):
        get_dataset("k600", root).load_split("val")


def test_ssv2(tmp_path: Path) -> None:
    root = tmp_path / "ssv2"
    _write(
        root / "something-something-v2-labels.json",
        json.dumps({"Pushing something from left to right": "0"}),
    )
    entry = {
        "id": "12",
        "label": "pushing a cup from left to right",
        "template": "Pushing [something] from left to right",
    }
    _write(root / "something-something-v2-train.json", json.dumps([entry]))
    _write(root / "something-something-v2-validation.json", json.dumps([entry | {"id": "13"}]))
    (root / "20bn-something-something-v2").mkdir()
    adapter = get_dataset("ssv2", root)
    assert adapter.allows_hflip is True  # OmniCLIP Table 1 flips all four datasets
    val = adapter.load_split("val")
    assert val.records[0].path == root / "20bn-something-something-v2" / "13.webm"
    assert val.classnames == ("Pushing something from left to right",)


def _lists(root: Path) -> Path:
    _write(root / "labels.csv", "id,name\n0,brush hair\n1,cartwheel\n")
    _write(root / "train1_few_shot_2.txt", "a.avi 0\nb.avi 1\n")
    _write(root / "val1.txt", "c.avi 1\n", "\r\n")
    return root


def test_generic_list_format(tmp_path: Path) -> None:
    adapter = get_dataset("list", _lists(tmp_path / "lists"))
    assert adapter.split_names() == ["train1_few_shot_2", "val1"]
    assert adapter.test_split() == "val1"
    assert adapter.load_split("val1").records[0].path == tmp_path / "lists" / "c.avi"
    with pytest.raises(OmniBenchError, match="no training list"):
        adapter.train_split()


def test_configured_list_dataset_with_separate_videos(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    config = tmp_path / "datasets.yaml"
    config.write_text(
        f"hmdb51-vifi: {{format: list, root: {_lists(tmp_path / 'l')}, videos: {tmp_path / 'v'}}}\n"
    )
    monkeypatch.setenv("OMNIBENCH_DATASETS_CONFIG", str(config))
    adapter = get_dataset("hmdb51-vifi")
    split = adapter.load_split("val1")
    assert split.dataset == "hmdb51-vifi"
    assert split.records[0].path == tmp_path / "v" / "c.avi"


def test_root_precedence(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    config = tmp_path / "datasets.yaml"
    config.write_text(f"ucf101: {tmp_path / 'from-yaml'}\n")
    monkeypatch.setenv("OMNIBENCH_DATASETS_CONFIG", str(config))
    assert resolve_root("ucf101") == tmp_path / "from-yaml"
    monkeypatch.setenv("OMNIBENCH_DATA", str(tmp_path / "env"))
    assert resolve_root("ucf101") == tmp_path / "env" / "ucf101"
    assert resolve_root("ucf101", tmp_path / "flag") == tmp_path / "flag" / "ucf101"
    assert locate("ucf101").setting == "OMNIBENCH_DATA"


def test_missing_root_is_one_line_naming_the_setting(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    with pytest.raises(OmniBenchError) as info:
        get_dataset("hmdb51")
    message = str(info.value)
    assert (
        "\n" not in message
        and "--data-root" in message
        and "OMNIBENCH_DATA" in message
        and "datasets.yaml" in message
    )
    monkeypatch.setenv("OMNIBENCH_DATA", str(tmp_path / "nowhere"))
    with pytest.raises(
        OmniBenchError,
        match=r"data root of 'ucf101' not found: .*nowhere/ucf101 \(change OMNIBENCH_DATA\)",
    ):
        get_dataset("ucf101")


def test_bad_config_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    config = tmp_path / "datasets.yaml"
    config.write_text("ucf101: /a\nhmdb51: [unclosed\n")
    monkeypatch.setenv("OMNIBENCH_DATASETS_CONFIG", str(config))
    with pytest.raises(OmniBenchError, match=f"{config}:3: invalid YAML"):
        resolve_root("ucf101")
    config.write_text("ucf101: {path: /a}\n")
    with pytest.raises(OmniBenchError, match="entry 'ucf101' must be a path or a mapping"):
        resolve_root("ucf101")


def test_unknown_dataset() -> None:
    with pytest.raises(UnknownNameError, match="did you mean 'ucf101'"):
        get_dataset("ucf-101")
    assert set(DATASETS) == {
        "hmdb51",
        "ucf101",
        "k400",
        "k600",
        "ssv2",
        "list",
        "synthetic",
        "synthetic-directions",
    }


def test_synthetic_is_generated_in_the_default_root(tmp_path: Path) -> None:
    adapter = get_dataset("synthetic")
    assert adapter.root == tmp_path / "cache" / "omnibench" / "data" / "synthetic"
    assert adapter.num_splits == 3 and adapter.allows_hflip is False
    assert [adapter.test_split(k) for k in (1, 2, 3)] == ["test1", "test2", "test3"]
    train = adapter.load_split(adapter.train_split(3))
    assert len(train) == 240 and len(train.classnames) == 10
    assert all(record.path.is_file() for record in train.records)
    with pytest.raises(OmniBenchError, match="split numbers 1..3"):
        adapter.test_split(4)


def test_hmdb51_full_class_set_uses_the_usual_label_ids(tmp_path: Path) -> None:
    from omnibench.data.datasets import HMDB51_FOLDERS

    for folder in sorted(HMDB51_FOLDERS):
        _write(
            tmp_path / "hmdb51" / "testTrainMulti_7030_splits" / f"{folder}_test_split1.txt",
            "a.avi 2 \n",
        )
    classes = get_dataset("hmdb51", tmp_path / "hmdb51").load_split("test1").classnames
    assert len(classes) == 51 and classes.index("kick ball") == 20 and classes.index("kick") == 21


def test_synthetic_directions_is_the_four_translations(tmp_path: Path) -> None:
    adapter = get_dataset("synthetic-directions", data_root=tmp_path)
    train, test = adapter.load_split("train"), adapter.load_split("test1")
    assert train.classnames == (
        "object moving left",
        "object moving right",
        "object moving up",
        "object moving down",
    )
    assert (len(train.records), len(test.records)) == (4 * 96, 4 * 32)
    assert adapter.allows_hflip is False and adapter.root == tmp_path / "synthetic-directions"
