"""The README states the defaults table that the code uses."""
import os

from models.variants import markdown_table, toy_markdown_table

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def test_readme_defaults_table_is_the_code_table():
    with open(os.path.join(ROOT, "README.md")) as f:
        readme = f.read()
    for table in (markdown_table(), toy_markdown_table()):
        assert table in readme, "run `python -m models.variants` and paste the tables"


def test_readme_model_example_trains():
    """The Keras idiom shown under "The models" runs as written (2 steps instead of 500)."""
    with open(os.path.join(ROOT, "README.md")) as f:
        readme = f.read()
    example = readme[readme.index("### The models"):]
    example = example[example.index("```python\n") + 10:]
    example = example[:example.index("```")]
    assert "steps_per_epoch=500" in example
    namespace = {}
    exec(example.replace("steps_per_epoch=500", "steps_per_epoch=2"), namespace)  # noqa: S102
    assert int(namespace["gan"].step.numpy()) == 2
