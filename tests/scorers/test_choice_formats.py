"""Every option label the generators emit is read back by the ``choice`` scorer (issue 9).

The ``formats`` generator writes ``a)``, ``(a)``, ``[A]``, ``A:`` ... and ``shuffle_options``
relabels lines in the style it finds. A model that answers in the style of its prompt (copying the
option's line, its label, the prompt's own answer line, or just the option's text) must be scored
by the option it picked: the right letter, and never another one. Before the fix a lower-case
label ("b) Jupiter") extracted nothing, so a correct answer counted as wrong.
"""

from __future__ import annotations

import random
import re

import jinja2
from hypothesis import given, settings
from hypothesis import strategies as st

from tailgate.perturb._builtin import ShuffleOptions
from tailgate.perturb._formats import GRAMMAR, FieldSpec, Formats
from tailgate.records import Item
from tailgate.scorers import choice_letter
from tailgate.scorers._builtin import Choice
from tailgate.text import normalize_text

LETTERS = "ABCDEFGHIJ"
ENV = jinja2.Environment(undefined=jinja2.StrictUndefined)
CHOICE = Choice(Choice.Params())

# option texts, some of them traps for a letter parser: an article, a pronoun, a lone capital
VOCAB = (
    "Mars", "Jupiter", "Venus", "Mercury", "Paris", "Madrid", "Carbon dioxide", "Oxygen", "Helium",
    "H2O", "42", "3.5", "A cat", "I robot", "E coli", "Be", "Ice", "Answer", "Option two", "a dog",
    "Zoë", "Ångström", "none of the above", "All of them", "Dog (canine)", "[x]", "B-52",
)  # fmt: skip
OPTIONS = st.lists(st.sampled_from(VOCAB), min_size=2, max_size=6, unique_by=normalize_text)
FORMAT = st.fixed_dictionaries({key: st.sampled_from(values) for key, values in GRAMMAR.items()})
# how a model answers, given the option's label, its text and the prompt's answer line
STYLES = (
    "{label} {text}",
    "{label}",
    " {label} {text}\n",
    "{prefix} {label}",
    "{prefix} {label} {text}",
    "**{label}** {text}",
    "**{label} {text}**",
    "The answer is {label}",
    "The answer is {label} {text}.",
    "I think the answer is {label}",
    "Answer: {label}",
    "Sure!\n{label} {text}",
)


def _label(enumerator: str, index: int) -> str:
    letter = LETTERS[index].lower() if any(c.islower() for c in enumerator) else LETTERS[index]
    return re.sub("[A-Za-z]", letter, enumerator)


@settings(max_examples=100, deadline=None)
@given(FORMAT, OPTIONS, st.data())
def test_answers_in_the_style_of_a_generated_format_are_read(
    fmt: dict[str, str], options: list[str], data: st.DataObject
) -> None:
    impl = Formats(
        Formats.Params(
            layout=[FieldSpec(field="question", label="Question")],
            options="options",
            instruction="Answer with the letter of the correct option only.",
        )
    )
    template = impl._template("format1", fmt)
    prompt = ENV.from_string(template.text or "").render(question="Which one is right?", options=options)
    prefix = prompt[prompt.lower().rindex("answer") :]  # the prompt's answer line, e.g. "ANSWER ="
    index = data.draw(st.integers(0, len(options) - 1), label="right option")
    label, text = _label(fmt["enumerator"], index), options[index]
    assert f"{label} {text}" in prompt  # the label the generator really wrote
    item = Item("x", {"question": "Which one is right?", "options": options}, LETTERS[index])
    for style in STYLES:
        answer = style.format(label=label, text=text, prefix=prefix)
        assert choice_letter(answer) == LETTERS[index], (answer, prompt)
        assert CHOICE.score(answer, item).value == 1.0, (answer, prompt)
        for wrong in set(LETTERS[: len(options)]) - {LETTERS[index]}:
            assert CHOICE.score(answer, Item("x", item.input, wrong)).value == 0.0, (answer, wrong)
    assert CHOICE.score(text, item).value == 1.0  # the option's text alone


@settings(max_examples=100, deadline=None)
@given(st.sampled_from(GRAMMAR["enumerator"]), OPTIONS, st.integers(0, 5), st.integers(0, 2**32 - 1))
def test_answers_copied_from_shuffled_option_lines_are_read(
    enumerator: str, options: list[str], right: int, seed: int
) -> None:
    right %= len(options)
    block = "\n".join(f"{_label(enumerator, i)} {o}" for i, o in enumerate(options))
    question = f"Which one is right?\n{block}\nAnswer with the letter."
    letter = _label(enumerator, right).strip("()[].:")
    shuffled, reference = ShuffleOptions(ShuffleOptions.Params()).apply(
        {"question": question}, ["question"], letter, random.Random(seed)
    )
    assert shuffled["question"] != question, "shuffle_options must recognise every generated label style"
    line = next(x for x in shuffled["question"].splitlines() if x.endswith(f" {options[right]}"))
    item = Item("x", shuffled, reference)
    assert choice_letter(line) == reference.upper()
    assert CHOICE.score(line, item).value == 1.0
    assert CHOICE.score(options[right], item).value == 1.0  # the text alone, options read from the lines


_PROSE_WORD = st.one_of(
    st.text("abcdefghijklmnopqrstuvwxyz", min_size=2, max_size=9),
    st.text("abcdefghijklmnopqrstuvwxyz", min_size=2, max_size=9).map(str.capitalize),
    st.sampled_from(["e.g.", "i.e.", "a", "an", "the", "I'm", "it's", "I", "A"]),
)


@settings(max_examples=200, deadline=None)
@given(st.lists(_PROSE_WORD, min_size=3, max_size=12), st.sampled_from(["", ".", "!", "?"]))
def test_prose_without_a_label_picks_no_letter(words: list[str], end: str) -> None:
    # "a", "A" and "I" before a word are the article and the pronoun, not options
    text = " ".join(f"{w} word" if w in ("a", "A", "I") else w for w in words) + end
    assert choice_letter(text) is None, text
