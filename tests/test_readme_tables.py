"""The README's result tables are the committed result files' tables."""

from experiments.readme_tables import ROOT, documents, render


def test_readme_tables_equal_the_committed_result_files():
    readme = (ROOT / "README.md").read_text()
    assert readme.count("<!-- table: ") >= 3
    for path in documents():
        text = path.read_text()
        assert render(text) == text, f"{path}: run python -m experiments.readme_tables"


def test_render_fills_a_block_from_its_file(tmp_path):
    (tmp_path / "t.md").write_text("| a | b |\n|---|---|\n| 1 | 2 |\n\nnote\n")
    text = "x\n<!-- table: t.md -->\nold\n<!-- /table -->\ny\n"
    assert render(text, tmp_path) == (
        "x\n<!-- table: t.md -->\n| a | b |\n|---|---|\n| 1 | 2 |\n<!-- /table -->\ny\n")


def test_two_tables_of_one_file_stay_two_tables(tmp_path):
    (tmp_path / "t.md").write_text("| a |\n|---|\n| 1 |\n\nnote\n\n| b |\n|---|\n| 2 |\n\nmore\n")
    text = "<!-- table: t.md -->\n<!-- /table -->\n"
    assert render(text, tmp_path) == (
        "<!-- table: t.md -->\n| a |\n|---|\n| 1 |\n\n| b |\n|---|\n| 2 |\n<!-- /table -->\n")
