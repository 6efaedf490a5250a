"""The one table writer: Markdown lines, mean ± std cells, CSV text."""

from jtsgen.evaluate import tables


def test_markdown_has_a_header_a_rule_and_one_line_per_row():
    assert tables.markdown(["a", "b"], [["1", "2"], ["3", ""]]) == [
        "| a | b |", "|---|---|", "| 1 | 2 |", "| 3 |  |"]


def test_a_cell_shows_the_spread_only_over_several_runs():
    assert tables.cell(0.81234, 0.0131, 3) == "0.812 ± 0.013"
    assert tables.cell(0.81234, 0.0, 1) == "0.812"


def test_csv_quotes_strings_and_writes_numbers_exactly():
    text = tables.csv(["name", "f1"], [{"name": "SR-CNN", "f1": 0.25, "extra": 1}])
    assert text == 'name,f1\n"SR-CNN",0.25\n'
