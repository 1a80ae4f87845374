"""The README and the pages under docs/ say what the code does.

- every relative link and image points to a file of the project (and every #anchor to a heading
  or an `<a id>` of that page); no page cites a path outside the project;
- the defaults tables of docs/variants.md are the ones `python -m models.variants` prints, and
  docs/options.md's table the one `python -m training.config` prints;
- the commands the pages show that run in seconds are run (`python -m models.variants`,
  `python train.py --helpfull`, `python eval.py --help`); every other `python ...` command is
  checked to name a module or script that exists and only flags that it defines;
- the Python example of "The models" trains as written (2 steps instead of 500).
"""
import contextlib
import glob
import importlib.util
import io
import os
import re
import runpy
import subprocess
import sys
import warnings

import pytest

from models.variants import markdown_table, toy_markdown_table
from training.config import markdown_table as options_table

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
PROJECT_PACKAGES = ("models", "losses", "data", "training", "metrics", "experiments", "benchmarks")
ABSL_FLAGS = {"help", "helpfull", "helpshort", "helpxml", "flagfile", "undefok", "verbosity", "v",
              "logtostderr", "alsologtostderr", "log_dir", "only_check_args"}


def pages():
    """README.md and every docs/*.md, as {path relative to ROOT: text}."""
    paths = ["README.md"] + sorted(os.path.relpath(p, ROOT)
                                   for p in glob.glob(os.path.join(ROOT, "docs", "*.md")))
    texts = {}
    for path in paths:
        with open(os.path.join(ROOT, path), encoding="utf-8") as f:
            texts[path] = f.read()
    return texts


PAGES = pages()


def test_the_docs_pages_exist():
    for page in ("variants", "options", "augment", "data", "results", "speed", "reliability",
                 "distributed", "evaluation", "export", "keras_traps"):
        assert f"docs/{page}.md" in PAGES, f"docs/{page}.md is missing"


# === Links ===

LINK = re.compile(r"!?\[(?:[^\[\]]|\[[^\]]*\])*\]\(([^()\s]+)(?:\s+\"[^\"]*\")?\)")


def strip_code(text):
    """The text without fenced code blocks and inline code spans (which hold no links)."""
    text = re.sub(r"^```.*?^```", "", text, flags=re.S | re.M)
    return re.sub(r"`[^`\n]*`", "", text)


def anchors(text):
    """The #anchors a page defines: GitHub's heading slugs and explicit <a id="...">."""
    found = set(re.findall(r'<a id="([^"]+)"', text))
    for heading in re.findall(r"^#{1,6}\s+(.+?)\s*$", strip_fenced(text), flags=re.M):
        slug = re.sub(r"[^\w\- ]", "", heading.replace("`", "").lower()).replace(" ", "-")
        found.add(slug)
    return found


def strip_fenced(text):
    return re.sub(r"^```.*?^```", "", text, flags=re.S | re.M)


def links(text):
    return LINK.findall(strip_code(text))


def test_pages_have_links_to_check():
    """The link checks below see the links (a broken pattern would pass every page)."""
    assert len(links(PAGES["README.md"])) >= 10
    assert any(target.endswith(".png") for target in links(PAGES["README.md"]))


@pytest.mark.parametrize("page", sorted(PAGES))
def test_every_relative_link_points_to_a_file_and_anchor_that_exist(page):
    broken = []
    for target in links(PAGES[page]):
        if re.match(r"^[a-z]+:", target):        # http:, https:, mailto:
            continue
        path, _, anchor = target.partition("#")
        resolved = os.path.normpath(os.path.join(ROOT, os.path.dirname(page), path)) if path \
            else os.path.join(ROOT, page)
        if not resolved.startswith(ROOT + os.sep) or not os.path.exists(resolved):
            broken.append(f"{target}: no such file")
        elif anchor and resolved.endswith(".md"):
            with open(resolved, encoding="utf-8") as f:
                if anchor not in anchors(f.read()):
                    broken.append(f"{target}: no heading or <a id> '{anchor}' there")
    assert not broken, f"{page}: " + "; ".join(broken)


@pytest.mark.parametrize("page", sorted(PAGES))
def test_no_page_cites_a_path_outside_the_project(page):
    outside = re.findall(r"\.\./shared\S*|(?<![\w.])/(?:work|home|root|tmp)/\S+", PAGES[page])
    assert not outside, f"{page} cites paths outside the project: {outside}"


# === Commands ===

def command_lines():
    """Every `python ...` command of the pages: the lines of ```bash blocks (continuations
    joined, comments dropped, `&&` / `;` split) and inline code spans that start with python."""
    found = []
    for page, text in PAGES.items():
        for block in re.findall(r"^```(?:bash|sh)\n(.*?)^```", text, flags=re.S | re.M):
            for line in block.replace("\\\n", " ").splitlines():
                for part in re.split(r"&&|;|\|\|", line.split(" #")[0]):
                    if part.strip().startswith("python "):
                        found.append((page, part.strip()))
        for span in re.findall(r"`(python [^`\n]+)`", strip_fenced(text)):
            found.append((page, span.strip()))
    return found


COMMANDS = command_lines()


def parse(command):
    """(kind, name, flags): kind "module" (python -m X) or "script" (python X.py)."""
    words = command.split()[1:]
    if words[0] == "-m":
        kind, name, rest = "module", words[1], words[2:]
    else:
        kind, name, rest = "script", words[0], words[1:]
    flag_names = []
    for word in rest:
        word = word.strip("[]")
        if word.startswith("--"):
            flag_names.append(word[2:].split("=")[0].replace("[no]", "").rstrip("]"))
    return kind, name, flag_names


def test_the_pages_show_commands_to_check():
    names = {parse(c)[1] for _, c in COMMANDS}
    assert {"train.py", "eval.py", "sample.py", "models.variants"} <= names, names
    assert len(COMMANDS) >= 40


def run(args):
    """Starts `python args...` in the project root; returns the Popen."""
    env = dict(os.environ, PYTHONPATH=ROOT + os.pathsep + os.environ.get("PYTHONPATH", ""))
    return subprocess.Popen([sys.executable] + args, cwd=ROOT, env=env, text=True,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)


@pytest.fixture(scope="module")
def ran():
    """The quick commands the pages show, run side by side: {command: (status, output)}."""
    commands = {"python train.py --helpfull": ["train.py", "--helpfull"],
                "python eval.py --help": ["eval.py", "--help"],
                "python sample.py --helpfull": ["sample.py", "--helpfull"]}
    processes = {c: run(args) for c, args in commands.items()}
    # This one defines no flags, so it runs here, as __main__, on the TensorFlow already loaded.
    printed = io.StringIO()
    with contextlib.redirect_stdout(printed), warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)   # models.variants is already imported
        runpy.run_module("models.variants", run_name="__main__")
    results = {"python -m models.variants": (0, printed.getvalue())}
    for command, process in processes.items():
        out, err = process.communicate(timeout=120)
        results[command] = (process.returncode, out + err)
    return results


def shown(command):
    return any(c == command for _, c in COMMANDS)


def test_the_quick_commands_shown_run(ran):
    for command in ("python -m models.variants", "python train.py --helpfull",
                    "python eval.py --help"):
        assert shown(command), f"the pages no longer show `{command}`: update this test"
        status, out = ran[command]
        # absl's --help and --helpfull print the flags and exit with status 1.
        assert status in (0, 1) and "Traceback" not in out, f"`{command}` failed:\n{out}"


def test_variants_page_holds_the_tables_the_command_prints(ran):
    """docs/variants.md holds, byte for byte, the tables `python -m models.variants` prints."""
    page = PAGES["docs/variants.md"]
    for table in (markdown_table(), toy_markdown_table()):
        assert table in page, "run `python -m models.variants` and paste the tables into docs/variants.md"
    printed = ran["python -m models.variants"][1]
    for table in printed.split("\n\n"):
        table = "\n".join(line for line in table.splitlines() if line.startswith("|"))
        if table:
            assert table in page, "docs/variants.md differs from `python -m models.variants`"


def script_flags(ran):
    """The flags train.py, eval.py and sample.py define, read from their --help output."""
    found = {}
    for script, command in (("train.py", "python train.py --helpfull"),
                            ("eval.py", "python eval.py --help"),
                            ("sample.py", "python sample.py --helpfull")):
        names = set(re.findall(r"^\s+--(?:\[no\])?([\w-]+)", ran[command][1], flags=re.M))
        assert "workdir" in names or "saved_model" in names, ran[command][1]
        found[script] = names | ABSL_FLAGS
    return found


def module_file(name):
    spec = importlib.util.find_spec(name)
    return spec.origin if spec else None


def defined_flags(path, seen=None):
    """Flag names DEFINEd in a project source file or in the project modules it imports."""
    seen = set() if seen is None else seen
    if path in seen or not path or not os.path.exists(path):
        return set()
    seen.add(path)
    with open(path, encoding="utf-8") as f:
        source = f.read()
    names = set(re.findall(r"DEFINE_\w+\(\s*[\"'](\w+)[\"']", source))
    for package, imported in re.findall(r"^\s*from\s+([\w.]+)\s+import\s+([\w, ]+)", source,
                                        flags=re.M):
        if package.split(".")[0] in PROJECT_PACKAGES:
            names |= defined_flags(module_file(package), seen)
            for name in imported.replace(" ", "").split(","):
                candidate = os.path.join(ROOT, *package.split("."), name + ".py")
                names |= defined_flags(candidate, seen)
    for package in re.findall(r"^\s*import\s+([\w.]+)", source, flags=re.M):
        if package.split(".")[0] in PROJECT_PACKAGES:
            names |= defined_flags(module_file(package), seen)
    return names


def unknown(flag_names, defined):
    return [f for f in flag_names
            if f not in defined and not (f.startswith("no") and f[2:] in defined)]


def test_options_page_holds_the_table_of_every_setting():
    """docs/options.md holds, byte for byte, the table `python -m training.config` prints."""
    assert options_table() in PAGES["docs/options.md"], (
        "run `python -m training.config` and paste the table into docs/options.md")


def test_every_command_names_a_module_or_script_that_exists_and_its_flags(ran):
    scripts = script_flags(ran)
    problems = []
    for page, command in COMMANDS:
        kind, name, flag_names = parse(command)
        if kind == "script":
            if name not in scripts:
                problems.append(f"{page}: `{command}`: no script {name} is checked")
                continue
            defined = scripts[name]
        else:
            path = module_file(name)
            if path is None:
                problems.append(f"{page}: `{command}`: no module {name}")
                continue
            if name.split(".")[0] not in PROJECT_PACKAGES:
                continue                       # pytest and the like: not ours to check
            defined = defined_flags(path) | ABSL_FLAGS
        bad = unknown(flag_names, defined)
        if bad:
            problems.append(f"{page}: `{command}`: {name} defines no --{', --'.join(bad)}")
    assert not problems, "\n".join(problems)


def test_the_flag_check_can_fail(ran):
    scripts = script_flags(ran)
    assert unknown(["model", "nojit_compile", "toy_defaults"], scripts["train.py"]) == []
    assert unknown(["no_such_flag"], scripts["train.py"]) == ["no_such_flag"]
    assert module_file("experiments.no_such_experiment") is None
    assert "quick" in defined_flags(module_file("experiments.js_vs_em"))


# === The example ===

def _model_example():
    readme = PAGES["README.md"]
    example = readme[readme.index("## The models"):]
    example = example[example.index("```python\n") + 10:]
    example = example[:example.index("```")]
    assert "epochs=10" in example and 'np.load("data/mnist_5k.npz")' in example
    # Two steps instead of 10 epochs: the first 2 batches of digits, once.
    return (example.replace("epochs=10", "epochs=1")
            .replace('np.load("data/mnist_5k.npz")', 'dict(np.load("data/mnist_5k.npz"))')
            .replace("labels = digits", "x = x[:2 * variant.batch_size]\nlabels = digits")
            .replace('.astype("int32")', '[:2 * variant.batch_size].astype("int32")'))


def test_readme_model_example_trains():
    """The Keras idiom shown under "The models" runs as written (2 steps instead of 10 epochs),
    here on TensorFlow."""
    namespace = {}
    cwd = os.getcwd()
    os.chdir(ROOT)
    try:
        exec(_model_example(), namespace)  # noqa: S102
    finally:
        os.chdir(cwd)
    assert int(namespace["gan"].step.numpy()) == 2


def test_readme_model_example_trains_on_jax_without_tensorflow():
    """The same example on JAX, in a process where TensorFlow cannot be imported."""
    code = ("import sys; sys.path.insert(0, 'tests'); import parity; "
            "sys.meta_path.insert(0, parity.HiddenTensorFlow())\n" + _model_example()
            + "\nassert int(gan.step.numpy()) == 2, gan.step.numpy()\nprint('trained')")
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True,
                         timeout=300, env=dict(os.environ, KERAS_BACKEND="jax", PYTHONPATH=ROOT))
    assert out.returncode == 0 and "trained" in out.stdout, out.stderr[-3000:]


TEST_REFERENCE = re.compile(r"`(?:tests/)?(test_\w+\.py)::(test_\w+)`")


def test_every_test_a_page_names_exists():
    """A page that says which test proves a behaviour names a test that is there."""
    named = [(page, m) for page, text in PAGES.items() for m in TEST_REFERENCE.findall(text)]
    assert len(named) >= 8
    for page, (file, name) in named:
        path = os.path.join(ROOT, "tests", file)
        assert os.path.exists(path), f"{page} names {file}, which is not in tests/"
        with open(path) as f:
            assert re.search(rf"^def {name}\(", f.read(), re.M), f"{page} names {file}::{name}"
