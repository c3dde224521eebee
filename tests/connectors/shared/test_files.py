"""Reading input files: what is wrong is named with the file and the line."""

from __future__ import annotations

from pathlib import Path

import pytest

from iam_gov.connectors.shared.files import BadFile, json_documents, read_source_text


def test_several_json_documents_one_after_the_other(tmp_path: Path) -> None:
    text = '[{"id": 1}]\n\n[{"id": 2}]\n{"page": 3}\n'

    assert json_documents(text, tmp_path / "users.json") == [[{"id": 1}], [{"id": 2}], {"page": 3}]


def test_bad_json_is_named_at_its_line(tmp_path: Path) -> None:
    with pytest.raises(BadFile) as caught:
        json_documents('[{"id": 1}]\n[{"id": 2},\n', tmp_path / "users.json")

    assert str(caught.value).startswith(f"{tmp_path / 'users.json'}:3: not valid JSON (")
    problem = caught.value.as_problem(record="page 2")
    assert (problem.line, problem.record, problem.source) == (3, "page 2", str(caught.value.path))


def test_a_second_document_where_one_is_expected(tmp_path: Path) -> None:
    with pytest.raises(BadFile, match=r"policy.json:2: unexpected data after the JSON document"):
        json_documents("{}\n{}\n", tmp_path / "policy.json", single=True)


def test_text_in_another_encoding_names_the_byte(tmp_path: Path) -> None:
    path = tmp_path / "users.json"
    path.write_bytes(b'{"name": "M\xfcller"}')

    with pytest.raises(BadFile, match=r"users.json: not UTF-8 text \(byte 11\)"):
        read_source_text(path, "Okta API JSON")


def test_a_missing_file_says_what_it_should_have_been(tmp_path: Path) -> None:
    with pytest.raises(BadFile, match=r"users.json: no such file \(Okta API JSON\)"):
        read_source_text(tmp_path / "users.json", "Okta API JSON")
