"""Parsers for the annotation files users download; every error names ``file:line``.

Formats: the generic ``relpath label`` lists with an ``id,name`` labels CSV (X-CLIP /
ViFi-CLIP), HMDB51 ``testTrainMulti_7030_splits``, UCF101 ``ucfTrainTestlist``, the
Kinetics CSVs and the Something-Something v2 JSON files. Lines may end in CRLF; blank
lines are ignored.
"""

from __future__ import annotations

import csv
import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from omnibench.errors import OmniBenchError, where

KINETICS_COLUMNS = ("label", "youtube_id", "time_start", "time_end")
# UCF101 class names whose CamelCase split would read oddly.
UCF_NAME_EXCEPTIONS = {
    "YoYo": "yo-yo",
    "HandStandPushups": "handstand pushups",
    "HandstandPushups": "handstand pushups",
    "SkateBoarding": "skateboarding",
    "SkyDiving": "skydiving",
    "Skijet": "jet ski",
}


class AnnotationError(OmniBenchError):
    """A malformed annotation file or line."""


def require_file(path: Path, setting: str) -> Path:
    """``path`` if it is a file, else a one-line error naming it and the setting to change."""
    if not path.is_file():
        raise AnnotationError(f"annotation file not found: {path} (check {setting})")
    return path


def first_file(candidates: list[Path], setting: str) -> Path:
    """The first existing file among ``candidates``, else an error naming the first one."""
    found = next((path for path in candidates if path.is_file()), None)
    if found is None:
        others = ", ".join(str(path) for path in candidates[1:])
        raise AnnotationError(
            f"annotation file not found: {candidates[0]} (nor {others}; check {setting})"
        )
    return found


def read_lines(path: Path) -> Iterator[tuple[int, str]]:
    """``(line_number, text)`` for each non-blank line, CR/LF and BOM stripped."""
    try:
        text = path.read_text(encoding="utf-8-sig")
    except UnicodeDecodeError as error:
        raise AnnotationError(
            f"{path}: not UTF-8 text ({error.reason} at byte {error.start})"
        ) from None
    for number, line in enumerate(text.splitlines(), start=1):
        if line.strip():
            yield number, line.strip()


def parse_int(text: str, path: Path, line: int | None, what: str) -> int:
    """``int(text)`` or an error at ``path:line``."""
    try:
        return int(text)
    except ValueError:
        raise AnnotationError(
            f"{where(path, line)}: {what} must be an integer, got '{text}'"
        ) from None


def check_label(label: int, num_classes: int, path: Path, line: int) -> int:
    """``label`` if it is a known class id, else an "unknown label id" error."""
    if not 0 <= label < num_classes:
        raise AnnotationError(
            f"{where(path, line)}: unknown label id {label} "
            f"(the label file has ids 0..{num_classes - 1})"
        )
    return label


def parse_list_line(text: str, path: Path, line: int) -> tuple[str, int]:
    """``relpath label`` -> (relpath, label); the path may contain spaces."""
    parts = text.rsplit(maxsplit=1)
    if len(parts) != 2:
        raise AnnotationError(f"{where(path, line)}: expected 'relpath label', got '{text}'")
    return parts[0], parse_int(parts[1], path, line, "label")


def parse_list_file(path: Path, num_classes: int) -> list[tuple[str, int, str]]:
    """Lines of a generic list file as ``(relpath, label, "file:line")``."""
    rows = []
    for line, text in read_lines(path):
        relpath, label = parse_list_line(text, path, line)
        rows.append((relpath, check_label(label, num_classes, path, line), where(path, line)))
    return rows


def parse_labels_csv(path: Path) -> tuple[str, ...]:
    """Class names of an ``id,name`` CSV with header; ids must be 0..C-1 in order."""
    rows = list(csv.reader(text for _, text in read_lines(path)))
    if not rows or [cell.strip().lower() for cell in rows[0][:2]] != ["id", "name"]:
        raise AnnotationError(f"{where(path, 1)}: expected the header 'id,name'")
    names: list[str] = []
    for line, row in enumerate(rows[1:], start=2):
        if len(row) != 2:
            raise AnnotationError(f"{where(path, line)}: expected 'id,name', got {','.join(row)!r}")
        if parse_int(row[0].strip(), path, line, "id") != len(names):
            raise AnnotationError(
                f"{where(path, line)}: expected id {len(names)}, got {row[0].strip()}"
            )
        names.append(row[1].strip())
    return tuple(names)


def camel_to_words(name: str) -> str:
    """UCF101 class name to a text prompt: "ApplyEyeMakeup" -> "apply eye makeup"."""
    if name in UCF_NAME_EXCEPTIONS:
        return UCF_NAME_EXCEPTIONS[name]
    return " ".join(re.findall(r"[A-Z]+(?![a-z])|[A-Z]?[a-z]+|\d+", name)).lower()


def parse_ucf_class_index(path: Path) -> tuple[str, ...]:
    """``classInd.txt``: 1-based ``id Name`` lines -> folder names in id order."""
    names: list[str] = []
    for line, text in read_lines(path):
        parts = text.split()
        if len(parts) != 2:
            raise AnnotationError(f"{where(path, line)}: expected 'id ClassName', got '{text}'")
        if parse_int(parts[0], path, line, "class id") != len(names) + 1:
            raise AnnotationError(
                f"{where(path, line)}: expected class id {len(names) + 1}, got {parts[0]}"
            )
        names.append(parts[1])
    return tuple(names)


def parse_ucf_list(path: Path, folders: tuple[str, ...]) -> list[tuple[str, int, str]]:
    """``trainlist0k.txt`` (``Class/v_x.avi id``) or ``testlist0k.txt`` (``Class/v_x.avi`` [id])
    rows."""
    index = {folder: label for label, folder in enumerate(folders)}
    rows = []
    for line, text in read_lines(path):
        parts = text.split()
        if len(parts) not in (1, 2) or "/" not in parts[0]:
            raise AnnotationError(
                f"{where(path, line)}: expected 'Class/video.avi [label]', got '{text}'"
            )
        folder = parts[0].split("/", 1)[0]
        if folder not in index:
            raise AnnotationError(
                f"{where(path, line)}: unknown class '{folder}' (not in classInd.txt)"
            )
        label = index[folder]
        if len(parts) == 2 and parse_int(parts[1], path, line, "label") != label + 1:
            raise AnnotationError(
                f"{where(path, line)}: label {parts[1]} does "
                f"not match class '{folder}' (id {label + 1})"
            )
        rows.append((parts[0], label, where(path, line)))
    return rows


def parse_hmdb_split_file(path: Path, label: int, wanted: int) -> list[tuple[str, int, str]]:
    """An HMDB51 ``<class>_test_split<k>.txt``: rows whose flag (1 train, 2 test, 0 unused) is
    ``wanted``."""
    rows = []
    for line, text in read_lines(path):
        parts = text.split()
        if len(parts) != 2 or parts[1] not in ("0", "1", "2"):
            raise AnnotationError(f"{where(path, line)}: expected 'video.avi 0|1|2', got '{text}'")
        if int(parts[1]) == wanted:
            rows.append((parts[0], label, where(path, line)))
    return rows


def kinetics_filename(row: dict[str, str], path: Path, line: int) -> str:
    """``<youtube_id>_<start:06d>_<end:06d>.mp4`` of one Kinetics CSV row."""
    try:
        start, end = int(float(row["time_start"])), int(float(row["time_end"]))
    except (TypeError, ValueError):
        raise AnnotationError(f"{where(path, line)}: time_start/time_end must be numbers") from None
    return f"{row['youtube_id']}_{start:06d}_{end:06d}.mp4"


def parse_kinetics_csv(path: Path) -> list[tuple[str, str, str]]:
    """Rows of a Kinetics CSV (``label,youtube_id,time_start,time_end,split[,is_cc]``) as (label,
    file, source)."""
    lines = list(read_lines(path))
    reader = csv.DictReader(text for _, text in lines)
    missing = [column for column in KINETICS_COLUMNS if column not in (reader.fieldnames or [])]
    if missing:
        raise AnnotationError(
            f"{where(path, 1)}: missing column(s) {', '.join(missing)} in the header"
        )
    rows = []
    for (line, _), row in zip(lines[1:], reader):
        if None in row or any(row[column] in (None, "") for column in KINETICS_COLUMNS):
            raise AnnotationError(
                f"{where(path, line)}: expected "
                f"{len(reader.fieldnames or [])} comma-separated fields"
            )
        rows.append((row["label"].strip(), kinetics_filename(row, path, line), where(path, line)))
    return rows


def load_json(path: Path) -> Any:
    """Parsed JSON, or an error at the offending ``file:line``."""
    try:
        return json.loads(path.read_text(encoding="utf-8-sig"))
    except json.JSONDecodeError as error:
        raise AnnotationError(f"{where(path, error.lineno)}: invalid JSON ({error.msg})") from None


def ssv2_template_to_class(template: str) -> str:
    """SSv2 template "Putting [something] on a surface" -> label key "Putting something on a
    surface"."""
    return template.replace("[", "").replace("]", "")


def parse_ssv2_labels(path: Path) -> tuple[str, ...]:
    """``labels.json`` (name -> id string) -> class names in id order."""
    mapping = load_json(path)
    if not isinstance(mapping, dict):
        raise AnnotationError(f"{path}: expected a JSON object mapping class name to id")
    ids = {
        name: parse_int(str(value), path, None, f"id of '{name}'")
        for name, value in mapping.items()
    }
    if sorted(ids.values()) != list(range(len(ids))):
        raise AnnotationError(f"{path}: class ids must be 0..{len(ids) - 1} without gaps")
    return tuple(sorted(ids, key=ids.__getitem__))


def parse_ssv2_split(path: Path, classnames: tuple[str, ...]) -> list[tuple[str, int, str]]:
    """``train.json`` / ``validation.json`` entries -> (``<id>.webm``, label, "file:entry")."""
    entries = load_json(path)
    if not isinstance(entries, list):
        raise AnnotationError(f"{path}: expected a JSON list of videos")
    index = {name: label for label, name in enumerate(classnames)}
    rows = []
    for number, entry in enumerate(entries, start=1):
        source = f"{path}:entry{number}"
        if not isinstance(entry, dict) or "id" not in entry or "template" not in entry:
            raise AnnotationError(f"{source}: expected an object with 'id' and 'template'")
        name = ssv2_template_to_class(str(entry["template"]))
        if name not in index:
            raise AnnotationError(f"{source}: unknown label '{name}' (not in labels.json)")
        rows.append((f"{entry['id']}.webm", index[name], source))
    return rows
