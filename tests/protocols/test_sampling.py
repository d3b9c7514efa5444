"""Seeded draws: K shots per class, ViFi-style shot lists, K600-style class subsets, base/novel."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import pytest

from omnibench.data import Split, VideoRecord, get_dataset
from omnibench.data.formats import parse_labels_csv
from omnibench.errors import OmniBenchError
from omnibench.protocols.few_shot import sample_k_shot
from omnibench.protocols.sampling import (
    base_novel_classes,
    classes_named,
    limit_per_class,
    normalize_classname,
    novel_classes,
    read_shot_list,
    restrict_classes,
    sample_class_subsets,
)


@pytest.fixture(scope="session")
def synthetic(data_root: Path):
    """The synthetic benchmark's adapter (10 classes, 24 training videos per class)."""
    return get_dataset("synthetic", root=data_root / "synthetic")


def test_k_shot_draws_exactly_k_per_class_disjoint_from_test(synthetic) -> None:
    train, test = synthetic.load_split("train"), synthetic.load_split("test1")
    for shots in (2, 4, 8, 16):
        drawn = sample_k_shot(train, shots, seed=0)
        assert Counter(r.label for r in drawn.records) == {
            c: shots for c in range(train.num_classes)
        }
        assert set(drawn.records) <= set(train.records)
        assert not {r.path for r in drawn.records} & {r.path for r in test.records}
        assert drawn.classnames == train.classnames


def test_k_shot_is_stable_and_independent_of_earlier_draws(synthetic) -> None:
    train = synthetic.load_split("train")
    first16 = sample_k_shot(train, 16, seed=3).records
    sample_k_shot(train, 2, seed=3)  # drawing K=2 first changes nothing
    assert sample_k_shot(train, 16, seed=3).records == first16
    assert set(sample_k_shot(train, 2, seed=3).records) <= set(first16)  # nested draws
    assert sample_k_shot(train, 16, seed=4).records != first16


def test_k_shot_with_too_few_videos_names_the_class(synthetic) -> None:
    with pytest.raises(
        OmniBenchError,
        match="10 of its 10 classes have fewer than 25 videos .*'object moving left' has 24",
    ):
        sample_k_shot(synthetic.load_split("train"), 25, seed=0)


def test_shot_list_file_selects_videos_by_name(synthetic, tmp_path: Path) -> None:
    train = synthetic.load_split("train")
    chosen = train.records[3:9:2]
    listing = tmp_path / "train1_few_shot_2.txt"
    listing.write_text("".join(f"{r.path.name} {r.label}\r\n" for r in chosen))
    split = read_shot_list(listing, train)
    assert split.records == tuple(chosen) and listing in split.annotation_files
    listing.write_text(f"{chosen[0].path.name} 0\nnot_there.mp4 1\n")
    with pytest.raises(
        OmniBenchError,
        match=r"train1_few_shot_2.txt:2: video 'not_there.mp4' is not in synthetic/train",
    ):
        read_shot_list(listing, train)


def _labels_csv(path: Path, names: list[str]) -> Path:
    path.write_text("id,name\n" + "".join(f"{i},{n}\n" for i, n in enumerate(names)))
    return path


def test_k600_style_novel_classes_and_seeded_subsets(tmp_path: Path) -> None:
    k400 = parse_labels_csv(_labels_csv(tmp_path / "k400.csv", [f"action {i}" for i in range(40)]))
    k600_names = [f"Action_{i}" for i in range(40)] + [f"new action {i}" for i in range(22)]
    k600 = parse_labels_csv(_labels_csv(tmp_path / "k600.csv", k600_names))
    novel = novel_classes(k600, k400)
    assert novel == list(
        range(40, 62)
    )  # spelling differences (case, underscores) do not count as new
    subsets = sample_class_subsets(novel, subsets=3, size=16, seed=0)
    assert len(subsets) == 3 and all(
        len(s) == len(set(s)) == 16 and set(s) <= set(novel) for s in subsets
    )
    assert len(set(subsets)) == 3
    assert sample_class_subsets(novel, subsets=3, size=16, seed=0) == subsets
    assert sample_class_subsets(novel, subsets=2, size=16, seed=0) == subsets[:2]
    assert sample_class_subsets(novel, subsets=3, size=16, seed=1) != subsets
    with pytest.raises(
        OmniBenchError,
        match="^cannot draw 23 classes from 22; lower protocol_options.subset_classes$",
    ):
        sample_class_subsets(novel, subsets=1, size=23, seed=0)


def test_restrict_classes_relabels_in_subset_order(synthetic) -> None:
    test = synthetic.load_split("test1")
    subset = restrict_classes(test, [7, 2], "two")
    assert subset.classnames == (test.classnames[7], test.classnames[2])
    assert Counter(r.label for r in subset.records) == {0: 8, 1: 8}
    assert {r.path for r in subset.records if r.label == 0} == {
        r.path for r in test.records if r.label == 7
    }


def test_base_novel_split_takes_the_frequent_half() -> None:
    counts = {0: 5, 1: 9, 2: 9, 3: 1, 4: 7}
    assert base_novel_classes(counts) == ([1, 2, 4], [0, 3])  # ceil(5/2) = 3 base classes
    assert base_novel_classes({c: 70 for c in range(51)})[0] == list(
        range(26)
    )  # ties: lower ids first


def test_base_classes_by_name(synthetic) -> None:
    train = synthetic.load_split("train")
    assert classes_named(train, ["Object Moving Up", "object_moving_left"], "base.csv") == [0, 2]
    with pytest.raises(OmniBenchError, match="base.csv: 1 classes are not classes of synthetic"):
        classes_named(train, ["object jumping"], "base.csv")


def test_k_shot_draws_each_class_with_its_own_permutation_and_names_the_draw(synthetic) -> None:
    train = synthetic.load_split("train")
    drawn = sample_k_shot(train, 4, seed=0)
    assert drawn.name == "train-4shot-seed0" and drawn.annotation_files == train.annotation_files
    positions = {
        c: [i for i, r in enumerate(train.records) if r.label == c]
        for c in range(train.num_classes)
    }
    chosen = {
        c: sorted(
            positions[c].index(i)
            for i, r in enumerate(train.records)
            if r.label == c and r in drawn.records
        )
        for c in positions
    }
    assert (
        len({tuple(v) for v in chosen.values()}) > 1
    )  # not the same in-class positions for every class
    assert Counter(r.label for r in sample_k_shot(train, 24, seed=0).records) == {
        c: 24 for c in range(10)
    }


def test_shot_list_is_named_after_its_file_and_an_empty_one_is_refused(
    synthetic, tmp_path: Path
) -> None:
    train = synthetic.load_split("train")
    listing = tmp_path / "fs_base_s1_train.txt"
    listing.write_text(f"{train.records[0].path.name} 0\n")
    assert read_shot_list(listing, train).name == "train-list-fs_base_s1_train"
    listing.write_text("")
    with pytest.raises(OmniBenchError, match="fs_base_s1_train.txt: the shot list is empty"):
        read_shot_list(listing, train)
    listing.write_text("a b c d\n")
    with pytest.raises(OmniBenchError, match="fs_base_s1_train.txt:1"):
        read_shot_list(listing, train)


def test_class_subsets_may_take_every_candidate() -> None:
    assert sample_class_subsets([4, 2, 9], subsets=2, size=3, seed=0) == [(2, 4, 9), (2, 4, 9)]


def _records(*labels: int) -> Split:
    records = tuple(
        VideoRecord(Path(f"v{i}.mp4"), c, f"list.txt:{i + 1}") for i, c in enumerate(labels)
    )
    return Split("d", "test1", records, ("a", "b", "c"), (Path("list.txt"),))


def test_limit_per_class_keeps_the_first_videos_of_each_class_in_list_order() -> None:
    limited = limit_per_class(_records(0, 1, 0, 0, 2, 1, 1, 0), 2)
    assert [r.path.name for r in limited.records] == [
        "v0.mp4",
        "v1.mp4",
        "v2.mp4",
        "v4.mp4",
        "v5.mp4",
    ]
    assert (limited.dataset, limited.name, limited.classnames) == ("d", "test1", ("a", "b", "c"))
    assert limited.annotation_files == (Path("list.txt"),)
    assert limit_per_class(_records(0, 0), 0).records == ()


def test_restrict_classes_relabels_and_keeps_sources_and_names() -> None:
    restricted = restrict_classes(_records(0, 1, 2, 1), [2, 1], "base")
    assert [(r.path.name, r.label, r.source) for r in restricted.records] == [
        ("v1.mp4", 1, "list.txt:2"),
        ("v2.mp4", 0, "list.txt:3"),
        ("v3.mp4", 1, "list.txt:4"),
    ]
    assert (restricted.name, restricted.classnames) == ("test1/base", ("c", "b"))
    assert (restricted.dataset, restricted.annotation_files) == ("d", (Path("list.txt"),))


def test_class_names_compare_without_case_underscores_or_extra_spaces() -> None:
    assert normalize_classname("  Brush_Hair  now ") == "brush hair now"


def test_a_base_classes_file_names_the_base_half_and_its_path_in_errors(tmp_path: Path) -> None:
    """Base classes read from an ``id,name`` CSV (any spelling of case and underscores); the rest
    are novel; a name outside the dataset is refused naming the file."""
    from types import SimpleNamespace

    from omnibench.config.protocol_options import BaseToNovelOptions
    from omnibench.protocols.base_to_novel import _base_classes

    split = _records(0, 1, 2)
    good, bad = tmp_path / "base.csv", tmp_path / "bad.csv"
    good.write_text("id,name\n0,C\n1,a\n")
    bad.write_text("id,name\n0,a\n1,zebra\n")
    ctx = SimpleNamespace(files=[])
    options = BaseToNovelOptions(base_classes_file=str(good))
    assert _base_classes(ctx, options, split) == ([0, 2], [1])  # type: ignore[arg-type]
    assert ctx.files == [good]
    ctx.files.clear()  # without a file: the most frequent half (counts 1, 2, 3), nothing recorded
    frequent = _base_classes(ctx, BaseToNovelOptions(), _records(2, 1, 2, 0, 1, 2))  # type: ignore[arg-type]
    assert frequent == ([1, 2], [0]) and ctx.files == []
    with pytest.raises(OmniBenchError, match=f"^{bad}: 1 classes are not classes of d"):
        _base_classes(ctx, BaseToNovelOptions(base_classes_file=str(bad)), split)  # type: ignore[arg-type]


def test_draw_shots_draws_with_the_data_seed_or_reads_the_list_and_rank_0_writes_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Drawn: K per class seeded by ``data_seed``, nothing recorded; read: the list's videos
    whatever K, the list recorded (``~`` expanded); written as ``path label`` lines by rank 0
    only."""
    from types import SimpleNamespace

    from omnibench.protocols.few_shot import draw_shots
    from omnibench.store.run_files import SHOTS_FILE

    split = _records(0, 0, 0, 0, 1, 1, 1, 1, 2, 2)
    seeds = {seed: sample_k_shot(split, 1, seed).records for seed in range(8)}
    assert len(set(seeds.values())) > 1  # the seed decides the draw
    ctx = SimpleNamespace(
        files=[], spec=SimpleNamespace(data_seed=5), dist=SimpleNamespace(is_main=True)
    )
    ctx.run_dir = tmp_path
    drawn = draw_shots(ctx, split, 1, None)  # type: ignore[arg-type]
    assert drawn.records == seeds[5] and drawn.name == "test1-1shot-seed5" and ctx.files == []
    assert (drawn.dataset, drawn.classnames) == ("d", ("a", "b", "c"))
    assert drawn.annotation_files == (Path("list.txt"),)
    expected = "".join(f"{r.path} {r.label}\n" for r in seeds[5])
    assert (tmp_path / SHOTS_FILE).read_text() == expected
    monkeypatch.setenv("HOME", str(tmp_path))
    (tmp_path / "shots.txt").write_text("v7.mp4 1\nv1.mp4 0\nv2.mp4 0\n")
    read = draw_shots(ctx, split, 1, "~/shots.txt")  # type: ignore[arg-type]
    assert [(r.path.name, r.label) for r in read.records] == [
        ("v7.mp4", 1),
        ("v1.mp4", 0),
        ("v2.mp4", 0),
    ]
    assert ctx.files == [tmp_path / "shots.txt"]
    assert read.dataset == "d" and read.annotation_files == (Path("list.txt"), ctx.files[0])
    assert (tmp_path / SHOTS_FILE).read_text() == "v7.mp4 1\nv1.mp4 0\nv2.mp4 0\n"
    ctx.run_dir, ctx.dist.is_main = tmp_path / "rank1", False
    draw_shots(ctx, split, 1, None)  # type: ignore[arg-type]
    assert not (tmp_path / "rank1").exists()
