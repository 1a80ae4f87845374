"""The README states the defaults table that the code uses."""
import os

from models.variants import markdown_table

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def test_readme_defaults_table_is_the_code_table():
    with open(os.path.join(ROOT, "README.md")) as f:
        assert markdown_table() in f.read(), "run `python -m models.variants` and paste the table"
