"""prompts.txt parsing, prompt banks and the scoring maths."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from slap_edge.prompts import DEFAULT_SECTION, PromptBank, PromptsError, load_bank, load_prompts, parse_prompts
from slap_edge.scoring import class_vectors, cosine_logits, l2_normalize, section_probs, softmax

REPO = Path(__file__).resolve().parents[2]


def test_sections_labels_and_comments() -> None:
    ps = parse_prompts(
        "# c\n[gender]\nfemale = a woman is speaking\nmale=a man is speaking\n\n[age]\na child\nan adult\n"
    )
    assert [s.name for s in ps.sections] == ["gender", "age"]
    assert ps.sections[0].labels == ("female", "male")
    assert ps.sections[0].texts == ("a woman is speaking", "a man is speaking")
    assert ps.sections[1].labels == ("a child", "an adult")  # without '=', the prompt is its own label
    assert ps.section_of_prompt == ["gender", "gender", "age", "age"]


def test_without_sections_all_prompts_compete() -> None:
    ps = parse_prompts("a woman is speaking\na man is speaking\na child is speaking\n")
    assert len(ps.sections) == 1 and ps.sections[0].name == DEFAULT_SECTION and len(ps) == 3


@pytest.mark.parametrize(
    ("text", "line", "fragment"),
    [
        ("", None, "no prompts"),
        ("# only a comment\n\n", None, "no prompts"),
        ("[a]\nx = one\n[b]\ny = two\nz = three\n", 1, "at least two"),
        ("[a]\nx = one\nx = two\n", 3, "duplicate label 'x'"),
        ("[a]\nx = one\ny = " + "w" * 600 + "\n", 3, "at most 500"),
        ("loose prompt\n[a]\nx = 1\ny = 2\n", 1, "outside any section"),
        ("[a]\nx = one\n[a]\ny = 2\n", 3, "appears twice"),
        ("[a]\nx =\ny = 2\n", 2, "no prompt text"),
        ("just one\n", 1, "only one prompt"),
    ],
)
def test_errors_name_file_and_line(tmp_path: Path, text: str, line: int | None, fragment: str) -> None:
    path = tmp_path / "p.txt"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(PromptsError) as err:
        load_prompts(path)
    msg = str(err.value)
    assert fragment in msg
    assert msg.startswith(f"{path}:{line}:" if line else f"{path}:")


def test_not_utf8_names_line(tmp_path: Path) -> None:
    path = tmp_path / "p.txt"
    path.write_bytes(b"a = one\nb = caf\xe9\n")
    with pytest.raises(PromptsError, match=r"p.txt:2: not UTF-8"):
        load_prompts(path)


def test_example_prompt_files_parse() -> None:
    files = sorted((REPO / "slap_edge" / "assets" / "prompts").glob("*.txt"))
    assert len(files) >= 3
    for f in files:
        assert len(load_prompts(f).sections) >= 1


def test_bank_roundtrip_and_refuses_pickles(tmp_path: Path) -> None:
    ps = parse_prompts("[g]\nf = a woman\nm = a man\n[a]\nc = a child\nd = an adult\n")
    emb = l2_normalize(np.random.default_rng(0).normal(size=(4, 8)))
    PromptBank(ps, emb, "model-x").save(tmp_path / "bank.npz")
    bank = load_bank(tmp_path / "bank.npz")
    assert bank.matches(ps) and bank.model_id == "model-x"
    np.testing.assert_allclose(bank.embeddings, emb, atol=1e-6)
    np.savez(tmp_path / "evil.npz", texts=np.array([{"x": 1}], dtype=object))
    with pytest.raises(PromptsError, match="evil.npz"):
        load_bank(tmp_path / "evil.npz")


def test_scoring_maths() -> None:
    p = softmax(np.array([1000.0, 1000.0, -1000.0]))
    np.testing.assert_allclose(p, [0.5, 0.5, 0.0], atol=1e-7)
    assert np.all(l2_normalize(np.zeros((2, 3))) == 0)
    text = l2_normalize(np.array([[1.0, 0.0], [0.0, 1.0], [1.0, 1.0]]))
    audio = np.array([2.0, 0.0])
    np.testing.assert_allclose(cosine_logits(audio, text, 10.0), [10.0, 0.0, 10 / np.sqrt(2)], rtol=1e-6)
    probs = section_probs(audio, text, {"a": np.array([0, 1]), "b": np.array([2])}, 10.0)
    np.testing.assert_allclose(probs["a"], softmax(np.array([10.0, 0.0])), rtol=1e-6)
    assert probs["b"].tolist() == [1.0]
    names, vecs = class_vectors(np.array([[1.0, 0], [0.8, 0.6], [0, 1.0]]), ["x", "x", "y"])
    assert names == ["x", "y"]
    np.testing.assert_allclose(np.linalg.norm(vecs, axis=1), 1.0, rtol=1e-6)
    assert vecs[0, 0] > vecs[0, 1] > 0
